//! The rollup repair on a cluster: another instance's rows reach this
//! replica part by part, the raw table's before its rollup's; a repair that
//! compared them then would count those rows twice.

use touchpoint::storage::migrations::{self, Migration};
use touchpoint::storage::rows::{Event, FeedbackRow};

use super::launcher::Cluster;
use super::{count, storage, synced};
use crate::rollup_repair::{rating, ship, spool_offline};
use crate::support::{ago, insert_rows, scratch, unique_database};

#[tokio::test]
async fn a_repair_waits_for_its_replica_to_fetch_the_other_instances_rollup_parts() {
    let cluster = Cluster::start(&scratch("cluster"), 1, 2);
    let db = unique_database();
    let (one, two) = (storage(&cluster, 0, &db), storage(&cluster, 1, &db));
    one.ensure_database().await.unwrap();
    migrations::run(&one, &Migration::embedded()).await.unwrap();
    let yesterday = (ago(86_400).0 / 86_400) * 86_400 + 3_600;
    let ratings = |from: u32, n: u32| -> Vec<FeedbackRow> {
        (from..from + n).map(|i| rating(yesterday + i, 1 + (i % 5) as u8, None)).collect()
    };
    // Another instance's ten ratings through the first replica: the second
    // fetches their rows but not yet their rollup part.
    synced(&two, "feedback_daily").await;
    two.client().query("SYSTEM STOP FETCHES feedback_daily").execute().await.unwrap();
    insert_rows(&one, "feedback", &ratings(0, 10)).await;
    synced(&two, "feedback").await;
    // This instance's five were stored through the second replica, but the
    // answer was lost: they wait in its spool, whose replay finds them stored
    // and so runs a repair.
    let ours = ratings(100, 5);
    let dir = scratch("cluster-repair");
    spool_offline(&dir, ours.iter().cloned().map(Event::Feedback).collect()).await;
    insert_rows(&two, "feedback", &ours).await;
    let fetching = {
        let two = super::storage(&cluster, 1, &db);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            two.client().query("SYSTEM START FETCHES feedback_daily").execute().await.unwrap();
        })
    };

    ship(&two, &dir).await;

    fetching.await.unwrap();
    for storage in [&one, &two] {
        synced(storage, "feedback_daily").await;
        assert_eq!(count(storage, "SELECT count() FROM feedback").await, 15);
        assert_eq!(count(storage, "SELECT toUInt64(sum(n)) FROM feedback_daily").await, 15, "each rating once");
    }
}

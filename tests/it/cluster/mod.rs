//! The service on a replicated cluster (issue 17): ZooKeeper and two
//! ClickHouse 18.16 replicas of one shard, started by the test.

pub mod launcher;
mod repair;

use serde_json::json;
use touchpoint::storage::Storage;
use touchpoint::storage::migrations::{self, Migration};
use touchpoint::storage::rows::TimingRow;
use uuid::Uuid;

use crate::support::{ago, scratch, service_tables, spawn_app_with, test_config, unique_database};

use launcher::{CLUSTER, Cluster};

/// `offers.kind` as migration 0022 leaves it.
const OFFER_KIND: &str = "Enum8('shown' = 1, 'opened' = 2, 'sent' = 3, 'call' = 4)";

fn storage(cluster: &Cluster, replica: usize, database: &str) -> Storage {
    Storage::new(&cluster.replicas[replica].endpoint(), database).on_cluster(Some(CLUSTER.into()))
}

/// A task timing of the application stage an hour ago, as a row.
fn timing(duration_ms: u64) -> TimingRow {
    let (at, _) = ago(3600);
    TimingRow {
        event_id: Uuid::new_v4(),
        occurred_at: at,
        received_at: at,
        site: "demo".into(),
        journey: "scrap-metal-licensing".into(),
        stage: "application".into(),
        touchpoint: "epgu".into(),
        channel: "epgu".into(),
        segment: 1,
        measure: 2,
        source: 1,
        duration_ms,
        session_id: String::new(),
        page_path: String::new(),
    }
}

/// Waits until `replica` has fetched everything the others wrote to `table`.
async fn synced(storage: &Storage, table: &str) {
    storage.client().query(&format!("SYSTEM SYNC REPLICA {table}")).execute().await.unwrap();
}

/// Every column of the service's tables as this server has it: name and type.
async fn columns(storage: &Storage) -> Vec<(String, String, String)> {
    let sql = "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() ORDER BY table, name";
    storage.client().query(sql).fetch_all().await.unwrap()
}

async fn count(storage: &Storage, sql: &str) -> u64 {
    storage.client().query(sql).fetch_one().await.unwrap()
}

#[tokio::test]
async fn the_migrations_make_every_table_replicated_once_for_the_whole_cluster() {
    let cluster = Cluster::start(&scratch("cluster"), 1, 2);
    let db = unique_database();
    let (one, two) = (storage(&cluster, 0, &db), storage(&cluster, 1, &db));
    one.ensure_database().await.unwrap();
    let all = Migration::embedded();

    let report = migrations::run(&one, &all).await.unwrap();

    assert_eq!(report.applied.len(), all.len());
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Table {
        name: String,
        engine: String,
    }
    let sql = "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name";
    let tables: Vec<Table> = two.client().query(sql).fetch_all().await.unwrap();
    let (twins, own): (Vec<&Table>, Vec<&Table>) = tables.iter().partition(|t| t.name.ends_with("_all"));
    let names: Vec<&str> = own.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, service_tables(), "every table on the other replica too");
    for t in &own {
        let view = t.engine == "MaterializedView" || t.engine == "View";
        assert!(t.engine.starts_with("Replicated") || view, "{}: {}", t.name, t.engine);
    }
    // Each event table has a twin that reads every shard.
    let mut sharded: Vec<String> = touchpoint::storage::cluster::SHARDED.iter().map(|t| format!("{t}_all")).collect();
    sharded.sort();
    assert_eq!(twins.iter().map(|t| t.name.clone()).collect::<Vec<_>>(), sharded);
    assert!(twins.iter().all(|t| t.engine == "Distributed"));
    // The BI database on the other server too, showing the server's dictionaries.
    let sql = "SELECT engine FROM system.databases WHERE name = ?";
    let bi: String = two.client().query(sql).bind(touchpoint::storage::bi::database_of(&db)).fetch_one().await.unwrap();
    assert_eq!(bi, "Dictionary");
    // Each ALTER, sent to one server, reached the other by replication, none
    // through the DDL queue, whose once-per-shard lock races on 18.16.
    let queued = "SELECT count() FROM system.zookeeper WHERE path = '/clickhouse/task_queue/ddl' \
                  AND position(value, 'ALTER TABLE') > 0";
    assert_eq!(count(&one, queued).await, 0);
    assert!(count(&one, &queued.replace("ALTER TABLE", "CREATE TABLE")).await > 0, "the queue is read");
    let kinds = columns(&two).await;
    assert!(kinds.contains(&("offers".into(), "kind".into(), OFFER_KIND.into())), "{kinds:?}");
    assert_eq!(columns(&one).await, kinds);
    // Recorded once for the whole cluster: the other replica has nothing to do.
    synced(&two, "schema_migrations").await;
    let again = migrations::run(&two, &all).await.unwrap();
    assert_eq!(again, migrations::Report { applied: vec![], already: all.len() });
    assert_eq!(count(&two, "SELECT count() FROM schema_migrations").await, all.len() as u64);
}

#[tokio::test]
async fn with_a_replica_down_migrations_run_and_an_alter_reaches_it_when_it_is_back() {
    let mut cluster = Cluster::start(&scratch("cluster"), 1, 2);
    let db = unique_database();
    let (one, two) = (storage(&cluster, 0, &db), storage(&cluster, 1, &db));
    one.ensure_database().await.unwrap();
    let mut all = Migration::embedded();
    migrations::run(&one, &all).await.unwrap();

    cluster.replicas[1].kill();
    // Down for good once its ZooKeeper session ends (6 s); before that, the
    // ALTER would wait replication_alter_columns_timeout (60 s) for it.
    let active = format!(
        "SELECT count() FROM system.zookeeper WHERE path = '/clickhouse/tables/all/{db}/analysts/replicas/s1r2' \
         AND name = 'is_active'"
    );
    until("the replica to be seen down", 30, async || count(&one, &active).await == 0).await;
    let sql = "ALTER TABLE analysts ADD COLUMN team String DEFAULT ''";
    all.push(Migration::new("9001_team.sql", sql).unwrap());
    // What an instance does at start, with nothing that waits for every server;
    // 18.16 answers the ALTER with code 341 (left to the replica that is down).
    one.ensure_database().await.unwrap();
    let report = migrations::run(&one, &all).await.unwrap();
    assert_eq!(report.applied, ["9001_team.sql"]);

    cluster.replicas[1].resume();
    until("the replica that was down to apply the ALTER", 60, async || {
        columns(&two).await.contains(&("analysts".into(), "team".into(), "String".into()))
    })
    .await;
}

#[tokio::test]
async fn a_block_inserted_twice_on_either_replica_is_stored_and_rolled_up_once() {
    let cluster = Cluster::start(&scratch("cluster"), 1, 2);
    let db = unique_database();
    let (one, two) = (storage(&cluster, 0, &db), storage(&cluster, 1, &db));
    one.ensure_database().await.unwrap();
    migrations::run(&one, &Migration::embedded()).await.unwrap();
    let block: Vec<TimingRow> = (0..3).map(|k| timing(60_000 * (k + 1))).collect();
    // A spool replay after a lost answer, then another instance's retry elsewhere.
    for storage in [&one, &one, &two] {
        crate::support::insert_rows(storage, "timings", &block).await;
    }
    for storage in [&one, &two] {
        synced(storage, "timings").await;
        synced(storage, "stage_time_daily").await;
        assert_eq!(count(storage, "SELECT count() FROM timings").await, 3);
        assert_eq!(count(storage, "SELECT toUInt64(countMerge(n)) FROM stage_time_daily").await, 3, "rolled up once");
    }
}

#[tokio::test]
async fn events_posted_through_two_instances_land_once_and_read_the_same_from_either() {
    let cluster = Cluster::start(&scratch("cluster"), 1, 2);
    let (db, first, second) = two_instances_posting(&cluster).await;
    let analyst = crate::support::analyst_token(&first.storage).await;
    let storages = [storage(&cluster, 0, &db), storage(&cluster, 1, &db)];
    for storage in &storages {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while count(storage, "SELECT count() FROM feedback").await < 20 {
            assert!(std::time::Instant::now() < deadline, "both instances' events reach every replica");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        synced(storage, "feedback_daily").await;
        assert_eq!(count(storage, "SELECT toUInt64(sum(n)) FROM feedback_daily").await, 20);
    }
    synced(&storages[1], "api_tokens").await;
    let (a, b) = (first.stats(&analyst, "period=7").await, second.stats(&analyst, "period=7").await);
    assert_eq!(a["stages"][2]["n"], 20, "{a}");
    assert_eq!(a["stages"], b["stages"], "either instance reads the same");
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn every_kind_retried_through_the_instance_on_the_other_replica_is_stored_and_counted_once() {
    use crate::exactly_once::{ONCE, assert_counts, events, retried_through_both};
    let cluster = Cluster::start(&scratch("cluster"), 1, 2);
    let db = unique_database();
    let first = spawn_app_with(cluster_config(&cluster, 0, &db)).await;
    let mut config = cluster_config(&cluster, 1, &db);
    config.background_jobs = false;
    let second = spawn_app_with(config).await;
    let events = events(&first).await;

    retried_through_both(&first, &second, &events).await;

    for replica in 0..2 {
        let storage = storage(&cluster, replica, &db);
        for table in ["feedback", "timings", "calls", "correspondence", "cases", "feedback_daily", "calls_daily"] {
            synced(&storage, table).await;
        }
        assert_counts(&storage, &ONCE).await;
    }
    first.stop().await;
    second.stop().await;
}

fn cluster_config(cluster: &Cluster, replica: usize, database: &str) -> touchpoint::config::Config {
    let mut config = test_config();
    config.clickhouse.url = Some(cluster.replicas[replica].url());
    (config.clickhouse.user, config.clickhouse.password) = ("default".into(), Default::default());
    config.clickhouse.database = database.to_string();
    config.clickhouse.cluster = Some(CLUSTER.into());
    config
}

/// An instance on each of the first two servers, ten ratings posted through each.
#[tokio::test]
async fn with_two_shards_a_recommendations_effect_counts_the_answers_of_both() {
    use crate::recommendations::{around, implemented, list, midnight};
    let cluster = Cluster::start(&scratch("cluster"), 2, 1);
    let db = unique_database();
    let first = spawn_app_with(cluster_config(&cluster, 0, &db)).await;
    let second = spawn_app_with(cluster_config(&cluster, 1, &db)).await;
    // The answers before the change on one shard, those after (and the five on
    // the day itself, which neither window reads) on the other.
    let day = midnight(40);
    let (before, after): (Vec<_>, Vec<_>) =
        around("preparation", day, [2, 4], [4, 5], &[]).into_iter().partition(|r| r.occurred_at < day);
    crate::support::insert_rows(&first.storage, "feedback", &before).await;
    crate::support::insert_rows(&second.storage, "feedback", &after).await;
    let analyst = crate::support::api_token(&first.storage, touchpoint::domain::Role::Analyst, &[]).await;

    let id = implemented(&first, &analyst, "preparation", json!({"measure": "stage_score"}), day).await;

    synced(&second.storage, "api_tokens").await;
    synced(&second.storage, "recommendations").await;
    for app in [&first, &second] {
        let all = list(app, &analyst).await;
        let effect = &all.iter().find(|r| r["id"] == id.as_str()).unwrap()["effect"];
        assert_eq!((effect["n_before"].as_u64(), effect["n_after"].as_u64()), (Some(20), Some(20)), "{effect}");
        assert_eq!((effect["before"].as_f64(), effect["after"].as_f64()), (Some(50.0), Some(87.5)), "{effect}");
    }
    first.stop().await;
    second.stop().await;
}

async fn two_instances_posting(cluster: &Cluster) -> (String, crate::support::TestApp, crate::support::TestApp) {
    let db = unique_database();
    let first = spawn_app_with(cluster_config(cluster, 0, &db)).await;
    let second = spawn_app_with(cluster_config(cluster, 1, &db)).await;
    for (app, k) in [(&first, 0), (&second, 1)] {
        for i in 0..10 {
            assert_eq!(app.post("/api/v1/feedback", &rating(1 + (i + k) % 5)).await.0, 202);
        }
    }
    (db, first, second)
}

fn rating(score: u8) -> serde_json::Value {
    json!({
        "event_id": Uuid::new_v4(), "site": "demo", "journey": "scrap-metal-licensing",
        "stage": "application", "touchpoint": "epgu", "scale": "csat", "score": score,
        "occurred_at": ago(7200).1,
    })
}

async fn until(what: &str, seconds: u64, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "{what} within {seconds} s");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn with_zookeeper_down_events_wait_in_the_spool_readyz_says_why_and_none_is_lost() {
    let mut cluster = Cluster::start(&scratch("cluster"), 1, 2);
    let db = unique_database();
    let app = spawn_app_with(cluster_config(&cluster, 0, &db)).await;
    let other = storage(&cluster, 1, &db);
    for k in 0..5 {
        assert_eq!(app.post("/api/v1/feedback", &rating(1 + k % 5)).await.0, 202);
    }
    until("the first five stored", 20, async || count(&app.storage, "SELECT count() FROM feedback").await == 5).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    cluster.zookeeper.kill();
    until("readyz to say why", 60, async || {
        let response = app.get("/readyz").await;
        let status = response.status().as_u16();
        status == 503 && response.text().await.unwrap().contains("ZooKeeper")
    })
    .await;
    for k in 0..5 {
        assert_eq!(app.post("/api/v1/feedback", &rating(1 + k % 5)).await.0, 202, "accepted into the spool");
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(count(&app.storage, "SELECT count() FROM feedback").await, 5, "nothing stored without ZooKeeper");

    cluster.zookeeper.resume();
    until("the spool to ship", 90, async || count(&app.storage, "SELECT count() FROM feedback").await == 10).await;
    until("readyz", 60, async || app.get("/readyz").await.status() == 200).await;
    // The first five were stored as ZooKeeper went (their rollup's part was refused with
    // "Connection loss" in one run): the rollup then comes right by the shipper's repair
    // of that round, which may land after the second five are stored. So wait for it,
    // then check that nothing is counted twice.
    let rolled_up = "SELECT toUInt64(sum(n)) FROM feedback_daily";
    for storage in [&app.storage, &other] {
        synced(storage, "feedback").await;
        let what = format!("the rollup on {} to count all ten", storage.location());
        until(&what, 60, async || count(storage, rolled_up).await >= 10).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    for storage in [&app.storage, &other] {
        synced(storage, "feedback_daily").await;
        assert_eq!(count(storage, "SELECT count() FROM feedback").await, 10);
        assert_eq!(count(storage, rolled_up).await, 10, "rolled up once");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_replica_killed_under_load_loses_nothing_and_catches_up_while_the_other_answers() {
    let mut cluster = Cluster::start(&scratch("cluster"), 1, 2);
    let db = unique_database();
    let first = spawn_app_with(cluster_config(&cluster, 0, &db)).await;
    let second = spawn_app_with(cluster_config(&cluster, 1, &db)).await;
    let analyst = crate::support::analyst_token(&second.storage).await;
    let other = storage(&cluster, 1, &db);
    let mut posted = 0u64;
    let post = async |app: &crate::support::TestApp, k: u64| {
        assert_eq!(app.post("/api/v1/feedback", &rating(1 + (k % 5) as u8)).await.0, 202);
    };
    for k in 0..40 {
        post(if k % 2 == 0 { &first } else { &second }, k).await;
        posted += 1;
        if k == 20 {
            cluster.replicas[0].kill();
        }
    }
    // The first instance's server is gone: its events wait; the other answers.
    until("the second instance's events", 30, async || count(&other, "SELECT count() FROM feedback").await >= 20).await;
    let stats = second.stats(&analyst, "period=7").await;
    assert!(stats["stages"][2]["n"].as_u64().unwrap() >= 20, "the other replica answers: {stats}");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    cluster.replicas[0].resume();
    for storage in [&first.storage, &other] {
        until("every accepted event on every replica", 90, async || {
            count(storage, "SELECT count() FROM feedback").await == posted
        })
        .await;
        // The rollup is written just after the rows it counts become visible.
        until("each rolled up once", 30, async || {
            count(storage, "SELECT toUInt64(sum(n)) FROM feedback_daily").await == posted
        })
        .await;
    }
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn with_two_shards_the_events_are_split_and_everything_else_is_shared() {
    let cluster = Cluster::start(&scratch("cluster"), 2, 1);
    let db = unique_database();
    let (one, two) = (storage(&cluster, 0, &db), storage(&cluster, 1, &db));
    one.ensure_database().await.unwrap();
    let all = Migration::embedded();
    migrations::run(&one, &all).await.unwrap();
    // The ALTERs reached the other shard: an event table's by ON CLUSTER, a
    // shared table's (analysts.units) by replication.
    let kinds = columns(&two).await;
    assert!(kinds.contains(&("offers".into(), "kind".into(), OFFER_KIND.into())), "{kinds:?}");
    assert!(kinds.contains(&("analysts".into(), "units".into(), "Array(String)".into())), "{kinds:?}");
    assert_eq!(columns(&one).await, kinds);

    // The ledger is one table over both shards: recorded once for the cluster.
    synced(&two, "schema_migrations").await;
    assert_eq!(migrations::run(&two, &all).await.unwrap(), migrations::Report { applied: vec![], already: all.len() });
    // An account made through one shard signs in through the other.
    crate::support::analyst_token(&one).await;
    synced(&two, "api_tokens").await;
    let tokens = touchpoint::accounts::directory::tokens(&two).await.unwrap();
    assert_eq!(tokens.len(), 1, "a token made through shard 1 is known on shard 2");
    // An event stays on the shard it was written to.
    crate::support::insert_rows(&one, "timings", &[timing(1000)]).await;
    synced(&two, "timings").await;
    assert_eq!(
        (count(&one, "SELECT count() FROM timings").await, count(&two, "SELECT count() FROM timings").await),
        (1, 0)
    );
}

#[tokio::test]
async fn readyz_names_a_replica_that_falls_behind() {
    let cluster = Cluster::start(&scratch("cluster"), 1, 2);
    let db = unique_database();
    let mut lagging = cluster_config(&cluster, 1, &db);
    lagging.clickhouse.max_replica_delay = std::time::Duration::from_secs(1);
    let writer = spawn_app_with(cluster_config(&cluster, 0, &db)).await;
    let reader = spawn_app_with(lagging).await;
    assert_eq!(reader.get("/readyz").await.status(), 200);
    // The second replica stops fetching what the first one writes.
    reader.storage.client().query("SYSTEM STOP FETCHES feedback").execute().await.unwrap();
    assert_eq!(writer.post("/api/v1/feedback", &rating(3)).await.0, 202);
    until("readyz to name the lagging replica", 30, async || {
        let response = reader.get("/readyz").await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        status == 503 && text.contains("replica s1r2 is") && text.contains("behind")
    })
    .await;
    assert_eq!(writer.get("/readyz").await.status(), 200, "the writer's own replica is current");
    reader.storage.client().query("SYSTEM START FETCHES feedback").execute().await.unwrap();
    until("readyz again once it caught up", 30, async || reader.get("/readyz").await.status() == 200).await;
    writer.stop().await;
    reader.stop().await;
}

#[tokio::test]
async fn with_two_shards_each_instance_reads_the_events_of_both() {
    let cluster = Cluster::start(&scratch("cluster"), 2, 1);
    let (db, first, second) = two_instances_posting(&cluster).await;
    for app in [&first, &second] {
        until("each shard's ten", 30, async || count(&app.storage, "SELECT count() FROM feedback").await == 10).await;
    }
    let analyst = crate::support::analyst_token(&first.storage).await;
    synced(&second.storage, "api_tokens").await;
    let (a, b) = (first.stats(&analyst, "period=7").await, second.stats(&analyst, "period=7").await);
    assert_eq!(a["stages"][2]["n"], 20, "both shards through the first: {a}");
    assert_eq!(a["stages"], b["stages"], "and the same through the second");
    // The BI dictionaries, on every server, load every shard's numbers (storage::bi); once
    // loaded, a reload is safe and does not wait out their lifetime.
    cluster.define_bi(&db);
    for app in [&first, &second] {
        app.storage.client().query("SYSTEM RELOAD DICTIONARIES").execute().await.unwrap();
        let bi = touchpoint::storage::bi::database_of(app.storage.database());
        let sql = format!("SELECT toUInt64(sum(answers)) FROM {bi}.bi_ratings_daily");
        assert_eq!(count(&app.storage, &sql).await, 20, "{bi}");
    }
    first.stop().await;
    second.stop().await;
}

//! The database BI tools read (docs/bi.md): `<database>_bi`, holding the
//! `bi_*` views and, under them, one `Distributed` table per rollup.
//!
//! Why a database of its own: ClickHouse 18.16 grants whole databases
//! (`allow_databases`), and reads a view with its reader's rights, so a BI
//! user allowed the service's database reads every table in it (password
//! hashes, clients' addresses), and one not allowed it cannot read a view
//! over it from anywhere. A `Distributed` table is different: it reads
//! through a connection as the user its cluster names in `remote_servers`.
//! So the BI user is allowed only `<database>_bi`, whose `Distributed`
//! tables read exactly the rollups, always current (no copy to keep exact).
//! Its profile must set `prefer_localhost_replica = 0`, or the local shard
//! is read in the BI user's own session and refused.
//!
//! On one server the tables read through the cluster [`SOURCE_CLUSTER`], a
//! connection of the server to itself (the local server writes it; an
//! operator's server needs it in its config). On a cluster they read the
//! service's cluster, every shard, and are made `ON CLUSTER`.

use std::collections::BTreeSet;

use super::{Storage, StorageError};

/// The `remote_servers` cluster through which, on one server, the BI
/// database reads the service's database: that server itself.
pub const SOURCE_CLUSTER: &str = "touchpoint_bi";

/// The rollups the views read, each through a `Distributed` table of the
/// same name in the BI database.
pub const ROLLUPS: &[&str] = &["answers_daily", "calls_daily", "feedback_daily", "offers_daily", "stage_time_daily"];

/// The views, by name, over the BI database's tables (`{bi}`). Each reads a
/// daily rollup merged per key: every count and sum adds up across rows.
pub const VIEWS: &[(&str, &str)] = &[
    (
        "bi_ratings_daily",
        "SELECT day, journey, stage, touchpoint, channel, toString(segment) AS segment, \
         sum(n) AS answers, sum(sum) AS score_sum, sum(sumsq) AS score_sumsq, \
         sum(positive) AS positive, sum(negative) AS negative \
         FROM {bi}.feedback_daily GROUP BY day, journey, stage, touchpoint, channel, segment",
    ),
    (
        "bi_criteria_daily",
        "SELECT day, journey, stage, touchpoint, channel, toString(segment) AS segment, question_set, question, \
         sum(responses) AS responses, sum(n) AS answers, sum(sum) AS score_sum, sum(sumsq) AS score_sumsq, \
         sum(n1) AS n1, sum(n2) AS n2, sum(n3) AS n3, sum(n4) AS n4, sum(n5) AS n5 \
         FROM {bi}.answers_daily GROUP BY day, journey, stage, touchpoint, channel, segment, question_set, question",
    ),
    (
        "bi_offers_daily",
        "SELECT day, journey, stage, touchpoint, channel, toString(kind) AS kind, question_set, sum(n) AS offers \
         FROM {bi}.offers_daily GROUP BY day, journey, stage, touchpoint, channel, kind, question_set",
    ),
    (
        "bi_calls_daily",
        "SELECT day, journey, toString(segment) AS segment, sum(n) AS calls, \
         sum(over_two_transfers) AS over_two_transfers \
         FROM {bi}.calls_daily GROUP BY day, journey, segment",
    ),
    (
        "bi_stage_time_daily",
        "SELECT day, journey, stage, touchpoint, channel, toString(segment) AS segment, countMerge(n) AS timed, \
         quantilesMerge(0.5, 0.9)(q)[1] AS median_ms, quantilesMerge(0.5, 0.9)(q)[2] AS p90_ms \
         FROM {bi}.stage_time_daily GROUP BY day, journey, stage, touchpoint, channel, segment",
    ),
];

/// The BI database of the service's database `database`.
pub fn database_of(database: &str) -> String {
    format!("{database}_bi")
}

/// The statements that make what is missing of the BI database of
/// `database`, given the names `present` in it: on one server when
/// `on_cluster` is `None`, else on every server of that cluster. A rollup a
/// migration `changed` gets its table made again (a `Distributed` table
/// keeps the column list it was made with).
pub fn statements(
    database: &str,
    on_cluster: Option<&str>,
    present: &[String],
    changed: &BTreeSet<&str>,
) -> Vec<String> {
    let bi = database_of(database);
    let (source, on) = match on_cluster {
        Some(cluster) => (cluster, format!(" ON CLUSTER `{cluster}`")),
        None => (SOURCE_CLUSTER, String::new()),
    };
    let missing = |name: &str| !present.iter().any(|p| p == name);
    let mut out = Vec::new();
    if present.is_empty() {
        out.push(format!("CREATE DATABASE IF NOT EXISTS `{bi}`{on}"));
    }
    for rollup in ROLLUPS {
        let fresh = changed.contains(rollup);
        if fresh {
            out.push(format!("DROP TABLE IF EXISTS {bi}.{rollup}{on}"));
        }
        if fresh || missing(rollup) {
            out.push(format!(
                "CREATE TABLE IF NOT EXISTS {bi}.{rollup}{on} AS {database}.{rollup} \
                 ENGINE = Distributed(`{source}`, {database}, {rollup})"
            ));
        }
    }
    for (view, select) in VIEWS {
        if missing(view) {
            out.push(format!("CREATE VIEW IF NOT EXISTS {bi}.{view}{on} AS {}", select.replace("{bi}", &bi)));
        }
    }
    out
}

/// Makes what is missing of the BI database, once the rollups exist; only
/// then, since on a cluster an `ON CLUSTER` statement waits for every
/// server. On one server, warns when the server lacks [`SOURCE_CLUSTER`]:
/// the views then answer only with an error.
pub async fn ensure(storage: &Storage, changed: &BTreeSet<&str>) -> Result<(), StorageError> {
    let names = "SELECT name FROM system.tables WHERE database = ?";
    let service: Vec<String> = storage.client().query(names).bind(storage.database()).fetch_all().await?;
    if !ROLLUPS.iter().all(|r| service.iter().any(|s| s == r)) {
        return Ok(());
    }
    let bi = database_of(storage.database());
    let present: Vec<String> = storage.client().query(names).bind(&bi).fetch_all().await?;
    for statement in statements(storage.database(), storage.cluster(), &present, changed) {
        storage.client().query_raw(&statement).execute().await?;
    }
    if storage.cluster().is_none() {
        let sql = "SELECT count() FROM system.clusters WHERE cluster = ?";
        let defined: u64 = storage.client().query(sql).bind(SOURCE_CLUSTER).fetch_one().await?;
        if defined == 0 {
            tracing::warn!(
                database = %bi,
                cluster = SOURCE_CLUSTER,
                "BI tools read {bi} through the cluster `{SOURCE_CLUSTER}`, which this ClickHouse server does not \
                 define: add it to its remote_servers as docs/bi.md shows"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_server_gets_the_database_every_table_and_every_view() {
        let all = statements("tp", None, &[], &BTreeSet::new());
        assert_eq!(all[0], "CREATE DATABASE IF NOT EXISTS `tp_bi`");
        assert!(
            all.contains(
                &"CREATE TABLE IF NOT EXISTS tp_bi.calls_daily AS tp.calls_daily \
              ENGINE = Distributed(`touchpoint_bi`, tp, calls_daily)"
                    .to_string()
            )
        );
        assert_eq!(all.len(), 1 + ROLLUPS.len() + VIEWS.len());
        assert!(all.iter().all(|s| !s.contains("{bi}")));
    }

    #[test]
    fn only_what_is_missing_or_changed_is_made_on_a_cluster() {
        let mut present: Vec<String> = ROLLUPS.iter().map(|r| r.to_string()).collect();
        present.extend(VIEWS.iter().skip(1).map(|(v, _)| v.to_string()));
        let changed = BTreeSet::from(["offers_daily"]);
        let made = statements("tp", Some("c"), &present, &changed);
        assert_eq!(
            made,
            [
                "DROP TABLE IF EXISTS tp_bi.offers_daily ON CLUSTER `c`",
                "CREATE TABLE IF NOT EXISTS tp_bi.offers_daily ON CLUSTER `c` AS tp.offers_daily \
                 ENGINE = Distributed(`c`, tp, offers_daily)",
                &format!("CREATE VIEW IF NOT EXISTS tp_bi.bi_ratings_daily ON CLUSTER `c` AS {}", VIEWS[0].1)
                    .replace("{bi}", "tp_bi"),
            ]
        );
    }
}

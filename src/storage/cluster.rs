//! The migrations on a replicated cluster (`clickhouse.cluster`): each DDL
//! statement is sent once with `ON CLUSTER`, so every server runs it from
//! ZooKeeper's queue (an `ALTER` only where replication cannot carry it, see
//! [`on_cluster`]), and each `*MergeTree` engine becomes its `Replicated`
//! twin, so every replica holds every row and a block inserted twice (a
//! spool replay, another instance's retry) is stored once. Written for
//! ClickHouse 18.16, which knows the `{shard}` and `{replica}` macros but not
//! `{database}` or `{table}`: the ZooKeeper path names both itself. Only the
//! event tables ([`SHARDED`]) are per shard; the others are shared by all.
//!
//! Backfills (`INSERT … SELECT`) are left as they are: run on one replica,
//! the rows reach the others by replication.

/// The tables whose rows are split between shards: the events, by volume,
/// and their rollups. Every other table (accounts, cases, the register,
/// recommendations, the migrations' ledger) is one replicated table over
/// every server of every shard, so each instance sees all of it; its
/// `{replica}` macro must then name each server uniquely across shards.
pub const SHARDED: &[&str] = &[
    "feedback",
    "timings",
    "calls",
    "correspondence",
    "feedback_daily",
    "stage_time_daily",
    "calls_daily",
    "feedback_comments",
    "feedback_corrections",
    "case_touches",
    "answers",
    "answers_daily",
    "offers",
    "offers_daily",
];

/// `statement` for the cluster `cluster` of `shards` shards, the service's
/// tables living in `database`. Statements other than CREATE, DROP and ALTER
/// pass unchanged.
///
/// Every server runs the statement in its own default database, so each
/// table it names is written with the service's database: the statement's
/// own table, and a view's target and sources (`TO`, `FROM`, `JOIN`).
///
/// An `ALTER` goes to this server alone where the table's replication takes
/// it to every server that holds the table (a table shared by all servers,
/// or any table on a cluster of one shard): a replicated table's ALTER
/// changes its metadata in ZooKeeper, and each replica applies it. On
/// ClickHouse 18.16 an `ALTER … ON CLUSTER` of a replicated table is run by
/// one replica of each shard, chosen by a lock with a race: two replicas can
/// both run it, and the second's DDL worker then stops for good (`Node
/// exists` on the task's `executed` node), so every later `ON CLUSTER`
/// statement waits on that server until it restarts (seen in the cluster
/// tests, 1 run in about 10). Only a sharded table on several shards still
/// needs `ON CLUSTER`.
pub fn on_cluster(statement: &str, cluster: &str, database: &str, shards: usize) -> String {
    let (comments, code) = split_comments(statement);
    let upper = code.to_ascii_uppercase();
    let on = format!(" ON CLUSTER `{cluster}`");
    let db = |name: &str| format!("{database}.{name}");
    let rewritten = if let Some(rest) = strip(&upper, code, "CREATE TABLE IF NOT EXISTS ") {
        let (name, tail) = name_and_tail(rest);
        format!("CREATE TABLE IF NOT EXISTS {}{on}{}", db(name), replicated(tail, database, name))
    } else if let Some(rest) = strip(&upper, code, "CREATE MATERIALIZED VIEW IF NOT EXISTS ") {
        let (name, tail) = name_and_tail(rest);
        format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {}{on}{}", db(name), qualified(tail, database))
    } else if let Some(rest) = strip(&upper, code, "CREATE VIEW IF NOT EXISTS ") {
        let (name, tail) = name_and_tail(rest);
        format!("CREATE VIEW IF NOT EXISTS {}{on}{}", db(name), qualified(tail, database))
    } else if let Some(rest) = strip(&upper, code, "DROP TABLE IF EXISTS ") {
        let (name, tail) = name_and_tail(rest);
        format!("DROP TABLE IF EXISTS {}{on}{tail}", db(name))
    } else if let Some(rest) = strip(&upper, code, "ALTER TABLE ") {
        let (name, tail) = name_and_tail(rest);
        let by_replication = shards == 1 || !SHARDED.contains(&name);
        format!("ALTER TABLE {}{}{tail}", db(name), if by_replication { "" } else { &on })
    } else {
        code.to_string()
    };
    format!("{comments}{rewritten}")
}

/// The [`SHARDED`] table whose columns `statement` may change (creates,
/// alters or drops), if any: its `Distributed` twin keeps its own column
/// list and must be made again.
pub fn sharded_table_changed(statement: &str) -> Option<&'static str> {
    let (_, code) = split_comments(statement);
    let upper = code.to_ascii_uppercase();
    let rest = ["CREATE TABLE IF NOT EXISTS ", "ALTER TABLE ", "DROP TABLE IF EXISTS "]
        .iter()
        .find_map(|prefix| strip(&upper, code, prefix))?;
    let (name, _) = name_and_tail(rest);
    SHARDED.iter().find(|t| **t == name).copied()
}

/// `sql` with the table after each `TO`, `FROM` and `JOIN` in `database`,
/// unless it is qualified already or a subquery.
fn qualified(sql: &str, database: &str) -> String {
    renamed(sql, &["TO", "FROM", "JOIN"], |name| (!name.contains('.')).then(|| format!("{database}.{name}")))
}

/// A read query `sql` with each [`SHARDED`] table it reads (after `FROM` or
/// `JOIN`) replaced by its twin that reads every shard.
pub fn reading_everywhere(sql: &str) -> String {
    renamed(sql, &["FROM", "JOIN"], |name| SHARDED.contains(&name).then(|| everywhere(name)))
}

/// `sql` with the table after each of `keywords` renamed by `rename`, where
/// it gives a new name.
fn renamed(sql: &str, keywords: &[&str], rename: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(sql.len() + 64);
    let mut rest = sql;
    while let Some((at, keyword)) = next_keyword(rest, keywords) {
        let after = at + keyword.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let spaces = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..spaces]);
        rest = &rest[spaces..];
        let (name, tail) = name_and_tail(rest);
        match rename(name).filter(|_| !name.is_empty()) {
            Some(new) => out.push_str(&new),
            None => out.push_str(name),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The next of `keywords` (any case, between blanks): where it starts and
/// the keyword as written.
fn next_keyword<'a>(sql: &'a str, keywords: &[&str]) -> Option<(usize, &'a str)> {
    let upper = sql.to_ascii_uppercase();
    keywords
        .iter()
        .flat_map(|k| {
            let upper = &upper;
            upper.match_indices(k).filter_map(move |(i, _)| {
                let before = upper[..i].chars().next_back();
                let after = upper[i + k.len()..].chars().next();
                let word = before.is_some_and(char::is_whitespace) && after.is_some_and(char::is_whitespace);
                word.then_some((i, k.len()))
            })
        })
        .min()
        .map(|(i, len)| (i, &sql[i..i + len]))
}

/// What is wrong with this server's replicas of the service's tables, if
/// anything: read-only (no ZooKeeper session: inserts fail and wait in the
/// spool), or more than `max_delay` behind the other replicas.
pub async fn trouble(
    storage: &super::Storage,
    max_delay: std::time::Duration,
) -> Result<Option<String>, super::StorageError> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Replica {
        table: String,
        readonly: u8,
        delay: u64,
        replica: String,
    }
    let sql = "SELECT table, toUInt8(is_readonly OR is_session_expired) AS readonly, toUInt64(absolute_delay) AS delay, \
               replica_name FROM system.replicas WHERE database = currentDatabase() ORDER BY readonly DESC, delay DESC LIMIT 1";
    let worst: Option<Replica> = storage.client().query(sql).fetch_optional().await?;
    Ok(worst.and_then(|r| {
        if r.readonly == 1 {
            Some(format!(
                "replica {} cannot write (table {} is read-only: no ZooKeeper session); accepted events wait in the spool",
                r.replica, r.table
            ))
        } else if r.delay > max_delay.as_secs() {
            Some(format!("replica {} is {} s behind the others (table {})", r.replica, r.delay, r.table))
        } else {
            None
        }
    }))
}

/// How many shards `cluster` has in this server's `remote_servers` (0 for a
/// cluster it does not know, which `ON CLUSTER` then names in its error).
pub async fn shards(storage: &super::Storage, cluster: &str) -> Result<usize, super::StorageError> {
    let sql = "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = ?";
    let n: u64 = storage.client().query(sql).bind(cluster).fetch_one().await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The name of `table`'s twin that reads every shard: `<table>_all`.
pub fn everywhere(table: &str) -> String {
    format!("{table}_all")
}

/// The statements that (re)make the `Distributed` twin of a [`SHARDED`]
/// table on every server: dropped first when `fresh` (a migration changed
/// the table's columns, see [`sharded_table_changed`]). Nothing is
/// inserted through it: each instance writes to its own shard, so the
/// sharding key is never used.
pub fn distributed(table: &str, cluster: &str, database: &str, fresh: bool) -> Vec<String> {
    let all = everywhere(table);
    let mut statements = Vec::new();
    if fresh {
        statements.push(format!("DROP TABLE IF EXISTS {database}.{all} ON CLUSTER `{cluster}`"));
    }
    statements.push(format!(
        "CREATE TABLE IF NOT EXISTS {database}.{all} ON CLUSTER `{cluster}` AS {database}.{table} \
         ENGINE = Distributed(`{cluster}`, {database}, {table}, rand())"
    ));
    statements
}

/// `CREATE DATABASE` on every server of `cluster`.
pub fn create_database(database: &str, cluster: &str) -> String {
    format!("CREATE DATABASE IF NOT EXISTS `{database}` ON CLUSTER `{cluster}`")
}

/// Leading `--` comment lines and blank lines, then the code.
fn split_comments(statement: &str) -> (&str, &str) {
    let mut at = 0;
    for line in statement.split_inclusive('\n') {
        let t = line.trim();
        if t.is_empty() || t.starts_with("--") {
            at += line.len();
        } else {
            break;
        }
    }
    statement.split_at(at)
}

/// `code` after `prefix`, matched without regard to case.
fn strip<'a>(upper: &str, code: &'a str, prefix: &str) -> Option<&'a str> {
    upper.starts_with(prefix).then(|| &code[prefix.len()..])
}

/// The identifier at the start of `rest`, and what follows it.
fn name_and_tail(rest: &str) -> (&str, &str) {
    let end =
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '`')).unwrap_or(rest.len());
    rest.split_at(end)
}

/// The table definition `tail` with its `ENGINE = XMergeTree(args)` made
/// `ReplicatedXMergeTree('<path>', '{replica}', args)`.
fn replicated(tail: &str, database: &str, table: &str) -> String {
    let Some(at) = tail.find("ENGINE = ") else { return tail.to_string() };
    let start = at + "ENGINE = ".len();
    let after = &tail[start..];
    let engine_end = after.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(after.len());
    let engine = &after[..engine_end];
    if !engine.ends_with("MergeTree") || engine.starts_with("Replicated") {
        return tail.to_string();
    }
    let rest = &after[engine_end..];
    let (args, rest) = match rest.strip_prefix('(') {
        Some(inner) => {
            let close = closing(inner).unwrap_or(inner.len());
            (inner[..close].trim(), &inner[(close + 1).min(inner.len())..])
        }
        None => ("", rest),
    };
    let table = table.trim_matches('`');
    let shard = if SHARDED.contains(&table) { "{shard}" } else { "all" };
    let path = format!("'/clickhouse/tables/{shard}/{database}/{table}', '{{replica}}'");
    let args = if args.is_empty() { path } else { format!("{path}, {args}") };
    format!("{}ENGINE = Replicated{engine}({args}){rest}", &tail[..at])
}

/// Where the parenthesis opened just before `inner` closes.
fn closing(inner: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_become_replicated_and_are_created_on_the_cluster() {
        let sql = "-- why\nCREATE TABLE IF NOT EXISTS feedback\n(\n    x UInt8\n)\nENGINE = ReplacingMergeTree(received_at)\nORDER BY x";
        assert_eq!(
            on_cluster(sql, "tp", "db", 2),
            "-- why\nCREATE TABLE IF NOT EXISTS db.feedback ON CLUSTER `tp`\n(\n    x UInt8\n)\nENGINE = \
             ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/feedback', '{replica}', received_at)\nORDER BY x"
        );
        let bare = "CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x";
        assert_eq!(
            on_cluster(bare, "tp", "db", 2),
            "CREATE TABLE IF NOT EXISTS db.a ON CLUSTER `tp` (x UInt8) ENGINE = \
             ReplicatedMergeTree('/clickhouse/tables/all/db/a', '{replica}') ORDER BY x"
        );
        let empty = "CREATE TABLE IF NOT EXISTS s (x UInt8) ENGINE = SummingMergeTree()\nORDER BY x";
        assert!(
            on_cluster(empty, "tp", "db", 2)
                .contains("ReplicatedSummingMergeTree('/clickhouse/tables/all/db/s', '{replica}')\nORDER")
        );
        let nested = "CREATE TABLE IF NOT EXISTS n (x UInt8) ENGINE = SummingMergeTree((x, y)) ORDER BY x";
        assert!(on_cluster(nested, "tp", "db", 2).contains("'{replica}', (x, y)) ORDER BY x"));
        let agg = "CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = AggregatingMergeTree\nPARTITION BY x ORDER BY x";
        assert!(on_cluster(agg, "tp", "db", 2).contains(
            "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/all/db/t', '{replica}')\nPARTITION"
        ));
    }

    #[test]
    fn a_read_of_event_tables_reads_their_twins_over_every_shard() {
        let sql = "SELECT id FROM (SELECT id FROM feedback WHERE x IN (SELECT y FROM cases)) \
                   JOIN case_touches USING id WHERE a IN (SELECT b FROM feedback_daily)";
        assert_eq!(
            reading_everywhere(sql),
            "SELECT id FROM (SELECT id FROM feedback_all WHERE x IN (SELECT y FROM cases)) \
             JOIN case_touches_all USING id WHERE a IN (SELECT b FROM feedback_daily_all)"
        );
    }

    #[test]
    fn every_sharded_table_is_one_the_migrations_create() {
        let created: Vec<String> = super::super::migrations::Migration::embedded()
            .iter()
            .flat_map(|m| {
                m.sql.lines().filter_map(|l| l.strip_prefix("CREATE TABLE IF NOT EXISTS ")).map(str::to_string)
            })
            .collect();
        for table in SHARDED {
            assert!(created.iter().any(|c| c.trim() == *table), "{table}");
        }
        let feedback = "CREATE TABLE IF NOT EXISTS feedback (x UInt8) ENGINE = MergeTree ORDER BY x";
        assert!(on_cluster(feedback, "tp", "db", 2).contains("'/clickhouse/tables/{shard}/db/feedback'"));
    }

    #[test]
    fn views_and_drops_run_on_the_cluster_alters_where_replication_cannot_and_backfills_stay_local() {
        let view = "CREATE MATERIALIZED VIEW IF NOT EXISTS v_mv TO v AS\nSELECT toDate(at) AS day FROM feedback\n\
                    JOIN (SELECT 1 FROM other.t) USING x\nWHERE stage IN (SELECT s FROM stages) GROUP BY day";
        assert_eq!(
            on_cluster(view, "tp", "db", 2),
            "CREATE MATERIALIZED VIEW IF NOT EXISTS db.v_mv ON CLUSTER `tp` TO db.v AS\nSELECT toDate(at) AS day \
             FROM db.feedback\nJOIN (SELECT 1 FROM other.t) USING x\nWHERE stage IN (SELECT s FROM db.stages) GROUP BY day"
        );
        let plain = "CREATE VIEW IF NOT EXISTS bi_x AS SELECT day FROM feedback_daily GROUP BY day";
        assert_eq!(
            on_cluster(plain, "tp", "db", 2),
            "CREATE VIEW IF NOT EXISTS db.bi_x ON CLUSTER `tp` AS SELECT day FROM db.feedback_daily GROUP BY day"
        );
        assert_eq!(
            on_cluster("DROP TABLE IF EXISTS old", "tp", "db", 2),
            "DROP TABLE IF EXISTS db.old ON CLUSTER `tp`"
        );
        assert_eq!(sharded_table_changed("-- why\nALTER TABLE offers MODIFY COLUMN kind String"), Some("offers"));
        assert_eq!(sharded_table_changed("CREATE TABLE IF NOT EXISTS answers (x UInt8)"), Some("answers"));
        assert_eq!(sharded_table_changed("ALTER TABLE analysts ADD COLUMN x String"), None);
        assert_eq!(sharded_table_changed("CREATE MATERIALIZED VIEW IF NOT EXISTS offers_mv TO offers AS"), None);
        let alter =
            |table: &str, shards| on_cluster(&format!("ALTER TABLE {table} ADD COLUMN x String"), "tp", "db", shards);
        // Replication takes it everywhere: a table of all servers, or one shard.
        assert_eq!(alter("analysts", 2), "ALTER TABLE db.analysts ADD COLUMN x String");
        assert_eq!(alter("offers", 1), "ALTER TABLE db.offers ADD COLUMN x String");
        // An event table's replicas on the other shards are not this one's.
        assert_eq!(alter("offers", 2), "ALTER TABLE db.offers ON CLUSTER `tp` ADD COLUMN x String");
        let backfill = "INSERT INTO feedback_daily SELECT 1";
        assert_eq!(on_cluster(backfill, "tp", "db", 2), backfill);
        let memory = "CREATE TABLE IF NOT EXISTS m (x UInt8) ENGINE = Memory";
        assert_eq!(
            on_cluster(memory, "tp", "db", 2),
            "CREATE TABLE IF NOT EXISTS db.m ON CLUSTER `tp` (x UInt8) ENGINE = Memory"
        );
    }
}

//! What BI tools read (docs/bi.md): `<database>_bi`, a database of the
//! `Dictionary` engine whose tables are the `bi_*` dictionaries, each loaded
//! from a source view over a daily rollup (`<view>_source` in the service's
//! database).
//!
//! Why dictionaries: ClickHouse 18.16 grants whole databases
//! (`allow_databases`) and reads a view with its reader's rights, so a BI
//! user allowed the service's database reads every table in it (password
//! hashes, clients' addresses), and one not allowed it cannot read a view
//! over it. A `Distributed` table reading as another user sends the BI
//! user's whole query on, `IN` subqueries included, so the BI user could ask
//! anything of the service's database a bit at a time. A dictionary runs
//! only its own fixed query, as the user its definition names; the BI user,
//! allowed `<database>_bi` alone, reads the loaded rows and nothing else.
//! The price: the numbers are as old as the dictionaries' last load, at most
//! [`LIFETIME`]'s upper bound.
//!
//! The dictionaries are server config (18.16 has no `CREATE DICTIONARY`):
//! [`dictionaries_xml`] writes them, for the local server and for
//! `touchpoint bi-dictionaries` (an operator's server). Their names are the
//! views' (`bi_ratings_daily`…), one set per server, so one service
//! database per server has BI tables: the one the definitions read (every
//! `<database>_bi` of a server shows the same dictionaries).
//! A `Dictionary` database (not tables of the `Dictionary` engine) because
//! the server loads its tables only once their dictionary has loaded: a
//! table of that engine whose dictionary fails to load stops the server from
//! starting (seen on 18.16.1 when the source was the starting server itself).

use std::collections::BTreeSet;

use super::{Storage, StorageError};

/// A dictionary's reload interval in seconds, (min, max): ClickHouse picks
/// a moment in between, so servers do not all reload at once.
pub const LIFETIME: (u32, u32) = (30, 60);

/// One view BI tools read: a dictionary of that name, loaded from the
/// source view `<name>_source` over `rollup`.
pub struct View {
    pub name: &'static str,
    /// The rollup the source view reads.
    pub rollup: &'static str,
    /// The dictionary's key columns, in order: `day` a `Date`, the others
    /// `String`s.
    pub keys: &'static [&'static str],
    /// Its other columns, (name, type).
    pub values: &'static [(&'static str, &'static str)],
    /// The source view's query: the keys then the values, in order and of
    /// those types; `{from}` is the rollup, read on every shard.
    pub select: &'static str,
}

/// The views, each a daily rollup merged per key: every count and sum adds
/// up across rows.
pub const VIEWS: &[View] = &[
    View {
        name: "bi_ratings_daily",
        rollup: "feedback_daily",
        keys: &["day", "journey", "stage", "touchpoint", "channel", "segment"],
        values: &[
            ("answers", "Int64"),
            ("score_sum", "Float64"),
            ("score_sumsq", "Float64"),
            ("positive", "Int64"),
            ("negative", "Int64"),
        ],
        select: "SELECT day, journey, stage, touchpoint, channel, toString(segment) AS segment, \
                 toInt64(sum(n)) AS answers, toFloat64(sum(sum)) AS score_sum, toFloat64(sum(sumsq)) AS score_sumsq, \
                 toInt64(sum(positive)) AS positive, toInt64(sum(negative)) AS negative \
                 FROM {from} GROUP BY day, journey, stage, touchpoint, channel, segment",
    },
    View {
        name: "bi_criteria_daily",
        rollup: "answers_daily",
        keys: &["day", "journey", "stage", "touchpoint", "channel", "segment", "question_set", "question"],
        values: &[
            ("responses", "Int64"),
            ("answers", "Int64"),
            ("score_sum", "Int64"),
            ("score_sumsq", "Int64"),
            ("n1", "Int64"),
            ("n2", "Int64"),
            ("n3", "Int64"),
            ("n4", "Int64"),
            ("n5", "Int64"),
        ],
        select: "SELECT day, journey, stage, touchpoint, channel, toString(segment) AS segment, question_set, question, \
                 toInt64(sum(responses)) AS responses, toInt64(sum(n)) AS answers, toInt64(sum(sum)) AS score_sum, \
                 toInt64(sum(sumsq)) AS score_sumsq, toInt64(sum(n1)) AS n1, toInt64(sum(n2)) AS n2, \
                 toInt64(sum(n3)) AS n3, toInt64(sum(n4)) AS n4, toInt64(sum(n5)) AS n5 \
                 FROM {from} GROUP BY day, journey, stage, touchpoint, channel, segment, question_set, question",
    },
    View {
        name: "bi_offers_daily",
        rollup: "offers_daily",
        keys: &["day", "journey", "stage", "touchpoint", "channel", "kind", "question_set"],
        values: &[("offers", "Int64")],
        select: "SELECT day, journey, stage, touchpoint, channel, toString(kind) AS kind, question_set, \
                 toInt64(sum(n)) AS offers \
                 FROM {from} GROUP BY day, journey, stage, touchpoint, channel, kind, question_set",
    },
    View {
        name: "bi_calls_daily",
        rollup: "calls_daily",
        keys: &["day", "journey", "segment"],
        values: &[("calls", "Int64"), ("over_two_transfers", "Int64")],
        select: "SELECT day, journey, toString(segment) AS segment, toInt64(sum(n)) AS calls, \
                 toInt64(sum(over_two_transfers)) AS over_two_transfers \
                 FROM {from} GROUP BY day, journey, segment",
    },
    View {
        name: "bi_stage_time_daily",
        rollup: "stage_time_daily",
        keys: &["day", "journey", "stage", "touchpoint", "channel", "segment"],
        values: &[("timed", "UInt64"), ("median_ms", "Float64"), ("p90_ms", "Float64")],
        select: "SELECT day, journey, stage, touchpoint, channel, toString(segment) AS segment, \
                 toUInt64(countMerge(n)) AS timed, toFloat64(quantilesMerge(0.5, 0.9)(q)[1]) AS median_ms, \
                 toFloat64(quantilesMerge(0.5, 0.9)(q)[2]) AS p90_ms \
                 FROM {from} GROUP BY day, journey, stage, touchpoint, channel, segment",
    },
];

/// The ClickHouse type of a dictionary's key column.
fn key_type(name: &str) -> &'static str {
    if name == "day" { "Date" } else { "String" }
}

/// The BI database of the service's database `database`.
pub fn database_of(database: &str) -> String {
    format!("{database}_bi")
}

/// The source view in the service's database a dictionary loads from.
pub fn source_of(view: &View) -> String {
    format!("{}_source", view.name)
}

/// The statements that make what is missing: the source views in
/// `database` (given the names `present` in it; again where a migration
/// `changed` the rollup a view reads) and the BI database. A BI database of
/// another engine (`bi_engine`, made before issue 28: `Distributed` tables
/// and views) is dropped first. On every server of `on_cluster` when set,
/// the source views then reading every shard.
pub fn statements(
    database: &str,
    on_cluster: Option<&str>,
    present: &[String],
    changed: &BTreeSet<&str>,
    bi_engine: Option<&str>,
) -> Vec<String> {
    let mut out = source_statements(database, on_cluster, present, changed);
    out.extend(database_statements(database, on_cluster, bi_engine));
    out
}

fn on(cluster: Option<&str>) -> String {
    cluster.map(|cluster| format!(" ON CLUSTER `{cluster}`")).unwrap_or_default()
}

/// The source views of [`statements`].
fn source_statements(
    database: &str,
    on_cluster: Option<&str>,
    present: &[String],
    changed: &BTreeSet<&str>,
) -> Vec<String> {
    let on = on(on_cluster);
    let mut out = Vec::new();
    for view in VIEWS {
        let source = source_of(view);
        let fresh = changed.contains(view.rollup);
        if fresh {
            out.push(format!("DROP TABLE IF EXISTS {database}.{source}{on}"));
        }
        if fresh || !present.contains(&source) {
            let rollup = match on_cluster {
                Some(_) => super::cluster::everywhere(view.rollup),
                None => view.rollup.to_string(),
            };
            let select = view.select.replace("{from}", &format!("{database}.{rollup}"));
            out.push(format!("CREATE VIEW IF NOT EXISTS {database}.{source}{on} AS {select}"));
        }
    }
    out
}

/// The BI database of [`statements`].
fn database_statements(database: &str, on_cluster: Option<&str>, bi_engine: Option<&str>) -> Vec<String> {
    let (bi, on) = (database_of(database), on(on_cluster));
    let mut out = Vec::new();
    if bi_engine.is_some_and(|engine| engine != "Dictionary") {
        out.push(format!("DROP DATABASE IF EXISTS `{bi}`{on}"));
    }
    if bi_engine != Some("Dictionary") {
        out.push(format!("CREATE DATABASE IF NOT EXISTS `{bi}`{on} ENGINE = Dictionary"));
    }
    out
}

/// Where the dictionaries load from: a ClickHouse server (the one that
/// holds them: its native port) and a read-only user allowed the service's
/// database.
pub struct Source<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: &'a str,
}

/// The dictionaries' definitions as a ClickHouse server config file
/// (`dictionaries_config`) for the service's database `database`.
pub fn dictionaries_xml(database: &str, source: &Source) -> String {
    let text = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let column = |(name, kind): &(&str, &str), null: bool| {
        let null = if null { "<null_value>0</null_value>" } else { "" };
        format!("<attribute><name>{name}</name><type>{kind}</type>{null}</attribute>")
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\"?>\n<!-- The dictionaries BI tools read as the tables of <database>_bi \
         (touchpoint's docs/bi.md). -->\n<yandex>\n",
    );
    for view in VIEWS {
        let keys: String = view.keys.iter().map(|name| column(&(name, key_type(name)), false)).collect();
        let values: String = view.values.iter().map(|c| column(c, true)).collect();
        xml.push_str(&format!(
            "  <dictionary>\n    <name>{name}</name>\n    <source><clickhouse><host>{host}</host><port>{port}</port>\
             <user>{user}</user><password>{password}</password><db>{database}</db><table>{table}</table>\
             </clickhouse></source>\n    <lifetime><min>{min}</min><max>{max}</max></lifetime>\n    \
             <layout><complex_key_hashed/></layout>\n    <structure>\n      <key>{keys}</key>\n      {values}\n    \
             </structure>\n  </dictionary>\n",
            name = view.name,
            host = text(source.host),
            port = source.port,
            user = text(source.user),
            password = text(source.password),
            database = text(database),
            table = source_of(view),
            min = LIFETIME.0,
            max = LIFETIME.1,
        ));
    }
    xml.push_str("</yandex>\n");
    xml
}

/// A dictionary this server defines: its name and where it loads from
/// (`ClickHouse: db.table`; empty until it first loaded).
#[derive(clickhouse::Row, serde::Deserialize)]
struct Defined {
    name: String,
    source: String,
}

/// Makes what is missing for BI tools, once the rollups exist; only then,
/// since on a cluster an `ON CLUSTER` statement waits for every server.
/// Warns when this server does not define the dictionaries for this
/// database: BI tools then have nothing to read, or another database's
/// numbers.
///
/// Never asks the server to reload a dictionary: on 18.16 a `SYSTEM RELOAD`
/// that fails for a dictionary never loaded before can leave it half
/// registered, and its next successful load then crashes the server (seen
/// in the cluster tests). The server retries a failed load itself, 5 s
/// after the first failure, then less often.
pub async fn ensure(storage: &Storage, changed: &BTreeSet<&str>) -> Result<(), StorageError> {
    let (client, database) = (storage.client(), storage.database());
    let names = "SELECT name FROM system.tables WHERE database = ?";
    let present: Vec<String> = client.query(names).bind(database).fetch_all().await?;
    if !VIEWS.iter().all(|v| present.iter().any(|p| p == v.rollup)) {
        return Ok(());
    }
    let bi = database_of(database);
    let engine = "SELECT engine FROM system.databases WHERE name = ?";
    let bi_engine: Option<String> = client.query(engine).bind(&bi).fetch_optional().await?;
    for statement in statements(database, storage.cluster(), &present, changed, bi_engine.as_deref()) {
        client.query_raw(&statement).execute().await?;
    }
    let sql = "SELECT name, source FROM system.dictionaries WHERE has(?, name)";
    let wanted: Vec<&str> = VIEWS.iter().map(|v| v.name).collect();
    let defined: Vec<Defined> = client.query(sql).bind(&wanted).fetch_all().await?;
    if let Some(problem) = misdefined(database, &defined) {
        tracing::warn!(
            database = %bi,
            "BI tools read {bi}, whose tables are the dictionaries bi_ratings_daily… of this ClickHouse server, \
             but {problem}: `touchpoint bi-dictionaries` prints them for its config (docs/bi.md)"
        );
    }
    Ok(())
}

/// What is wrong with the dictionaries this server defines, for the
/// service's database `database`, if anything.
fn misdefined(database: &str, defined: &[Defined]) -> Option<String> {
    let missing: Vec<&str> =
        VIEWS.iter().map(|v| v.name).filter(|name| !defined.iter().any(|d| d.name == *name)).collect();
    if !missing.is_empty() {
        return Some(format!("it does not define {}", missing.join(", ")));
    }
    let foreign: Vec<&str> = defined
        .iter()
        .filter(|d| {
            let view = VIEWS.iter().find(|v| v.name == d.name);
            let ours = view.is_some_and(|v| d.source.ends_with(&format!(" {database}.{}", source_of(v))));
            !d.source.is_empty() && !ours
        })
        .map(|d| d.source.as_str())
        .collect();
    (!foreign.is_empty()).then(|| format!("they load from another database ({})", foreign.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_server_gets_every_source_view_and_the_database() {
        let all = statements("tp", None, &[], &BTreeSet::new(), None);
        assert_eq!(all.len(), VIEWS.len() + 1);
        assert!(
            all.contains(
                &"CREATE VIEW IF NOT EXISTS tp.bi_calls_daily_source AS SELECT day, journey, toString(segment) AS \
              segment, toInt64(sum(n)) AS calls, toInt64(sum(over_two_transfers)) AS over_two_transfers \
              FROM tp.calls_daily GROUP BY day, journey, segment"
                    .to_string()
            )
        );
        assert_eq!(all.last().unwrap(), "CREATE DATABASE IF NOT EXISTS `tp_bi` ENGINE = Dictionary");
    }

    #[test]
    fn only_what_is_missing_or_changed_is_made_and_an_old_bi_database_goes() {
        let present: Vec<String> = VIEWS.iter().skip(1).map(source_of).collect();
        let changed = BTreeSet::from(["offers_daily"]);
        let made = statements("tp", Some("c"), &present, &changed, Some("Ordinary"));
        let offers = VIEWS.iter().find(|v| v.rollup == "offers_daily").unwrap();
        assert_eq!(
            made,
            [
                format!("CREATE VIEW IF NOT EXISTS tp.bi_ratings_daily_source ON CLUSTER `c` AS {}", VIEWS[0].select)
                    .replace("{from}", "tp.feedback_daily_all"),
                "DROP TABLE IF EXISTS tp.bi_offers_daily_source ON CLUSTER `c`".to_string(),
                format!("CREATE VIEW IF NOT EXISTS tp.bi_offers_daily_source ON CLUSTER `c` AS {}", offers.select)
                    .replace("{from}", "tp.offers_daily_all"),
                "DROP DATABASE IF EXISTS `tp_bi` ON CLUSTER `c`".to_string(),
                "CREATE DATABASE IF NOT EXISTS `tp_bi` ON CLUSTER `c` ENGINE = Dictionary".to_string(),
            ]
        );
        let settled: Vec<String> = VIEWS.iter().map(source_of).collect();
        assert!(statements("tp", None, &settled, &BTreeSet::new(), Some("Dictionary")).is_empty());
    }

    #[test]
    fn missing_or_foreign_dictionaries_are_named_and_ones_not_loaded_yet_pass() {
        let defined = |source: &dyn Fn(&View) -> String| -> Vec<Defined> {
            VIEWS.iter().map(|v| Defined { name: v.name.into(), source: source(v) }).collect()
        };
        let ours = defined(&|v| format!("ClickHouse: tp.{}", source_of(v)));
        assert_eq!(misdefined("tp", &ours), None);
        assert_eq!(misdefined("tp", &defined(&|_| String::new())), None, "not loaded yet");
        let problem = misdefined("xtp", &ours).unwrap();
        assert!(problem.starts_with("they load from another database (ClickHouse: tp.bi_ratings_daily_source"));
        assert_eq!(misdefined("tp", &ours[1..]).unwrap(), "it does not define bi_ratings_daily");
    }

    #[test]
    fn each_dictionary_names_its_source_and_every_column_of_it() {
        let source = Source { host: "127.0.0.1", port: 9000, user: "bi_source", password: "a<b" };
        let xml = dictionaries_xml("tp", &source);
        assert_eq!(xml.matches("<dictionary>").count(), VIEWS.len());
        assert!(xml.contains("<password>a&lt;b</password><db>tp</db><table>bi_ratings_daily_source</table>"));
        for view in VIEWS {
            // Each column selected in the dictionary's order, as `… AS name` or plainly.
            let head = &view.select[..view.select.find(" FROM ").unwrap()];
            let at = |name: &str| {
                [format!(" AS {name},"), format!(" AS {name} "), format!(" {name},")]
                    .iter()
                    .find_map(|form| head.find(form.as_str()))
                    .or_else(|| head.ends_with(&format!(" AS {name}")).then_some(head.len()))
                    .unwrap_or_else(|| panic!("{}: {name} is not selected", view.name))
            };
            let names = view.keys.iter().copied().chain(view.values.iter().map(|(name, _)| *name));
            let places: Vec<usize> = names.map(at).collect();
            assert!(places.windows(2).all(|w| w[0] < w[1]), "{}: {places:?}", view.name);
        }
    }
}

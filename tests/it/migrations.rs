use std::io::Write as _;
use std::process::{Command, Stdio};

use touchpoint::storage::migrations::{self, Migration, MigrationError};

use crate::support::{fresh_storage, repo, tables};

fn one(name: &str, sql: &str) -> Migration {
    Migration::new(name, sql).unwrap()
}

#[tokio::test]
async fn the_shipped_migrations_create_the_event_tables_and_their_rollups() {
    let storage = fresh_storage().await;

    let report = migrations::run(&storage, &Migration::embedded()).await.unwrap();

    assert_eq!(report.applied.len(), Migration::embedded().len());
    assert_eq!(tables(&storage).await, crate::support::service_tables());
}

#[tokio::test]
async fn running_again_is_a_no_op() {
    let storage = fresh_storage().await;
    let all = Migration::embedded();
    migrations::run(&storage, &all).await.unwrap();

    let again = migrations::run(&storage, &all).await.unwrap();

    assert_eq!(again, migrations::Report { applied: vec![], already: all.len() });
    let recorded: u64 = storage.client().query("SELECT count() FROM schema_migrations").fetch_one().await.unwrap();
    assert_eq!(recorded, all.len() as u64);
    assert!(migrations::pending(&storage, &all).await.unwrap().is_empty());
}

#[tokio::test]
async fn only_new_migrations_are_applied_in_order() {
    let storage = fresh_storage().await;
    let first = one("0001_a.sql", "CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x;");
    migrations::run(&storage, std::slice::from_ref(&first)).await.unwrap();
    let second = one(
        "0002_b_and_c.sql",
        "CREATE TABLE IF NOT EXISTS b (x UInt8) ENGINE = MergeTree ORDER BY x;\n\
         -- a second statement; with a semicolon in this comment\n\
         CREATE TABLE IF NOT EXISTS c (s String DEFAULT 'a;b?') ENGINE = MergeTree ORDER BY s;",
    );

    assert_eq!(
        migrations::pending(&storage, &[first.clone(), second.clone()]).await.unwrap(),
        vec!["0002_b_and_c.sql"]
    );
    let report = migrations::run(&storage, &[first, second]).await.unwrap();

    assert_eq!(report.applied, vec!["0002_b_and_c.sql"]);
    assert_eq!(tables(&storage).await, vec!["a", "b", "c", "schema_migrations"]);
}

#[tokio::test]
async fn an_applied_migration_whose_file_changed_is_refused() {
    let storage = fresh_storage().await;
    migrations::run(
        &storage,
        &[one("0001_a.sql", "CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x")],
    )
    .await
    .unwrap();
    let edited = one("0001_a.sql", "CREATE TABLE IF NOT EXISTS a (x UInt16) ENGINE = MergeTree ORDER BY x");

    let refused = migrations::run(&storage, std::slice::from_ref(&edited)).await.unwrap_err();

    assert!(matches!(&refused, MigrationError::Changed { name, .. } if name == "0001_a.sql"), "{refused}");
    assert!(refused.to_string().contains("add a new migration"), "{refused}");
    assert!(matches!(migrations::pending(&storage, &[edited]).await, Err(MigrationError::Changed { .. })));
}

#[tokio::test]
async fn a_failing_migration_is_not_recorded_and_stops_the_run() {
    let storage = fresh_storage().await;
    let broken = one("0001_broken.sql", "CREATE TABLE IF NOT EXISTS a (x NoSuchType) ENGINE = MergeTree ORDER BY x");
    let after = one("0002_b.sql", "CREATE TABLE IF NOT EXISTS b (x UInt8) ENGINE = MergeTree ORDER BY x");

    let failed = migrations::run(&storage, &[broken, after.clone()]).await.unwrap_err();

    assert!(matches!(&failed, MigrationError::Failed { name, .. } if name == "0001_broken.sql"), "{failed}");
    assert_eq!(tables(&storage).await, vec!["schema_migrations"]);
    let fixed = one("0001_broken.sql", "CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x");
    assert_eq!(migrations::run(&storage, &[fixed, after]).await.unwrap().applied.len(), 2);
}

/// `sql` with each `?` replaced by the next of `values`, as the client binds them.
fn bound(sql: &str, values: &[&str]) -> String {
    let mut parts = sql.split('?');
    let mut out = parts.next().unwrap().to_string();
    for (part, value) in parts.zip(values.iter().chain(std::iter::repeat(&"?"))) {
        out.push_str(value);
        out.push_str(part);
    }
    assert_eq!(sql.matches('?').count(), values.len(), "one value per parameter:\n{sql}");
    out
}

/// The production dialect: every statement, split exactly as the service sends
/// it, runs on a current ClickHouse (chdb, the in-process engine), and so do
/// the hand-written joins of the case queue and the notifications.
#[test]
fn every_migration_and_the_case_and_effect_queries_run_on_current_clickhouse() {
    let all = Migration::embedded();
    let statements: Vec<(String, Vec<&str>)> = all.iter().map(|m| (m.name.clone(), m.statements())).collect();
    let units = "['licensing']";
    let queries = [
        (
            "queue",
            bound(
                touchpoint::cases::queue::QUEUE,
                &[units, "''", "''", "'new'", "'new'", "1", "1", "0", "0", "51", "0"],
            ),
        ),
        (
            "due",
            bound(
                touchpoint::notify::outbox::DUE,
                &["1", "0", "''", "''", "1", "0", "'answer'", "'answer'", "'webhook:crm'", "0", "100"],
            ),
        ),
        (
            "stage times",
            bound(
                touchpoint::dossiers::stages::BUILD,
                &["2", "1", "10800", "[100001]", "[1]", "['a', 'b']", "[1, 2]", "'j'"],
            ),
        ),
        ("stage durations", bound(touchpoint::dossiers::durations::FIGURES, &["1", "1", "2", "1", "0"])),
        ("touches", bound(touchpoint::dossiers::touches::TOUCHES, &["'00112233445566778899aabbccddeeff'"])),
    ];
    // A recommendation's measure in its windows, for each kind of measure.
    let window = ["100", "200", "300", "400"];
    let source = |tag: bool| {
        let mut binds = window.to_vec();
        binds.extend(tag.then_some("'hard_to_find'"));
        binds.extend(["'j'", "'s'", "100", "400"]);
        binds
    };
    let measures = touchpoint::domain::Measure::ALL.map(|m| {
        let binds = match m {
            touchpoint::domain::Measure::TagShare => [source(false), source(true)].concat(),
            touchpoint::domain::Measure::TimeSpent => [source(false), source(false)].concat(),
            touchpoint::domain::Measure::Criterion => [source(false), vec!["'queue'"]].concat(),
            _ => source(false),
        };
        (
            touchpoint::domain::wire_name(&m),
            bound(&touchpoint::recommendations::measures::statement(m, &|t| t.to_string()), &binds),
        )
    });
    // The queries the BI dictionaries load from, on the rollups (storage::bi).
    let bi_views =
        touchpoint::storage::bi::VIEWS.iter().map(|v| (v.name.to_string(), v.select.replace("{from}", v.rollup)));
    let queries: Vec<(String, String)> =
        queries.into_iter().map(|(n, q)| (n.to_string(), q)).chain(measures).chain(bi_views).collect();
    // On a cluster every statement is rewritten (storage::cluster): those must parse there too.
    let on_cluster: Vec<(String, String)> = all
        .iter()
        .flat_map(|m| m.statements().into_iter().map(move |st| (m.name.clone(), st)))
        .map(|(name, st)| {
            (format!("{name} on a cluster"), touchpoint::storage::cluster::on_cluster(st, "tp", "touchpoint", 2))
        })
        .chain([("the database".into(), touchpoint::storage::cluster::create_database("touchpoint", "tp"))])
        .chain(
            [None, Some("tp")]
                .into_iter()
                .flat_map(|c| {
                    touchpoint::storage::bi::statements("touchpoint", c, &[], &Default::default(), Some("Ordinary"))
                })
                .map(|st| ("the BI database".to_string(), st)),
        )
        .chain(sql_in_docs("docs/bi.md").into_iter().map(|st| ("docs/bi.md".to_string(), st)))
        .collect();
    let input =
        serde_json::to_vec(&serde_json::json!({"migrations": statements, "queries": queries, "parsed": on_cluster}))
            .unwrap();
    let script = repo().join("tests/chdb_migrations.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (./scripts/test.sh installs it with chdb-core)");
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&output.stderr));

    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(report["version"].as_str().unwrap().split('.').next().unwrap().parse::<u32>().unwrap() >= 24);
    let expected: Vec<&&str> = crate::support::ALL_TABLES.iter().filter(|t| **t != "schema_migrations").collect();
    assert_eq!(report["tables"], serde_json::json!(expected));
}

#[tokio::test]
async fn a_column_an_interrupted_run_added_is_taken_as_added() {
    let storage = fresh_storage().await;
    let table = one("0001_t.sql", "CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = MergeTree ORDER BY x;");
    migrations::run(&storage, std::slice::from_ref(&table)).await.unwrap();
    // The first of two columns was added, then the run stopped before recording it.
    storage.client().query("ALTER TABLE t ADD COLUMN a String").execute().await.unwrap();
    let add = one("0002_columns.sql", "ALTER TABLE t ADD COLUMN a String;\nALTER TABLE t ADD COLUMN b String;");

    let report = migrations::run(&storage, &[table, add]).await.unwrap();

    assert_eq!(report.applied, ["0002_columns.sql"]);
    let columns: Vec<String> = storage
        .client()
        .query("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 't' ORDER BY name")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(columns, ["a", "b", "x"]);
    let other = one("0003_bad.sql", "ALTER TABLE missing ADD COLUMN a String;");
    assert!(migrations::run(&storage, &[other]).await.is_err(), "only a duplicate column is forgiven");
}

/// The statements of the ```sql blocks of a document: what it tells an
/// operator to run must at least parse on current ClickHouse.
fn sql_in_docs(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    let blocks = text.split("```sql\n").skip(1).map(|b| b.split("```").next().unwrap().to_string());
    let statements: Vec<String> =
        blocks.flat_map(|b| migrations::statements(&b).into_iter().map(str::to_string).collect::<Vec<_>>()).collect();
    assert!(!statements.is_empty(), "{path} has SQL");
    statements
}

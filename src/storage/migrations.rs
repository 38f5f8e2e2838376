//! Schema migrations: `migrations/NNNN_name.sql`, applied in order and recorded
//! with a checksum in `schema_migrations`.
//!
//! A migration file holds one or more statements separated by `;`. Statements
//! must be safe to run twice (`IF NOT EXISTS`): ClickHouse has no transactional
//! DDL, so a migration interrupted half-way is simply run again from the top.

use std::collections::{BTreeMap, BTreeSet};

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::instrument;

use super::{Storage, StorageError};

/// The migrations shipped inside the binary, so a deployed service needs no
/// folder beside it.
static EMBEDDED: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/migrations");

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
    (version UInt32, name String, checksum String, applied_at DateTime) \
    ENGINE = MergeTree ORDER BY version";

#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    pub version: u32,
    /// The file name, e.g. `0001_feedback.sql`.
    pub name: String,
    pub sql: String,
    /// SHA-256 of the file, hex.
    pub checksum: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("migration file {name}: {message}")]
    BadFile { name: String, message: String },
    #[error(
        "migration {name} was applied with checksum {applied} but the file now has {current}; \
         applied migrations must not change: revert the edit and add a new migration instead"
    )]
    Changed { name: String, applied: String, current: String },
    #[error("migration {name} failed: {source}")]
    Failed { name: String, source: StorageError },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Migration {
    /// Parses `NNNN_name.sql` and its text.
    pub fn new(name: &str, sql: &str) -> Result<Migration, MigrationError> {
        let bad = |message: &str| MigrationError::BadFile { name: name.to_string(), message: message.to_string() };
        let stem = name.strip_suffix(".sql").ok_or_else(|| bad("the name must end with .sql"))?;
        let (number, label) =
            stem.split_once('_').ok_or_else(|| bad("the name must look like 0001_create_feedback.sql"))?;
        if number.len() != 4 || label.is_empty() {
            return Err(bad("the name must look like 0001_create_feedback.sql"));
        }
        let version = number.parse().map_err(|_| bad("the name must start with four digits"))?;
        if statements(sql).is_empty() {
            return Err(bad("the file holds no statement"));
        }
        let checksum = format!("{:x}", Sha256::digest(sql.as_bytes()));
        Ok(Migration { version, name: name.to_string(), sql: sql.to_string(), checksum })
    }

    /// The migrations compiled into this binary, in order.
    pub fn embedded() -> Vec<Migration> {
        let files = EMBEDDED.files().filter_map(|f| Some((f.path().to_str()?, f.contents_utf8()?)));
        // The set is fixed at build time and covered by tests, so a bad file is a build defect.
        ordered(files).expect("the migrations embedded at build time are valid")
    }

    /// The statements of this migration, in order.
    pub fn statements(&self) -> Vec<&str> {
        statements(&self.sql)
    }
}

fn ordered<'a>(files: impl Iterator<Item = (&'a str, &'a str)>) -> Result<Vec<Migration>, MigrationError> {
    let mut by_version = BTreeMap::new();
    for (name, sql) in files {
        let migration = Migration::new(name, sql)?;
        if let Some(other) = by_version.insert(migration.version, migration) {
            return Err(MigrationError::BadFile {
                name: other.name,
                message: format!("another file has the same number {:04}", other.version),
            });
        }
    }
    Ok(by_version.into_values().collect())
}

/// Splits SQL on the `;` that end statements, leaving alone those inside
/// quotes and comments. Empty statements are dropped.
pub fn statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                out.push(&sql[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&sql[start.min(sql.len())..]);
    out.into_iter().filter(|s| has_code(s)).map(str::trim).collect()
}

/// True when a piece of SQL holds more than white space and comments.
fn has_code(sql: &str) -> bool {
    sql.lines().map(|l| l.split("--").next().unwrap_or_default().trim()).any(|l| !l.is_empty())
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct Applied {
    version: u32,
    name: String,
    checksum: String,
    applied_at: u32,
}

/// What a run did.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    /// Names of the migrations applied by this run, in order.
    pub applied: Vec<String>,
    /// How many were already applied before.
    pub already: usize,
}

/// Applies every migration not yet recorded, in order. Refuses to go on if an
/// applied migration's file has changed.
#[instrument(skip_all, fields(database = %storage.database()))]
pub async fn run(storage: &Storage, migrations: &[Migration]) -> Result<Report, MigrationError> {
    let client = storage.client();
    let shards = match storage.cluster() {
        Some(cluster) => super::cluster::shards(storage, cluster).await?,
        None => 1,
    };
    // Only when missing: on a cluster it is an `ON CLUSTER` statement, which
    // waits for every server (see `twins`).
    if !ledger_exists(storage).await? {
        client.query_raw(&sent(storage, CREATE_LEDGER, shards)).execute().await.map_err(StorageError::from)?;
    }
    let applied = applied(storage).await?;
    let mut report = Report::default();
    let mut changed = BTreeSet::new();
    for migration in migrations {
        if let Some(done) = applied.get(&migration.version) {
            check_unchanged(migration, done)?;
            report.already += 1;
            continue;
        }
        apply(storage, migration, shards).await?;
        changed.extend(migration.statements().into_iter().filter_map(super::cluster::sharded_table_changed));
        report.applied.push(migration.name.clone());
    }
    if let Some(cluster) = storage.cluster() {
        twins(storage, cluster, &changed).await?;
    }
    // Not a reason to stop the service: a user without the right to make
    // another database still runs it, only without the BI views.
    if let Err(e) = super::bi::ensure(storage, &changed).await {
        tracing::warn!(error = %e, "cannot make the BI database (docs/bi.md); BI tools cannot read the views");
    }
    Ok(report)
}

/// Makes the event tables' twins that read every shard where this server
/// lacks one, and again where a migration changed the table. Only then: an
/// `ON CLUSTER` statement waits for every server, so an instance starting
/// while a server is down would otherwise wait out the DDL timeout.
async fn twins(storage: &Storage, cluster: &str, changed: &BTreeSet<&str>) -> Result<(), StorageError> {
    let sql = "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'Distributed'";
    let present: Vec<String> = storage.client().query(sql).fetch_all().await?;
    for table in super::cluster::SHARDED {
        let fresh = changed.contains(table);
        if !fresh && present.contains(&super::cluster::everywhere(table)) {
            continue;
        }
        for statement in super::cluster::distributed(table, cluster, storage.database(), fresh) {
            storage.client().query_raw(&statement).execute().await?;
        }
    }
    Ok(())
}

/// Names of the migrations not applied yet; errors if an applied one changed.
#[instrument(skip_all)]
pub async fn pending(storage: &Storage, migrations: &[Migration]) -> Result<Vec<String>, MigrationError> {
    let applied = if ledger_exists(storage).await? { applied(storage).await? } else { BTreeMap::new() };
    let mut pending = Vec::new();
    for migration in migrations {
        match applied.get(&migration.version) {
            Some(done) => check_unchanged(migration, done)?,
            None => pending.push(migration.name.clone()),
        }
    }
    Ok(pending)
}

async fn ledger_exists(storage: &Storage) -> Result<bool, StorageError> {
    let sql = "SELECT count() > 0 FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'";
    Ok(storage.client().query(sql).fetch_one::<u8>().await? == 1)
}

async fn applied(storage: &Storage) -> Result<BTreeMap<u32, Applied>, StorageError> {
    let rows =
        storage.client().query("SELECT ?fields FROM schema_migrations ORDER BY version").fetch_all::<Applied>().await?;
    Ok(rows.into_iter().map(|r| (r.version, r)).collect())
}

fn check_unchanged(migration: &Migration, applied: &Applied) -> Result<(), MigrationError> {
    if applied.checksum == migration.checksum {
        return Ok(());
    }
    Err(MigrationError::Changed {
        name: migration.name.clone(),
        applied: applied.checksum.clone(),
        current: migration.checksum.clone(),
    })
}

/// `statement` as sent: as written on one server, `ON CLUSTER` with
/// replicated engines on a cluster of `shards` shards (`super::cluster`).
fn sent(storage: &Storage, statement: &str, shards: usize) -> String {
    match storage.cluster() {
        Some(cluster) => super::cluster::on_cluster(statement, cluster, storage.database(), shards),
        None => statement.to_string(),
    }
}

/// How ClickHouse 18.16 ends a replicated table's ALTER when a replica is down
/// or slow (code 341, UNFINISHED): the change is in ZooKeeper already, and
/// that replica applies it when it is back.
const ALTER_LEFT_TO_REPLICAS: &str = "Code: 341";

/// How ClickHouse (18.16 and current, code 44) refuses a column that exists.
const DUPLICATE_COLUMN: &str = "column with this name already exists";

/// `ALTER TABLE … ADD COLUMN …` adding one column: the statement a duplicate
/// column makes a no-op. (With several, an error leaves unclear which exist.)
fn adds_one_column(statement: &str) -> bool {
    let code: String = statement
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    code.trim_start().starts_with("ALTER TABLE") && code.matches("ADD COLUMN").count() == 1
}

#[instrument(skip_all, fields(migration = %migration.name))]
async fn apply(storage: &Storage, migration: &Migration, shards: usize) -> Result<(), MigrationError> {
    let failed = |source: StorageError| MigrationError::Failed { name: migration.name.clone(), source };
    let client = storage.client();
    for statement in migration.statements() {
        let statement = &sent(storage, statement, shards);
        // Raw: migration text is sent as written, a `?` in it is not a bind slot.
        match client.query_raw(statement).execute().await {
            Ok(()) => {}
            // ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: a column that an
            // interrupted or concurrent run added is there, which is the goal.
            Err(e) if adds_one_column(statement) && e.to_string().contains(DUPLICATE_COLUMN) => {
                tracing::info!(statement, "the column exists already");
            }
            Err(e) if storage.cluster().is_some() && e.to_string().contains(ALTER_LEFT_TO_REPLICAS) => {
                tracing::warn!(statement, error = %e, "a replica applies this ALTER when it is back");
            }
            Err(e) => return Err(failed(e.into())),
        }
    }
    let mut insert = client.insert::<Applied>("schema_migrations").await.map_err(|e| failed(e.into()))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let row = Applied {
        version: migration.version,
        name: migration.name.clone(),
        checksum: migration.checksum.clone(),
        applied_at: u32::try_from(now.as_secs()).unwrap_or(u32::MAX),
    };
    insert.write(&row).await.map_err(|e| failed(e.into()))?;
    insert.end().await.map_err(|e| failed(e.into()))?;
    tracing::info!("migration applied");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alter_adding_one_column_is_recognised() {
        assert!(adds_one_column("-- roles\nALTER TABLE analysts ADD COLUMN role String DEFAULT 'analyst'"));
        assert!(!adds_one_column("ALTER TABLE a ADD COLUMN x UInt8, ADD COLUMN y UInt8"));
        assert!(!adds_one_column("CREATE TABLE a (x UInt8) ENGINE = Memory -- ADD COLUMN"));
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let sql = "-- a; comment\nCREATE TABLE a (s String DEFAULT ';');\n/* b; */ SELECT 'x\\';y';\n\n-- trailing;\n";
        assert_eq!(
            statements(sql),
            vec!["-- a; comment\nCREATE TABLE a (s String DEFAULT ';')", "/* b; */ SELECT 'x\\';y'"]
        );
    }

    #[test]
    fn names_must_carry_a_four_digit_version() {
        assert!(Migration::new("1_x.sql", "SELECT 1").is_err());
        assert!(Migration::new("0001_x.txt", "SELECT 1").is_err());
        assert!(Migration::new("0001_.sql", "SELECT 1").is_err());
        assert!(Migration::new("0001_x.sql", "-- nothing\n").is_err());
        assert_eq!(Migration::new("0042_x.sql", "SELECT 1").unwrap().version, 42);
    }

    #[test]
    fn embedded_migrations_are_ordered_and_create_the_event_tables() {
        let all = Migration::embedded();
        assert!(all.windows(2).all(|w| w[0].version < w[1].version));
        let text: String = all.iter().map(|m| m.sql.as_str()).collect();
        for table in ["feedback", "timings", "calls", "correspondence"] {
            assert!(text.contains(&format!("CREATE TABLE IF NOT EXISTS {table}")), "{table}");
        }
    }
}

//! Everything that talks to ClickHouse: the client, migrations, and the local
//! server `touchpoint serve` starts when no server is configured.

pub mod bi;
pub mod claims;
pub mod cluster;
pub mod embedded;
pub(crate) mod event_claims;
pub mod key;
pub mod migrations;
pub mod recall;
mod reconcile;
pub mod rows;
pub mod secrets;
mod shipper;
pub mod spool;
pub mod writer;

use std::time::Duration;

use secrecy::ExposeSecret;
use tracing::instrument;

/// How long a health probe may wait for ClickHouse before calling it unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("ClickHouse query failed: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("ClickHouse did not answer within {0:?}")]
    Timeout(Duration),
}

pub use crate::config::Endpoint;

/// A handle on the service's ClickHouse database. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    client: clickhouse::Client,
    database: String,
    /// Where the server lives, without credentials; for logs and errors.
    location: String,
    /// The cluster whose replicas hold the tables (`clickhouse.cluster`).
    cluster: Option<String>,
}

impl Storage {
    /// Builds the client; sends nothing until the first query.
    pub fn new(endpoint: &Endpoint, database: &str) -> Storage {
        let client = clickhouse::Client::default()
            .with_url(endpoint.url.as_str().trim_end_matches('/'))
            .with_user(endpoint.user.clone())
            .with_password(endpoint.password.expose_secret().to_string())
            .with_database(database)
            // ClickHouse 18.16 lacks RowBinaryWithNamesAndTypes; every row type is
            // checked against the schema by the integration tests instead.
            .with_validation(false);
        Storage { client, database: database.to_string(), location: redacted(&endpoint.url), cluster: None }
    }

    /// This storage on the replicated cluster `cluster` (see [`cluster`]).
    pub fn on_cluster(mut self, cluster: Option<String>) -> Storage {
        self.cluster = cluster;
        self
    }

    /// Where to read `table` from for every shard's rows: its `Distributed`
    /// twin for the event tables on a cluster, the table itself otherwise.
    pub fn everywhere(&self, table: &str) -> String {
        match self.cluster {
            Some(_) if cluster::SHARDED.contains(&table) => cluster::everywhere(table),
            _ => table.to_string(),
        }
    }

    /// A read query over every shard's rows: on a cluster, each event table
    /// it reads replaced by its `Distributed` twin; as written otherwise.
    pub fn everywhere_in<'a>(&self, sql: &'a str) -> std::borrow::Cow<'a, str> {
        match self.cluster {
            Some(_) => cluster::reading_everywhere(sql).into(),
            None => sql.into(),
        }
    }

    /// The cluster whose replicas hold the tables; `None` for one server.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    pub fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// Inserts one row into `table` as one INSERT: recorded whole or not at all.
    pub async fn insert_one<T>(&self, table: &str, row: &T) -> Result<(), StorageError>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        let mut insert = self.client.insert::<T>(table).await?;
        insert.write(row).await?;
        Ok(insert.end().await?)
    }

    /// Creates the database if it is missing. Runs against `default`, since the
    /// HTTP interface refuses a session whose database does not exist yet.
    #[instrument(skip_all, fields(database = %self.database))]
    pub async fn ensure_database(&self) -> Result<(), StorageError> {
        let server = self.client.clone().with_database("default");
        // The name was checked to be a plain identifier when the config was loaded.
        let sql = match &self.cluster {
            Some(cluster) => {
                // `ON CLUSTER` waits for every server: not at each start, or
                // an instance could not start while another server is down.
                let here: u8 = server
                    .query("SELECT count() FROM system.databases WHERE name = ?")
                    .bind(&self.database)
                    .fetch_one()
                    .await?;
                if here > 0 {
                    return Ok(());
                }
                cluster::create_database(&self.database, cluster)
            }
            None => format!("CREATE DATABASE IF NOT EXISTS `{}`", self.database),
        };
        server.query_raw(&sql).execute().await?;
        Ok(())
    }

    /// Checks that the server answers, within [`PING_TIMEOUT`].
    #[instrument(skip_all)]
    pub async fn ping(&self) -> Result<(), StorageError> {
        let probe = self.client.query("SELECT 1").fetch_one::<u8>();
        match tokio::time::timeout(PING_TIMEOUT, probe).await {
            Ok(result) => result.map(|_| ()).map_err(StorageError::from),
            Err(_) => Err(StorageError::Timeout(PING_TIMEOUT)),
        }
    }

    /// Waits until the server answers, for servers that start beside the service.
    pub async fn wait_until_up(&self, patience: Duration) -> Result<(), StorageError> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match self.ensure_database().await {
                Ok(()) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(e) => {
                    tracing::info!(error = %e, location = %self.location, "waiting for ClickHouse");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}

/// The URL without user name or password, safe to log.
pub fn redacted(url: &url::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

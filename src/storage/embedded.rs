//! A local ClickHouse server owned by the service, for `touchpoint serve`
//! without `TOUCHPOINT_CLICKHOUSE_URL`: loopback only, free ports, data and logs
//! under one folder that the next start reuses.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::Endpoint;
use crate::config::EmbeddedConfig;

/// Places a ClickHouse binary is looked for when none is configured; `/usr/sbin`
/// is listed because Debian puts `clickhouse-server` there, outside most users' PATH.
const SEARCH_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/usr/local/bin"];
const STOP_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no ClickHouse server binary found (looked for `clickhouse-server` and `clickhouse` in PATH and {dirs}). \
         Install one (Debian/Ubuntu: `apt-get install clickhouse-server`), set `clickhouse.embedded.binary` \
         (TOUCHPOINT_CLICKHOUSE_BINARY), or use a running server: TOUCHPOINT_CLICKHOUSE_URL=http://host:8123"
    , dirs = SEARCH_DIRS.join(", "))]
    NoBinary,
    #[error(
        "ClickHouse binary {0} does not exist: fix `clickhouse.embedded.binary` (TOUCHPOINT_CLICKHOUSE_BINARY) \
         or use a running server: TOUCHPOINT_CLICKHOUSE_URL=http://host:8123"
    )]
    MissingBinary(PathBuf),
    #[error("cannot prepare {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the local ClickHouse server exited during start ({status}); its error log {log} ends with:\n{tail}")]
    Exited { status: String, log: PathBuf, tail: String },
    #[error("the local ClickHouse server did not answer within {0:?}; see its logs in {1}")]
    Timeout(Duration, PathBuf),
}

/// A running local server. Stop it with [`EmbeddedClickHouse::stop`]; if the
/// service dies instead, the kernel stops it (parent-death signal).
pub struct EmbeddedClickHouse {
    child: Child,
    http_port: u16,
    password: SecretString,
    dir: PathBuf,
}

/// The local server's read-only user, for a ministry's BI tool: it reads
/// the BI database's dictionaries (`storage::bi`) and nothing else.
pub const BI_USER: &str = "bi";

/// The user the BI dictionaries load as, from their source views in the
/// service's database; read-only, and used by nothing else.
const BI_SOURCE_USER: &str = "bi_source";

/// The read-only profile of both BI users. A read-only user may not change a
/// setting, so these limits hold.
const BI_PROFILE: &str = "<readonly>1</readonly>
            <max_execution_time>30</max_execution_time>
            <max_memory_usage>1000000000</max_memory_usage>";

/// The users of the local server and their passwords.
struct Users<'a> {
    /// The service's database.
    database: &'a str,
    /// Of `default`, the service's user.
    password: SecretString,
    /// Of [`BI_USER`].
    bi_password: SecretString,
    /// Of [`BI_SOURCE_USER`].
    source_password: SecretString,
}

impl EmbeddedClickHouse {
    /// Starts the server and waits until it answers. `database` is the
    /// service's: the read-only user `bi` reads its BI database alone.
    pub async fn start(cfg: &EmbeddedConfig, database: &str) -> Result<EmbeddedClickHouse, EmbeddedError> {
        let (program, args) = find_binary(cfg.binary.as_deref())?;
        let dir = absolute(&cfg.data_dir)?;
        let layout = Layout::new(&dir);
        layout.create()?;
        let users = Users {
            database,
            password: layout.secret("password")?,
            bi_password: layout.secret("bi_password")?,
            source_password: layout.secret("bi_source_password")?,
        };
        let (http_port, tcp_port) = layout.ports()?;
        layout.write_configs(http_port, tcp_port, &users)?;
        let password = users.password;

        let stdout = layout.open_append(&layout.log.join("stdout.log"))?;
        let stderr = stdout.try_clone().map_err(|e| io(&layout.log, e))?;
        let mut command = Command::new(&program);
        command
            .args(args)
            .arg(format!("--config-file={}", layout.config.display()))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // Its own process group: Ctrl-C in a terminal reaches only the service,
            // which then flushes what it holds before stopping the server.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from));
        }
        let child = command.spawn().map_err(|e| io(&program, e))?;
        tracing::info!(binary = %program.display(), http_port, data_dir = %dir.display(), "starting local ClickHouse");
        let mut server = EmbeddedClickHouse { child, http_port, password, dir };
        server.wait_until_answering(cfg.start_timeout, &layout).await?;
        Ok(server)
    }

    /// Where the service connects.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: format!("http://127.0.0.1:{}", self.http_port).parse().expect("a loopback URL parses"),
            user: "default".into(),
            password: self.password.clone(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Asks the server to shut down and waits for it.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
        match tokio::time::timeout(STOP_PATIENCE, self.child.wait()).await {
            Ok(status) => {
                tracing::info!(status = %status?, "local ClickHouse stopped");
                Ok(())
            }
            Err(_) => {
                tracing::warn!("local ClickHouse ignored SIGTERM for {STOP_PATIENCE:?}; killing it");
                self.child.kill().await
            }
        }
    }

    async fn wait_until_answering(&mut self, patience: Duration, layout: &Layout) -> Result<(), EmbeddedError> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = layout.log.join("clickhouse-server.err.log");
                return Err(EmbeddedError::Exited { status: status.to_string(), tail: tail(&log), log });
            }
            if ping(self.http_port).await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.child.kill().await;
                return Err(EmbeddedError::Timeout(patience, layout.log.clone()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The local server another touchpoint process started in this folder, if it
/// answers: `touchpoint user add` and friends use it instead of starting one.
pub async fn running(cfg: &EmbeddedConfig) -> Option<Endpoint> {
    let dir = absolute(&cfg.data_dir).ok()?;
    let ports = std::fs::read_to_string(dir.join("ports")).ok()?;
    let http: u16 = ports.split_whitespace().next()?.parse().ok()?;
    let password = std::fs::read_to_string(dir.join("password")).ok()?;
    if !ping(http).await {
        return None;
    }
    Some(Endpoint {
        url: format!("http://127.0.0.1:{http}").parse().ok()?,
        user: "default".into(),
        password: SecretString::from(password.trim().to_string()),
    })
}

/// `clickhouse-server` takes the config directly; the single `clickhouse`
/// binary of current releases wants the `server` subcommand first.
fn find_binary(configured: Option<&Path>) -> Result<(PathBuf, Vec<&'static str>), EmbeddedError> {
    let args_for = |p: &Path| {
        if p.file_name().is_some_and(|n| n == "clickhouse") { vec!["server"] } else { vec![] }
    };
    if let Some(path) = configured {
        if !path.exists() {
            return Err(EmbeddedError::MissingBinary(path.to_path_buf()));
        }
        return Ok((path.to_path_buf(), args_for(path)));
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path_var).chain(SEARCH_DIRS.iter().map(PathBuf::from)).collect();
    for name in ["clickhouse-server", "clickhouse"] {
        if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
            let args = args_for(&found);
            return Ok((found, args));
        }
    }
    Err(EmbeddedError::NoBinary)
}

/// True when the server's HTTP interface answers `/ping`.
async fn ping(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer.ends_with(b"Ok.\n"))
    };
    matches!(tokio::time::timeout(Duration::from_secs(1), attempt).await, Ok(Ok(true)))
}

/// The local server's users: the service's, the BI user and the user the
/// BI dictionaries load as (docs/bi.md).
fn users_xml(users: &Users) -> String {
    let hash = |secret: &SecretString| format!("{:x}", Sha256::digest(secret.expose_secret().as_bytes()));
    let (service, bi, source) = (hash(&users.password), hash(&users.bi_password), hash(&users.source_password));
    let (database, source_user) = (users.database, BI_SOURCE_USER);
    let bi_database = super::bi::database_of(database);
    format!(
        r#"<?xml version="1.0"?>
<!-- Written by touchpoint at every start of its local ClickHouse; edits are lost. -->
<yandex>
    <profiles>
        <default></default>
        <bi>
            {BI_PROFILE}
        </bi>
    </profiles>
    <users>
        <default>
            <password_sha256_hex>{service}</password_sha256_hex>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <{BI_USER}>
            <password_sha256_hex>{bi}</password_sha256_hex>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>bi</profile>
            <quota>bi</quota>
            <allow_databases><database>{bi_database}</database></allow_databases>
        </{BI_USER}>
        <{source_user}>
            <password_sha256_hex>{source}</password_sha256_hex>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>bi</profile>
            <quota>default</quota>
            <allow_databases><database>{database}</database></allow_databases>
        </{source_user}>
    </users>
    <quotas>
        <default></default>
        <!-- At most half an hour of query time an hour. -->
        <bi><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows>
            <read_rows>0</read_rows><execution_time>1800</execution_time></interval></bi>
    </quotas>
</yandex>
"#
    )
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

fn io(path: &Path, source: std::io::Error) -> EmbeddedError {
    EmbeddedError::Io { path: path.to_path_buf(), source }
}

fn absolute(path: &Path) -> Result<PathBuf, EmbeddedError> {
    std::path::absolute(path).map_err(|e| io(path, e))
}

/// The files of the local server inside its data folder.
struct Layout {
    root: PathBuf,
    config: PathBuf,
    users: PathBuf,
    dictionaries: PathBuf,
    log: PathBuf,
}

impl Layout {
    fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
            config: root.join("config.xml"),
            users: root.join("users.xml"),
            dictionaries: root.join("bi_dictionaries.xml"),
            log: root.join("log"),
        }
    }

    fn create(&self) -> Result<(), EmbeddedError> {
        for sub in ["data", "tmp", "user_files", "format_schemas", "log"] {
            let dir = self.root.join(sub);
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        Ok(())
    }

    /// A password of the server's (`password`: the service's user;
    /// `bi_password`: the BI user; `bi_source_password`: the user the BI
    /// dictionaries load as), made on first start and kept
    /// readable by the owner alone: other local users must not read the data.
    fn secret(&self, file: &str) -> Result<SecretString, EmbeddedError> {
        let path = self.root.join(file);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Ok(SecretString::from(existing.trim().to_string()));
        }
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        file.write_all(fresh.as_bytes()).map_err(|e| io(&path, e))?;
        Ok(SecretString::from(fresh))
    }

    /// The ports of the last start when they are still free, so that clients
    /// configured by hand keep working; fresh free ports otherwise.
    fn ports(&self) -> Result<(u16, u16), EmbeddedError> {
        let path = self.root.join("ports");
        let previous = std::fs::read_to_string(&path).ok().and_then(|text| {
            let mut it = text.split_whitespace().map(str::parse::<u16>);
            Some((it.next()?.ok()?, it.next()?.ok()?))
        });
        let ports = match previous {
            Some((http, tcp)) if port_free(http) && port_free(tcp) => (http, tcp),
            _ => two_free_ports(&path)?,
        };
        std::fs::write(&path, format!("{} {}\n", ports.0, ports.1)).map_err(|e| io(&path, e))?;
        Ok(ports)
    }

    fn write_configs(&self, http_port: u16, tcp_port: u16, users: &Users) -> Result<(), EmbeddedError> {
        let root = self.root.display();
        let config = format!(
            r#"<?xml version="1.0"?>
<!-- Written by touchpoint at every start of its local ClickHouse; edits are lost. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>{root}/log/clickhouse-server.log</log>
        <errorlog>{root}/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <path>{root}/data/</path>
    <tmp_path>{root}/tmp/</tmp_path>
    <user_files_path>{root}/user_files/</user_files_path>
    <format_schema_path>{root}/format_schemas/</format_schema_path>
    <users_config>{root}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <!-- As in the stock config: idle HTTP connections end after 3 s, so a stop
         does not wait on clients that keep connections open. -->
    <keep_alive_timeout>3</keep_alive_timeout>
    <!-- What BI tools read (touchpoint's docs/bi.md). -->
    <dictionaries_config>{dictionaries}</dictionaries_config>
</yandex>
"#,
            dictionaries = self.dictionaries.display(),
        );
        let source = super::bi::Source {
            host: "127.0.0.1",
            port: tcp_port,
            user: BI_SOURCE_USER,
            password: users.source_password.expose_secret(),
        };
        self.write_private(&self.config, &config)?;
        self.write_private(&self.dictionaries, &super::bi::dictionaries_xml(users.database, &source))?;
        self.write_private(&self.users, &users_xml(users))
    }

    /// Writes a config file readable by the owner alone: the dictionaries'
    /// file holds the BI source user's password, `users.xml` the hashes.
    fn write_private(&self, path: &Path, text: &str) -> Result<(), EmbeddedError> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| io(path, e))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| io(path, e))?;
        file.write_all(text.as_bytes()).map_err(|e| io(path, e))
    }

    fn open_append(&self, path: &Path) -> Result<std::fs::File, EmbeddedError> {
        std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| io(path, e))
    }
}

fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Both listeners stay open until both ports are known, so the two differ.
fn two_free_ports(context: &Path) -> Result<(u16, u16), EmbeddedError> {
    let bind = || std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| io(context, e));
    let port = |l: &std::net::TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| io(context, e));
    let (a, b) = (bind()?, bind()?);
    Ok((port(&a)?, port(&b)?))
}

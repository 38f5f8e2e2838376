//! A replicated ClickHouse cluster on loopback for the tests (and the
//! cluster bench): ZooKeeper from Debian's `zookeeper` package and
//! ClickHouse 18.16 servers as `shards` × `replicas`, every port free,
//! everything under one folder, every process killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster's name in every server's `remote_servers`.
pub const CLUSTER: &str = "touchpoint";

fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct free ports: every listener stays open until all are known.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n).map(|_| std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap()).collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

fn wait(what: &str, patience: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < patience, "{what} did not start within {patience:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ask(port: u16, request: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return Vec::new() };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// `command` started with its output appended to `log`.
fn spawn_logged(mut command: Command, log: &Path, what: &str) -> Child {
    let log = std::fs::File::create(log).unwrap();
    command.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect(what)
}

/// A ZooKeeper server (standalone) on a free loopback port.
pub struct ZooKeeper {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl ZooKeeper {
    pub fn start(dir: &Path) -> ZooKeeper {
        let dir = dir.join("zookeeper");
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let port = free_port();
        let config = format!(
            "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\nmaxSessionTimeout=60000\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("zoo.cfg"), config).unwrap();
        let mut zk = ZooKeeper { port, dir, child: None };
        zk.resume();
        zk
    }

    /// Starts it (again, on the same port and data) and waits for `imok`.
    pub fn resume(&mut self) {
        let mut java = Command::new("java");
        java.args(["-Xmx256m", "-cp", "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar"])
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(self.dir.join("zoo.cfg"));
        let what = "java runs ZooKeeper (./scripts/test.sh installs the zookeeper package)";
        self.child = Some(spawn_logged(java, &self.dir.join("zookeeper.log"), what));
        // `ruok` answers before the server takes sessions; `srvr` names its mode once it does.
        let port = self.port;
        wait("ZooKeeper", Duration::from_secs(30), || {
            String::from_utf8_lossy(&ask(port, b"srvr")).contains("Mode: standalone")
        });
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One ClickHouse server of the cluster.
pub struct Replica {
    pub shard: usize,
    pub replica: usize,
    pub http: u16,
    pub tcp: u16,
    interserver: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Replica {
    pub fn url(&self) -> url::Url {
        format!("http://127.0.0.1:{}", self.http).parse().unwrap()
    }

    pub fn endpoint(&self) -> touchpoint::storage::Endpoint {
        touchpoint::storage::Endpoint { url: self.url(), user: "default".into(), password: Default::default() }
    }

    /// Starts it (again, on its ports and data) and waits until it answers.
    pub fn resume(&mut self) {
        let mut server = Command::new("clickhouse-server");
        server.arg(format!("--config-file={}", self.dir.join("config.xml").display())).current_dir(&self.dir);
        let what = "clickhouse-server runs (./scripts/test.sh installs it)";
        self.child = Some(spawn_logged(server, &self.dir.join("stdout.log"), what));
        let http = self.http;
        wait("ClickHouse", Duration::from_secs(60), || ask(http, b"GET /ping HTTP/1.0\r\n\r\n").ends_with(b"Ok.\n"));
    }

    /// The distinct finished queries clients sent it (not the parts a
    /// `Distributed` table sent on), as JSON lines of `query`: what
    /// tests/chdb_replay.py asks the shared server, and filters for reads.
    fn read_queries(&self) -> Vec<u8> {
        self.post("SYSTEM FLUSH LOGS");
        self.post("SELECT DISTINCT query FROM system.query_log WHERE type = 2 AND is_initial_query FORMAT JSONEachRow")
    }

    /// `sql`'s answer, as the `default` user.
    fn post(&self, sql: &str) -> Vec<u8> {
        let request = format!("POST / HTTP/1.0\r\nContent-Length: {}\r\n\r\n{sql}", sql.len());
        let answer = ask(self.http, request.as_bytes());
        let at = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(answer.len(), |i| i + 4);
        answer[at..].to_vec()
    }

    /// Kills it at once (SIGKILL): a node that dies.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `shards` × `replicas` ClickHouse servers sharing one ZooKeeper.
pub struct Cluster {
    pub zookeeper: ZooKeeper,
    pub replicas: Vec<Replica>,
    /// Servers that log at debug and log their queries (the tests'), rather
    /// than quiet ones (the bench's, where that would cost throughput).
    observed: bool,
}

impl Drop for Cluster {
    /// An observed cluster leaves each server's read queries in its
    /// `queries.jsonl`, for tests/chdb_replay.py to run on current ClickHouse.
    /// Servers go before ZooKeeper, so their logs end with the test rather
    /// than with lost sessions; a failed test prints what the servers said
    /// about distributed DDL and replication (CI keeps only the test output).
    fn drop(&mut self) {
        for node in &mut self.replicas {
            if self.observed && node.child.is_some() {
                let _ = std::fs::write(node.dir.join("queries.jsonl"), node.read_queries());
            }
            node.kill();
        }
        self.zookeeper.kill();
        if self.observed && std::thread::panicking() {
            for node in &self.replicas {
                eprintln!("--- s{}r{}: {}", node.shard, node.replica, node.dir.join("log/server.log").display());
                eprintln!("{}", telling_lines(&node.dir.join("log/server.log"), 60));
            }
        }
    }
}

/// The last `n` lines of a server log that say why DDL or replication stalls.
fn telling_lines(log: &Path, n: usize) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
    let telling = ["<Error>", "<Warning>", "DDLWorker", "ALTER", "Waiting for", "ZooKeeper session"];
    let lines: Vec<&str> = text.lines().filter(|l| telling.iter().any(|t| l.contains(t))).collect();
    let last = &lines[lines.len().saturating_sub(n)..];
    last.iter().map(|l| l.chars().take(300).collect::<String>()).collect::<Vec<_>>().join("\n")
}

impl Cluster {
    /// A cluster for a test: see [`Cluster::observed`].
    pub fn start(dir: &Path, shards: usize, replicas: usize) -> Cluster {
        Cluster::start_with(dir, shards, replicas, true)
    }

    /// A cluster for a bench: servers log warnings only and no queries.
    #[allow(dead_code)] // benches/cluster.rs includes this file
    pub fn start_quiet(dir: &Path, shards: usize, replicas: usize) -> Cluster {
        Cluster::start_with(dir, shards, replicas, false)
    }

    /// Gives every server the BI dictionaries of the service's database
    /// `database` (storage::bi), loading from the server itself as
    /// `default`, once their source views exist, and waits until each server
    /// has loaded them (it reads new config files every 5 s). Not by
    /// `SYSTEM RELOAD`: on 18.16 one that fails can crash the server later.
    #[allow(dead_code)] // benches/cluster.rs includes this file
    pub fn define_bi(&self, database: &str) {
        for node in &self.replicas {
            let source =
                touchpoint::storage::bi::Source { host: "127.0.0.1", port: node.tcp, user: "default", password: "" };
            let xml = touchpoint::storage::bi::dictionaries_xml(database, &source);
            std::fs::write(node.dir.join("bi_dictionary.xml"), xml).unwrap();
        }
        let sql = "SELECT count() FROM system.dictionaries WHERE source != '' AND name LIKE 'bi\\_%'";
        let views = touchpoint::storage::bi::VIEWS.len().to_string();
        for node in &self.replicas {
            wait("the BI dictionaries", Duration::from_secs(30), || {
                String::from_utf8_lossy(&node.post(sql)).trim() == views
            });
        }
    }

    fn start_with(dir: &Path, shards: usize, replicas: usize, observed: bool) -> Cluster {
        let zookeeper = ZooKeeper::start(dir);
        let mut nodes = Vec::new();
        let mut ports = free_ports(3 * shards * replicas).into_iter();
        let mut port = || ports.next().expect("a port per listener");
        for shard in 1..=shards {
            for replica in 1..=replicas {
                let dir = dir.join(format!("s{shard}r{replica}"));
                for sub in ["data", "tmp", "log", "user_files", "format_schemas"] {
                    std::fs::create_dir_all(dir.join(sub)).unwrap();
                }
                let (http, tcp, interserver) = (port(), port(), port());
                nodes.push(Replica { shard, replica, http, tcp, interserver, dir, child: None });
            }
        }
        let servers = remote_servers(&nodes, shards);
        for node in &nodes {
            write_config(node, &servers, zookeeper.port, observed);
        }
        for node in &mut nodes {
            node.resume();
        }
        Cluster { zookeeper, replicas: nodes, observed }
    }
}

fn remote_servers(nodes: &[Replica], shards: usize) -> String {
    let mut xml = String::new();
    for shard in 1..=shards {
        xml.push_str("<shard><internal_replication>true</internal_replication>");
        for n in nodes.iter().filter(|n| n.shard == shard) {
            xml.push_str(&format!("<replica><host>127.0.0.1</host><port>{}</port></replica>", n.tcp));
        }
        xml.push_str("</shard>");
    }
    format!("<remote_servers><{CLUSTER}>{xml}</{CLUSTER}></remote_servers>")
}

fn write_config(node: &Replica, servers: &str, zookeeper: u16, observed: bool) {
    let root = node.dir.display();
    // debug: DDLWorker and ALTER progress are logged at that level; a failed test prints them.
    let level = if observed { "debug" } else { "warning" };
    let config = format!(
        r#"<?xml version="1.0"?>
<yandex>
    <logger><level>{level}</level><log>{root}/log/server.log</log><errorlog>{root}/log/server.err.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <interserver_http_port>{interserver}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>{root}/data/</path>
    <tmp_path>{root}/tmp/</tmp_path>
    <user_files_path>{root}/user_files/</user_files_path>
    <format_schema_path>{root}/format_schemas/</format_schema_path>
    <users_config>{root}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <keep_alive_timeout>3</keep_alive_timeout>
    <dictionaries_config>{root}/*_dictionary.xml</dictionaries_config>
    <zookeeper><node><host>127.0.0.1</host><port>{zookeeper}</port></node><session_timeout_ms>6000</session_timeout_ms></zookeeper>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
    <macros><shard>{shard:02}</shard><replica>s{shard}r{replica}</replica></macros>
    <!-- A server killed mid-INSERT keeps a part ZooKeeper never heard of; in a small table that
         is most of its rows, and the default (0.5) would stop the server from starting. The part
         was never acknowledged: it is detached, and the writer's spool sends its rows again. -->
    <merge_tree><replicated_max_ratio_of_wrong_parts>1</replicated_max_ratio_of_wrong_parts></merge_tree>
    {servers}
</yandex>
"#,
        http = node.http,
        tcp = node.tcp,
        interserver = node.interserver,
        shard = node.shard,
        replica = node.replica,
    );
    let log_queries = if observed { "<log_queries>1</log_queries>" } else { "" };
    let users = format!(
        r#"<?xml version="1.0"?>
<yandex>
    <profiles><default>{log_queries}</default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default></default></quotas>
</yandex>
"#
    );
    std::fs::write(node.dir.join("config.xml"), config).unwrap();
    std::fs::write(node.dir.join("users.xml"), users).unwrap();
}

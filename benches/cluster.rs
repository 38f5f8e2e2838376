//! Capture on a replicated cluster on this machine (issue 17).
//!
//!     cargo bench --bench cluster -- [--shards 2] [--replicas 2] [--seconds 20] [--connections 32]
//!
//! Starts ZooKeeper and `--shards` × `--replicas` ClickHouse 18.16 servers
//! (tests/it/cluster/launcher.rs), one release `touchpoint serve` per shard
//! on that shard's first replica (`clickhouse.cluster` set: the first one's
//! migrations create every table on every server), then one wrk per
//! instance at once, posting single ratings for `--seconds`. Reports each
//! shard's events per second and checks that every event an instance
//! spooled (its `/metrics`) is stored once on every replica of its shard and
//! counted once in its rollup.

#[path = "../tests/it/cluster/launcher.rs"]
#[allow(dead_code)] // the tests also stop and start ZooKeeper
mod launcher;

mod common;

use std::time::{Duration, Instant};

use common::{Service, spooled, wrk};
use touchpoint::storage::Storage;

const RATING: &str = r#"{"event_id":"EVENT_ID","site":"demo","journey":"scrap-metal-licensing","stage":"information_search","touchpoint":"site","scale":"csat","score":4,"comment":"Информацию нашёл быстро","segment":"legal_entity","locale":"ru","session_id":"bench","page_path":"/licenzirovanie/"}"#;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn count(storage: &Storage, sql: &str) -> u64 {
    storage.client().query(sql).fetch_one().await.unwrap()
}

fn main() {
    let (shards, replicas) = (arg("--shards", 2) as usize, arg("--replicas", 2) as usize);
    let (seconds, connections) = (arg("--seconds", 20), arg("--connections", 32) as usize);
    wrk::ensure();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-cluster");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cluster = launcher::Cluster::start_quiet(&dir, shards, replicas);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let limits = "cluster = \"touchpoint\"\n[sites.demo]\njourneys = [\"scrap-metal-licensing\"]\n\
                      [limits]\nper_ip_burst = 1000000000\nper_ip_per_second = 1000000000\n\
                      per_site_burst = 1000000000\nper_site_per_second = 1000000000\n";
        let mut services = Vec::new();
        for shard in 1..=shards {
            let first = cluster.replicas.iter().find(|r| r.shard == shard && r.replica == 1).unwrap();
            let home = dir.join(format!("service-{shard}"));
            std::fs::create_dir_all(&home).unwrap();
            services.push(Service::start(&home, &first.endpoint(), limits).await);
        }
        // A token per instance, made through its own server: accounts are shared by every
        // shard, but reach the others by replication, a moment later.
        let mut tokens = Vec::new();
        for shard in 1..=shards {
            let first = cluster.replicas.iter().find(|r| r.shard == shard && r.replica == 1).unwrap();
            let storage = Storage::new(&first.endpoint(), "bench");
            let grant = touchpoint::accounts::auth::Grant::analyst();
            tokens.push(touchpoint::accounts::auth::create_token(&storage, "bench", &grant).await.unwrap());
        }
        let script = wrk::script(&dir, "single", RATING, 1);
        println!(
            "{shards} shards × {replicas} replicas, one instance per shard, {seconds} s of single ratings, \
             wrk with 1 thread and {connections} connections per instance; ZooKeeper, {} ClickHouse servers, \
             {shards} instances and {shards} wrk share 2 cores\n",
            shards * replicas
        );
        let started = Instant::now();
        let runs: Vec<_> = services
            .iter()
            .map(|s| {
                let (url, script) = (format!("{}/api/v1/feedback", s.base), script.clone());
                tokio::task::spawn_blocking(move || wrk::run(&url, &script, connections, seconds))
            })
            .collect();
        let mut total = 0.0;
        let mut accepted = Vec::new();
        for (shard, run) in runs.into_iter().enumerate() {
            let run = run.await.unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await; // requests in flight when wrk stopped
            println!(
                "shard {}: {:>8.0} events/s  p50 {:>6.1} ms  p99 {:>6.1} ms  ({} accepted, {} non-2xx, {} socket errors)",
                shard + 1,
                run.per_second,
                run.p50_ms,
                run.p99_ms,
                run.accepted(),
                run.non_2xx,
                run.socket_errors
            );
            total += run.per_second;
            accepted.push(spooled(&services[shard].base, &tokens[shard]).await);
        }
        println!("total:   {total:>8.0} events/s over {:.0} s\n", started.elapsed().as_secs_f64());
        for (shard, expected) in accepted.iter().enumerate() {
            for node in cluster.replicas.iter().filter(|r| r.shard == shard + 1) {
                let storage = Storage::new(&node.endpoint(), "bench");
                let deadline = Instant::now() + Duration::from_secs(120);
                while count(&storage, "SELECT count() FROM feedback").await < *expected && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                storage.client().query("SYSTEM SYNC REPLICA feedback_daily").execute().await.unwrap();
                let (rows, ids, rolled) = (
                    count(&storage, "SELECT count() FROM feedback").await,
                    count(&storage, "SELECT uniqExact(event_id) FROM feedback").await,
                    count(&storage, "SELECT toUInt64(sum(n)) FROM feedback_daily").await,
                );
                let exact = rows == *expected && ids == rows && rolled == rows;
                println!(
                    "shard {} replica {}: {rows} rows ({ids} distinct events), {rolled} in the rollup, of {expected} spooled{}",
                    shard + 1,
                    node.replica,
                    if exact { "" } else { "  ← MISMATCH" }
                );
            }
        }
        drop(services);
    });
    drop(cluster);
}

//! No request hangs forever: a time-out answers in our JSON shape, and a
//! shutdown ends within `spool.drain_timeout` whatever is in flight.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{spawn_app_with, test_config};

/// A connection that declares a 100-byte body and sends one byte of it.
async fn stuck_request(address: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://")).await.unwrap();
    let head = "POST /api/v1/feedback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn a_request_past_the_time_out_is_answered_503_in_json() {
    let mut config = test_config();
    config.request_timeout = Duration::from_millis(500);
    let app = spawn_app_with(config).await;
    let mut stream = stuck_request(&app.address).await;

    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;

    assert!(read.is_ok(), "answered and closed within 5 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("application/json") && answer.contains(r#""code":"timeout""#), "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn a_shutdown_ends_within_the_drain_timeout_with_a_request_in_flight() {
    let mut config = test_config();
    config.request_timeout = Duration::from_secs(120);
    config.spool.drain_timeout = Duration::from_secs(1);
    let app = spawn_app_with(config).await;
    let _stream = stuck_request(&app.address).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(20), app.stop()).await;

    assert!(stopped.is_ok(), "the shutdown did not wait for the stuck request");
    assert!(started.elapsed() < Duration::from_secs(4), "stopped in {:?}", started.elapsed());
}

//! Clients that send slowly, declare too much, or open too many connections
//! cannot hold the service's connections (`touchpoint::server`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::{TestApp, spawn_app_with, test_config};

async fn app() -> TestApp {
    let mut config = test_config();
    config.header_timeout = Duration::from_secs(1);
    config.request_timeout = Duration::from_secs(2);
    config.max_connections_per_address = 4;
    spawn_app_with(config).await
}

async fn connect(app: &TestApp, from: u8) -> TcpStream {
    let server: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, from)), 0)).unwrap();
    socket.connect(server).await.unwrap()
}

/// Everything the server sends until it closes the connection, and when it
/// closed; `None` if it is still open after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some((String::from_utf8_lossy(&received).into_owned(), started.elapsed())),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn half_a_header_or_an_idle_connection_is_closed_after_the_header_timeout() {
    let app = app().await;
    let mut half = connect(&app, 1).await;
    half.write_all(b"POST /api/v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Ty").await.unwrap();
    let mut idle = connect(&app, 1).await;
    let (closed_half, closed_idle) = tokio::join!(
        read_until_closed(&mut half, Duration::from_secs(5)),
        read_until_closed(&mut idle, Duration::from_secs(5))
    );
    let (_, after) = closed_half.expect("a half header is not waited for forever");
    assert!(after >= Duration::from_millis(900), "not before the time-out: {after:?}");
    closed_idle.expect("an idle connection is closed too");
}

#[tokio::test]
async fn a_body_that_stops_coming_is_cut_at_the_request_timeout_and_the_connection_closed() {
    let app = app().await;
    let mut stream = connect(&app, 1).await;
    let head =
        "POST /api/v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, after) =
        read_until_closed(&mut stream, Duration::from_secs(6)).await.expect("a stalled body is not waited for forever");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");
    assert!(after >= Duration::from_millis(1900), "{after:?}");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body() {
    let app = app().await;
    for (path, content_type) in [
        ("/api/v1/feedback", "application/json"),
        ("/api/v1/timings", "application/json"),
        ("/login", "application/x-www-form-urlencoded"),
    ] {
        let mut stream = connect(&app, 1).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: 99999999999\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (answer, after) =
            read_until_closed(&mut stream, Duration::from_secs(3)).await.expect("answered and closed");
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(answer.contains(r#""code":"too_large""#), "{path}: {answer}");
        assert!(after < Duration::from_secs(1), "{path}: at once, not at a time-out: {after:?}");
    }
}

#[tokio::test]
async fn one_address_holds_at_most_its_connections_others_are_served() {
    let app = app().await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect(&app, 1).await);
    }
    let mut fifth = connect(&app, 1).await;
    let (answer, _) = read_until_closed(&mut fifth, Duration::from_millis(500)).await.expect("closed at once");
    assert_eq!(answer, "", "closed without an answer");

    let healthz = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut other = connect(&app, 2).await;
    other.write_all(healthz).await.unwrap();
    let (answer, _) = read_until_closed(&mut other, Duration::from_secs(2)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "another address is served: {answer}");

    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect(&app, 1).await;
    again.write_all(healthz).await.unwrap();
    let (answer, _) = read_until_closed(&mut again, Duration::from_secs(2)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "a closed connection frees its place: {answer}");
}

#[tokio::test]
async fn a_trusted_proxy_may_hold_more_connections_than_one_client() {
    let mut config = test_config();
    config.max_connections_per_address = 2;
    config.limits.trusted_proxies = vec!["127.0.0.3/32".parse().unwrap()];
    let app = spawn_app_with(config).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect(&app, 3).await);
    }
    for stream in &mut held {
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let (answer, _) = read_until_closed(stream, Duration::from_secs(2)).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

#[tokio::test]
async fn a_keep_alive_connection_in_use_is_not_cut() {
    let app = app().await;
    let mut stream = connect(&app, 1).await;
    let mut buf = [0u8; 4096];
    // A request every 0.7 s for 3.5 s, with a header time-out of 1 s.
    for i in 0..5 {
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "request {i}: {}", String::from_utf8_lossy(&buf[..n]));
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

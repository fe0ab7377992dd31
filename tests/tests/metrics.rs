//! The Prometheus endpoint reads a whole request head, however the client's writes split it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use watt_e2e::NodeProcess;

#[test]
fn a_request_split_across_writes_still_gets_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &[]);
    let mut sock = TcpStream::connect(("127.0.0.1", node.metrics_port)).expect("connect to metrics");
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    sock.set_nodelay(true).unwrap();
    // Split inside the request line: a server that answers the first segment sees only "GET /met".
    sock.write_all(b"GET /met").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    sock.write_all(b"rics HTTP/1.1\r\nHost: localhost\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    sock.write_all(b"\r\n").unwrap();
    let mut response = String::new();
    sock.read_to_string(&mut response).expect("read the response");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("watt_"), "no metrics in: {response}");
}

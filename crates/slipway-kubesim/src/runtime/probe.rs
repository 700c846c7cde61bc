//! Running one probe check against a container on loopback, as the kubelet's prober does: an HTTP GET
//! succeeds with a status from 200 to 399, a TCP check when the connection opens; both within the probe's
//! timeout.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::launch::Check;

/// How much of an HTTP answer is read to find its status line.
const STATUS_LINE_LIMIT: usize = 1024;

/// Runs `check` once within `timeout`; the error is what the kubelet would report.
pub fn run(check: &Check, timeout: Duration) -> Result<(), String> {
    match check {
        Check::Tcp { port } => {
            let addr = SocketAddr::from(([127, 0, 0, 1], *port));
            TcpStream::connect_timeout(&addr, timeout)
                .map(drop)
                .map_err(|e| format!("dial tcp {addr}: {e}"))
        }
        Check::Http {
            port,
            path,
            headers,
        } => http_get(*port, path, headers, timeout),
        Check::Unsupported(why) => Err(why.clone()),
    }
}

fn http_get(
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let url = format!("http://{addr}{path}");
    let fail = |e: std::io::Error| format!("Get \"{url}\": {e}");
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(fail)?;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    stream.set_write_timeout(Some(left())).map_err(fail)?;
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        // Header text for another program: no control characters.
        if k.chars().chain(v.chars()).any(char::is_control) {
            continue;
        }
        let _ = write!(request, "{k}: {v}\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).map_err(fail)?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    while !answer.windows(2).any(|w| w == b"\r\n") && answer.len() < STATUS_LINE_LIMIT {
        if Instant::now() >= deadline {
            return Err(format!(
                "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            ));
        }
        stream.set_read_timeout(Some(left())).map_err(fail)?;
        let n = stream.read(&mut buf).map_err(fail)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&answer);
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("Get \"{url}\": malformed HTTP response"))?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static [u8]) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(answer);
            }
        });
        port
    }

    #[test]
    fn http_status_decides() {
        let ok = serve_once(b"HTTP/1.1 204 No Content\r\n\r\n");
        let check = |port| Check::Http {
            port,
            path: "/healthz".to_owned(),
            headers: vec![],
        };
        assert_eq!(run(&check(ok), Duration::from_secs(5)), Ok(()));
        let bad = serve_once(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert_eq!(
            run(&check(bad), Duration::from_secs(5)),
            Err("HTTP probe failed with statuscode: 503".to_owned())
        );
        // Nothing listens on a port just released.
        let closed = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("a")
            .port();
        assert!(run(&check(closed), Duration::from_secs(5)).is_err());
        assert!(run(&Check::Tcp { port: closed }, Duration::from_secs(5)).is_err());
    }
}

//! A minimal HTTP/1.1 keep-alive client for load generation: a prebuilt request written on one
//! connection, the response read by `Content-Length`. It costs far less CPU per request than a
//! full client, which matters when the load generator shares the machine with the server.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    /// Sends `request` (a complete HTTP/1.1 message) and returns the response status.
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<u16> {
        self.exchange(request, false)
            .await
            .map(|(status, _)| status)
    }

    /// Like `send`, but reads the body into a small reusable buffer and throws it away
    /// (large downloads); returns the status and the body length.
    pub async fn send_discard(&mut self, request: &[u8]) -> std::io::Result<(u16, u64)> {
        self.exchange(request, true).await
    }

    async fn exchange(&mut self, request: &[u8], discard: bool) -> std::io::Result<(u16, u64)> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(head_end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..head_end]).unwrap_or("");
                let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                let total = head_end + 4 + length;
                if discard {
                    let mut got = (self.buf.len() - head_end - 4) as u64;
                    let mut big = vec![0u8; 256 * 1024];
                    while got < length as u64 {
                        let n = self.stream.read(&mut big).await?;
                        if n == 0 {
                            return Err(std::io::ErrorKind::UnexpectedEof.into());
                        }
                        got += n as u64;
                    }
                    return Ok((status, length as u64));
                }
                while self.buf.len() < total {
                    let n = self.stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return Ok((status, length as u64));
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A POST with a JSON body.
pub fn post_json(host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A GET.
pub fn get(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

/// A request with extra headers (`Authorization`, say) and an optional JSON body.
pub fn request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    json_body: Option<&str>,
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match json_body {
        Some(b) => format!(
            "{head}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
        .into_bytes(),
        None => format!("{head}\r\n").into_bytes(),
    }
}

//! A loopback TCP proxy in front of Postgres that counts round trips: every ReadyForQuery
//! (`Z`) message the server sends closes one. The ledger benchmark puts it in front of one
//! credit to say how many round trips the path costs, without trusting a reading of the code.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The proxy; dropping it stops accepting (open connections end with their peers).
pub struct RoundTripCounter {
    addr: SocketAddr,
    ready_for_query: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl RoundTripCounter {
    /// Listens on a loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let ready_for_query = Arc::new(AtomicU64::new(0));
        let counter = ready_for_query.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        let _ = relay(client, server, counter).await;
                    }
                });
            }
        });
        Ok(Self { addr, ready_for_query, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Round trips completed so far, over every connection.
    pub fn count(&self) -> u64 {
        self.ready_for_query.load(Ordering::SeqCst)
    }
}

impl Drop for RoundTripCounter {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, counter: Arc<AtomicU64>) -> std::io::Result<()> {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
    let mut frames = Frames::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = server_read.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        counter.fetch_add(frames.feed(&buf[..n]), Ordering::SeqCst);
        client_write.write_all(&buf[..n]).await?;
    }
    upstream.abort();
    Ok(())
}

/// The server's side of the protocol as a stream of messages (a type byte, then a 4-byte
/// big-endian length that counts itself), split wherever TCP splits it.
#[derive(Default)]
struct Frames {
    /// The start of a message header not complete yet.
    header: Vec<u8>,
    /// Bytes of the current message's body still to skip.
    skip: usize,
}

impl Frames {
    /// Consumes `bytes`; answers how many ReadyForQuery messages began in them.
    fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut ready = 0;
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let want = 5 - self.header.len();
            let n = want.min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == 5 {
                let len = u32::from_be_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]);
                if self.header[0] == b'Z' {
                    ready += 1;
                }
                self.skip = (len as usize).saturating_sub(4);
                self.header.clear();
            }
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::Frames;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn ready_for_query_is_counted_once_however_tcp_splits_the_stream() {
        let mut stream = message(b'C', b"INSERT 0 1\0");
        stream.extend(message(b'Z', b"I"));
        stream.extend(message(b'D', &[b'Z'; 40])); // a row full of 'Z' bytes is not a message
        stream.extend(message(b'Z', b"T"));
        for split in 1..stream.len() {
            let mut frames = Frames::default();
            let counted: u64 = stream.chunks(split).map(|c| frames.feed(c)).sum();
            assert_eq!(counted, 2, "chunks of {split}");
        }
    }
}

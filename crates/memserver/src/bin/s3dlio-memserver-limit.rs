//! The memory server's own limit, measured with the simplest client that drives it: one
//! raw HTTP/1.1 connection per worker, unsigned GETs (the server runs without auth here)
//! in a loop, bodies drained frame by frame, no SDK, no signing. Where the bytes go is
//! `--into`: `none` only counts them (the server's ceiling); `reused` copies each body
//! into one buffer per connection, allocated and touched once (the ceiling of a client
//! that reads into memory its caller reuses); `fresh` copies each body into a newly
//! allocated buffer of the object's size (the ceiling of any client that hands back one
//! new contiguous buffer, which must write every byte into memory it has not touched).
//!
//! The server is `s3dlio-memserver` (found beside this binary) in a process of its own,
//! as every client the peers bench measures sees it: a server sharing this process's
//! runtime made the large-object figures depend on how the two shared its threads.
//! `--requests N` makes each connection send exactly N GETs and times them all, so large
//! objects are measured over whole bodies rather than a window holding a handful.
//!
//! `s3dlio-memserver-limit --size BYTES --connections N (--seconds S | --requests N)
//! [--into none|reused|fresh]` prints requests/s, MB/s and its own CPU seconds; `cargo
//! xtask bench peers` runs it for each workload's object size.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use s3dlio_core::buffer::large_vec;
use s3dlio_memserver::cpu_seconds;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

#[derive(Debug, Parser)]
struct Args {
    /// Object size in bytes.
    #[arg(long)]
    size: usize,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to send GETs (unless `--requests`).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// GETs per connection, all timed to the last byte (instead of `--seconds`).
    #[arg(long)]
    requests: Option<u64>,
    /// Where each body goes (buffers are huge-page advised, as the library's are).
    #[arg(long, value_enum, default_value_t = Sink::None)]
    into: Sink,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Sink {
    /// Nowhere: the bytes are counted.
    None,
    /// One buffer of the object's size per connection, touched before the clock starts.
    Reused,
    /// A new buffer of the object's size per GET.
    Fresh,
}

type Client = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: std::net::SocketAddr) -> Result<Client, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (client, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(client)
}

fn request(method: &str, path: &str, body: Bytes) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-length", body.len())
        .body(Full::new(body))
        .expect("a valid request")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = Args::parse();
    let (mut server, addr) = spawn_server().await?;
    let mut setup = connect(addr).await?;
    for (method, path, body) in [
        ("PUT", "/limit", Bytes::new()),
        ("PUT", "/limit/object", Bytes::from(vec![7u8; args.size])),
    ] {
        setup.ready().await?;
        let status = setup.send_request(request(method, path, body)).await?.status();
        if !status.is_success() {
            return Err(format!("{method} {path} answered {status}").into());
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    // Workers wait here until every connection and buffer is ready and the clock starts:
    // a worker let loose at its spawn ran while later buffers were still being touched,
    // outside the timed span (the "reused" figures once beat the counting ones).
    let start = Arc::new(tokio::sync::Barrier::new(args.connections + 1));
    let (requests, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let mut client = connect(addr).await?;
        let (stop, start, requests, bytes) = (stop.clone(), start.clone(), requests.clone(), bytes.clone());
        let (into, size) = (args.into, args.size);
        let mut reused = Vec::new();
        if into == Sink::Reused {
            reused = large_vec(size);
            reused.resize(size, 0);
        }
        let mut left = args.requests.unwrap_or(u64::MAX);
        workers.push(tokio::spawn(async move {
            start.wait().await;
            while left > 0 && !stop.load(Ordering::Relaxed) {
                left -= 1;
                client.ready().await?;
                let mut body = client
                    .send_request(request("GET", "/limit/object", Bytes::new()))
                    .await?
                    .into_body();
                let mut fresh = if into == Sink::Fresh {
                    large_vec(size)
                } else {
                    Vec::new()
                };
                let mut at = 0;
                while let Some(frame) = body.frame().await {
                    if let Some(data) = frame?.data_ref() {
                        bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                        match into {
                            Sink::None => {}
                            Sink::Reused => reused[at..at + data.len()].copy_from_slice(data),
                            Sink::Fresh => fresh.extend_from_slice(data),
                        }
                        at += data.len();
                    }
                }
                std::hint::black_box((&reused, fresh));
                requests.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, hyper::Error>(())
        }));
    }
    start.wait().await;
    let (started, cpu) = (Instant::now(), cpu_seconds());
    if args.requests.is_none() {
        tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
        stop.store(true, Ordering::Relaxed);
    }
    for w in workers {
        w.await??;
    }
    let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let (n, b) = (requests.load(Ordering::Relaxed), bytes.load(Ordering::Relaxed));
    println!(
        "{{\"size\": {}, \"connections\": {}, \"into\": \"{}\", \"seconds\": {secs:.3}, \"requests_per_s\": {:.1}, \"mb_per_s\": {:.1}, \"client_cpu_s\": {cpu:.3}}}",
        args.size,
        args.connections,
        format!("{:?}", args.into).to_lowercase(),
        n as f64 / secs,
        b as f64 / secs / 1e6
    );
    server.kill().await?;
    Ok(())
}

/// `s3dlio-memserver` from this binary's directory on a free loopback port, without auth;
/// its address once it prints that it listens.
async fn spawn_server() -> Result<(Child, std::net::SocketAddr), Box<dyn std::error::Error + Send + Sync>> {
    let binary = std::env::current_exe()?.with_file_name("s3dlio-memserver");
    let mut child = Command::new(&binary)
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "could not start {} (build it with this binary): {e}",
                binary.display()
            )
        })?;
    let stdout = child.stdout.take().expect("piped");
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await?
        .unwrap_or_default();
    let addr = line
        .strip_prefix("listening on http://")
        .ok_or_else(|| format!("{} printed {line:?}, not its address", binary.display()))?
        .parse()?;
    Ok((child, addr))
}

//! `s3dlio-memserver`: serves S3 from memory on loopback until SIGINT or SIGTERM. Prints
//! `listening on http://ADDR` once it accepts connections.

use std::time::Duration;

use clap::Parser;
use s3dlio_memserver::{Options, Server};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "An S3 server that keeps objects in memory (for benchmarks and tests)"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// 0 picks a free port (printed on start).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// With --secret-key: every request must be signed with this pair.
    #[arg(long, requires = "secret_key")]
    access_key: Option<String>,
    #[arg(long, requires = "access_key")]
    secret_key: Option<String>,
    /// Wait this long before answering each request (models a remote store).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Serve the one store through this many gateways: the first on --port, the others
    /// on free ports; each prints its `listening on` line (multi-endpoint tests).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    gateways: u16,
    /// Requests each gateway works on at once; more wait (models a gateway's capacity).
    #[arg(long)]
    max_in_flight: Option<usize>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let opts = Options {
        credentials: args.access_key.zip(args.secret_key),
        latency: Duration::from_millis(args.latency_ms),
        share: None,
        max_in_flight: args.max_in_flight,
    };
    let mut servers = vec![Server::start((args.host.as_str(), args.port), opts.clone()).await?];
    for _ in 1..args.gateways {
        let opts = Options {
            share: Some(servers[0].store()),
            ..opts.clone()
        };
        servers.push(Server::start((args.host.as_str(), 0), opts).await?);
    }
    for server in &servers {
        println!("listening on {}", server.endpoint());
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    for server in servers {
        eprintln!("{}: {} requests served", server.endpoint(), server.requests());
        server.stop().await;
    }
    Ok(())
}

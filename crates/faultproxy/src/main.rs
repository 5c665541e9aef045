//! `s3dlio-faultproxy UPSTREAM`: the fault proxy as a process, driven over stdin, for
//! tests outside Rust (the Python suite). Prints `listening on http://127.0.0.1:PORT`,
//! then reads one command per line and answers one line (`seen` answers `seen N` and N
//! lines `METHOD TARGET FAULT`):
//!
//! ```text
//! add status=503 method=GET times=2    a rule (see `Rule`'s `FromStr`)
//! clear                                drop the rules and the requests seen
//! down | up                            play a killed server / serve again
//! seen                                 the requests seen since the last clear
//! ```
//!
//! It exits when stdin closes, so it never outlives the test that started it.

use std::net::{SocketAddr, ToSocketAddrs};

use s3dlio_faultproxy::{Proxy, Rule};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const USAGE: &str = "usage: s3dlio-faultproxy UPSTREAM (host:port or http://host:port); commands on stdin: \
add RULE | clear | down | up | seen";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let upstream = match args.as_slice() {
        [one] if one != "--help" && one != "-h" => match upstream(one) {
            Ok(addr) => addr,
            Err(e) => exit(&format!("s3dlio-faultproxy: {e}\n{USAGE}")),
        },
        _ => exit(USAGE),
    };
    let proxy = match Proxy::start(upstream).await {
        Ok(p) => p,
        Err(e) => exit(&format!("s3dlio-faultproxy: cannot listen on loopback: {e}")),
    };
    let mut out = tokio::io::stdout();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut say = format!("listening on {}\n", proxy.endpoint());
    loop {
        if out.write_all(say.as_bytes()).await.is_err() || out.flush().await.is_err() {
            break;
        }
        let Ok(Some(line)) = lines.next_line().await else {
            break;
        };
        say = answer(&proxy, line.trim());
    }
    proxy.stop();
}

fn answer(proxy: &Proxy, line: &str) -> String {
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    match command {
        "add" => match rest.parse::<Rule>() {
            Ok(rule) => {
                proxy.add(rule);
                "ok\n".into()
            }
            Err(e) => format!("error: {e}\n"),
        },
        "clear" => {
            proxy.clear();
            "ok\n".into()
        }
        "down" | "up" => {
            proxy.set_down(command == "down");
            "ok\n".into()
        }
        "seen" => {
            let seen = proxy.seen();
            let mut text = format!("seen {}\n", seen.len());
            for s in seen {
                text += &format!("{} {} {}\n", s.method, s.target, s.fault.unwrap_or("-"));
            }
            text
        }
        _ => format!("error: unknown command `{line}`: add RULE | clear | down | up | seen\n"),
    }
}

fn upstream(arg: &str) -> Result<SocketAddr, String> {
    let hostport = arg.strip_prefix("http://").unwrap_or(arg).trim_end_matches('/');
    hostport
        .to_socket_addrs()
        .map_err(|e| format!("upstream `{arg}`: {e}"))?
        .next()
        .ok_or_else(|| format!("upstream `{arg}` has no address"))
}

fn exit(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}

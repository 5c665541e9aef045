//! The Python wheel: built by maturin from `crates/py` into `target/wheels`, installed
//! into `target/py-venv`, and tested there with pytest — against the installed wheel,
//! from a working directory outside the source tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::run;

/// The test environment.
const VENV: &str = "target/py-venv";
/// Pinned build and test tools from PyPI (zstandard reads the op-log files tests write).
const TOOLS: &[&str] = &[
    "maturin==1.16.0",
    "numpy==2.3.5",
    "pytest==8.4.2",
    "zstandard==0.25.0",
];
/// The frameworks and data libraries whose tests run when they install (CPU is enough;
/// TensorFlow's CPU wheel is a quarter of the full one; fsspec, pyarrow, pandas, Ray Data
/// and Hugging Face datasets for `s3dlio.fsspec`). Each installs on its own, so one that
/// fails skips only its tests. Set `S3DLIO_SKIP_FRAMEWORKS=1` to leave them out; their
/// tests then skip with the reason.
const FRAMEWORKS: &[&str] = &[
    "torch",
    "jax",
    "tensorflow-cpu",
    "fsspec",
    "pyarrow",
    "pandas",
    "ray[data]",
    "datasets",
];
/// The DLIO benchmark for `s3dlio.integrations.dlio`, installed with `--no-deps` into a
/// folder of its own (`DLIO_SITE`, given to the tests as `S3DLIO_TEST_DLIO_SITE`): its
/// declared dependencies pin CUDA builds of frameworks, and what its storage and
/// configuration modules import is only this list (mpi4py without an MPI library: the
/// tests set DLIO's ranks as it does for child processes).
const DLIO: &[&str] = &[
    "dlio_benchmark==2.0.0",
    "pydftracer==1.0.2",
    "mpi4py==4.1.2",
    "hydra-core==1.3.8",
    "omegaconf==2.4.0",
    "antlr4-python3-runtime==4.9.3",
    "PyYAML==6.0.4",
    "psutil==7.2.2",
];
const DLIO_SITE: &str = "target/dlio-site";
/// Where the benchmark's references come from (`cargo xtask bench py`).
pub const BENCH_REFERENCES: &[&str] = &["obstore", "boto3"];

fn venv_bin(tool: &str) -> PathBuf {
    Path::new(VENV).join("bin").join(tool)
}

/// The venv with `extra` packages installed (from PyPI).
pub fn venv(extra: &[&str]) -> Result<()> {
    venv_at(Path::new(VENV), &[TOOLS, extra].concat())
}

/// A venv at `dir` (made if missing) with `packages` installed from PyPI.
fn venv_at(dir: &Path, packages: &[&str]) -> Result<()> {
    if !dir.join("bin/python").exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(dir))?;
    }
    run(Command::new(dir.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check"])
        .args(packages))
}

/// A venv holding the original s3dlio from PyPI (it has our package name, so it cannot
/// share a venv with our wheel); returns its python.
pub fn original_venv() -> Result<PathBuf> {
    let venv = Path::new("target/py-venv-original");
    venv_at(venv, ORIGINAL)?;
    Ok(std::path::absolute(venv.join("bin/python"))?)
}

/// The library this project replaces, as the peers benchmark measures it.
const ORIGINAL: &[&str] = &["s3dlio==0.10.0"];

/// Builds the abi3 wheel (`release` for benchmarks) and installs it into the venv;
/// returns the wheel's path.
pub fn build(release: bool) -> Result<PathBuf> {
    venv(&[])?;
    let out = Path::new("target/wheels");
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    let mut cmd = Command::new(venv_bin("maturin"));
    cmd.args(["build", "--manifest-path", "crates/py/Cargo.toml", "--out"])
        .arg(out)
        .arg("--interpreter")
        .arg(venv_bin("python"));
    if release {
        cmd.arg("--release");
    }
    run(&mut cmd)?;
    let wheel = std::fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("maturin wrote no wheel")?;
    run(Command::new(venv_bin("pip"))
        .args(["install", "-q", "--force-reinstall", "--no-deps"])
        .arg(&wheel))?;
    // Which build the venv holds, for whoever uses it next (a debug wheel is several
    // times slower: never benchmark it).
    let profile = if release { "release" } else { "debug" };
    let note = format!(
        "{VENV} holds a {profile} build of s3dlio ({}).\nRebuild with `cargo xtask wheel --release` before measuring anything.\n",
        wheel.display()
    );
    std::fs::write(Path::new(VENV).join("S3DLIO_WHEEL.txt"), &note)?;
    eprintln!(
        "xtask: installed the {profile} wheel {} into {VENV} (see {VENV}/S3DLIO_WHEEL.txt)",
        wheel.display()
    );
    Ok(wheel)
}

/// [`DLIO`] in [`DLIO_SITE`] (installed once; a marker file says it is whole), or `None`
/// with a warning when it cannot be installed (its tests then skip with the reason).
fn dlio_site() -> Option<PathBuf> {
    let site = std::path::absolute(DLIO_SITE).ok()?;
    let marker = site.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(&DLIO.join(" ")) {
        return Some(site);
    }
    let _ = std::fs::remove_dir_all(&site);
    let installed = Command::new(venv_bin("pip"))
        .args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
        ])
        .arg(&site)
        .args(DLIO)
        .status();
    if !installed.is_ok_and(|s| s.success()) || std::fs::write(&marker, DLIO.join(" ")).is_err() {
        eprintln!("xtask: WARNING: could not install the DLIO benchmark; its tests will skip");
        return None;
    }
    Some(site)
}

/// Builds and installs the wheel, then runs pytest on `crates/py/tests` with `vars` (the
/// local servers) set and required.
pub fn test(vars: &[(String, String)]) -> Result<()> {
    build(false)?;
    if std::env::var("S3DLIO_SKIP_FRAMEWORKS").as_deref() != Ok("1") {
        for framework in FRAMEWORKS {
            let installed = Command::new(venv_bin("pip"))
                .args(["install", "-q", "--disable-pip-version-check", framework])
                .status();
            if !installed.is_ok_and(|s| s.success()) {
                eprintln!("xtask: WARNING: could not install {framework}; its tests will skip");
            }
        }
    }
    let dlio = (std::env::var("S3DLIO_SKIP_FRAMEWORKS").as_deref() != Ok("1"))
        .then(dlio_site)
        .flatten();
    let tests = std::path::absolute("crates/py/tests")?;
    let python = std::path::absolute(venv_bin("python"))?;
    // Outside the source tree, so `import s3dlio` can only find the installed wheel.
    let cwd = std::env::temp_dir();
    let status = Command::new(python)
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .arg(format!(
            "--junitxml={}",
            std::path::absolute(crate::reliability::PYTEST)?.display()
        ))
        .arg(&tests)
        .current_dir(cwd)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .envs(dlio.map(|site| ("S3DLIO_TEST_DLIO_SITE", site)))
        .env("S3DLIO_REQUIRE_EMULATORS", "1")
        .status()
        .context("could not run pytest")?;
    if !status.success() {
        bail!("pytest failed ({status})");
    }
    Ok(())
}

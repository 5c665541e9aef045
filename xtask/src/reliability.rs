//! `cargo xtask reliability`: the scenario × backend table of `docs/reliability.md`,
//! generated from the JUnit reports of the last `cargo xtask test` (nextest writes
//! `target/nextest/default/junit.xml`, pytest `target/pytest-junit.xml`) and the doc
//! comments of the fault tests. The table sits between two markers in the document;
//! everything else there is written by hand.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

const NEXTEST: &str = "target/nextest/default/junit.xml";
pub const PYTEST: &str = "target/pytest-junit.xml";
const DOC: &str = "docs/reliability.md";
const BEGIN: &str = "<!-- begin generated: cargo xtask reliability -->";
const END: &str = "<!-- end generated -->";

/// Rust scenarios run once per backend; these are the test names' last segments.
const BACKENDS: [(&str, &str); 4] = [
    ("s3", "S3"),
    ("s3_sdk", "S3 SDK"),
    ("azure", "Azure"),
    ("gcs", "GCS"),
];

/// One test case of a JUnit report.
#[derive(Debug)]
struct Case {
    suite: String,
    name: String,
    outcome: &'static str,
    seconds: f64,
}

pub fn run() -> Result<()> {
    let mut all = cases(NEXTEST)?;
    all.extend(cases(PYTEST)?);
    let table = table(&all)?;
    let doc = std::fs::read_to_string(DOC).with_context(|| format!("reading {DOC}"))?;
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        bail!("{DOC} lacks the markers `{BEGIN}` … `{END}`");
    };
    let updated = format!("{}{BEGIN}\n{table}{}", &doc[..begin], &doc[end..]);
    std::fs::write(DOC, updated)?;
    eprintln!("xtask: wrote the generated tables of {DOC}");
    Ok(())
}

fn cases(path: &str) -> Result<Vec<Case>> {
    let xml = std::fs::read_to_string(path)
        .with_context(|| format!("reading {path}: run `cargo xtask test` first"))?;
    let mut out = Vec::new();
    for chunk in xml.split("<testcase ").skip(1) {
        let head = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        let body = if head.ends_with('/') {
            ""
        } else {
            &chunk[..chunk.find("</testcase>").unwrap_or(chunk.len())]
        };
        let outcome = if body.contains("<failure") || body.contains("<error") {
            "FAIL"
        } else if body.contains("<skipped") {
            "skipped"
        } else {
            "pass"
        };
        out.push(Case {
            suite: attr(head, "classname").unwrap_or_default(),
            name: attr(head, "name").unwrap_or_default(),
            outcome,
            seconds: attr(head, "time").and_then(|t| t.parse().ok()).unwrap_or(0.0),
        });
    }
    Ok(out)
}

fn attr(head: &str, name: &str) -> Option<String> {
    // `head` starts right after `<testcase `: the first attribute has no space before it.
    let head = format!(" {head}");
    let start = head.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = head[start..].find('"')?;
    Some(
        head[start..start + len]
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
}

/// `file`'s doc comment of each test: the `///` lines right before the test's name
/// (inside `scenario!(…)`) or before its `#[test]`; a Python test's one-line docstring.
fn docs(file: &str) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let mut docs = BTreeMap::new();
    let mut pending: Vec<&str> = Vec::new();
    let mut last_def: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let (Some(def), Some(doc)) = (last_def.take(), line.strip_prefix("\"\"\"")) {
            docs.insert(def, doc.trim_end_matches("\"\"\"").to_string());
            continue;
        }
        if let Some(def) = line.strip_prefix("def ") {
            last_def = def.split('(').next().map(String::from);
        }
        if let Some(doc) = line.strip_prefix("///") {
            pending.push(doc.trim());
            continue;
        }
        let name = line
            .strip_prefix("fn ")
            .or_else(|| line.strip_prefix("async fn "))
            .or_else(|| {
                line.strip_suffix(',')
                    .filter(|n| n.chars().all(|c| c.is_alphanumeric() || c == '_'))
            })
            .map(|n| n.split('(').next().unwrap_or(n).to_string());
        match name {
            Some(name) if !pending.is_empty() => {
                docs.insert(name, pending.join(" "));
                pending.clear();
            }
            _ if line.starts_with("#[") => {}
            _ => pending.clear(),
        }
    }
    Ok(docs)
}

fn cell(case: Option<&Case>) -> String {
    match case {
        Some(c) => format!("{} ({:.1} s)", c.outcome, c.seconds),
        None => "—".into(),
    }
}

fn table(cases: &[Case]) -> Result<String> {
    let mut out = String::new();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    out += &format!(
        "Generated by `cargo xtask reliability` from the JUnit reports of `cargo xtask test` \
         (commit {commit}, {date}). Each cell: outcome and the test's time; — where a scenario has no test for that backend (S3-only requests).\n\n"
    );

    let rust = docs("crates/s3dlio/tests/faults.rs")?;
    out += "Rust: `crates/s3dlio/tests/faults.rs`, one test per backend (`<scenario>::<backend>`), \
            through `store_for_uri_with`.\n\n| scenario | what must hold |";
    for (_, title) in BACKENDS {
        out += &format!(" {title} |");
    }
    out += "\n|---|---|";
    out += &"---|".repeat(BACKENDS.len());
    out += "\n";
    let ran = |scenario: &str, backend: &str| {
        let name = format!("{scenario}::{backend}");
        cases
            .iter()
            .find(|c| c.suite == "s3dlio::faults" && c.name == name)
    };
    // Rows: the scenarios the report has (the file's other doc comments are helpers').
    for (scenario, doc) in rust
        .iter()
        .filter(|(s, _)| BACKENDS.iter().any(|(b, _)| ran(s, b).is_some()))
    {
        out += &format!("| `{scenario}` | {doc} |");
        for (backend, _) in BACKENDS {
            out += &format!(" {} |", cell(ran(scenario, backend)));
        }
        out += "\n";
    }

    for (title, file, suite) in [
        (
            "CLI: `crates/cli/tests/faults.rs`, `s3-cli` through the proxy.",
            "crates/cli/tests/faults.rs",
            "s3dlio-cli::faults",
        ),
        (
            "Python: `crates/py/tests/test_faults.py`, the installed wheel through the proxy binary.",
            "crates/py/tests/test_faults.py",
            "test_faults",
        ),
    ] {
        let docs = docs(file)?;
        out += &format!("\n{title}\n\n| test | what must hold | result |\n|---|---|---|\n");
        let mut found = false;
        for case in cases
            .iter()
            .filter(|c| c.suite == suite || c.suite.ends_with(&format!(".{suite}")))
        {
            found = true;
            let base = case.name.split('[').next().unwrap_or(&case.name);
            let doc = docs.get(base).map(String::as_str).unwrap_or("");
            out += &format!("| `{}` | {doc} | {} |\n", case.name, cell(Some(case)));
        }
        if !found {
            out += "| (no report) | | not run |\n";
        }
    }
    Ok(out)
}

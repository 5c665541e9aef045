//! docs/configuration.md against the code: every `S3DLIO_*` variable its tables name is
//! read by the config the page says reads it. A malformed value must be an error naming
//! the variable (so a documented knob nothing reads, or a renamed one, fails here); the
//! few that take any string must land in their field.
#![cfg(all(feature = "file", feature = "s3", feature = "azure", feature = "gcs"))]

use std::collections::BTreeSet;

use s3dlio::StoreOptions;
use s3dlio::azure::AzureConfig;
use s3dlio::env::EnvReader;
use s3dlio::file::FileConfig;
use s3dlio::gcs::GcsConfig;
use s3dlio::s3::S3Config;

const DOC: &str = include_str!("../../../docs/configuration.md");

/// Read outside the umbrella's configs, with where.
const ELSEWHERE: &[(&str, &str)] = &[(
    "S3DLIO_RUNTIME_THREADS",
    "the wheel's runtime (crates/py/src/runtime.rs)",
)];

/// The variables in the first column of the page's tables.
fn documented() -> BTreeSet<String> {
    DOC.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|v| v.starts_with("S3DLIO_") && !v.ends_with('*'))
        .map(str::to_string)
        .collect()
}

/// Every config read from a source where only `var` is set, to `value`.
fn read_all(var: &str, value: &str) -> Vec<Result<String, String>> {
    let env = EnvReader::new(|k: &str| (k == var).then(|| value.to_string()));
    fn show<T: std::fmt::Debug>(r: s3dlio::Result<T>) -> Result<String, String> {
        r.map(|c| format!("{c:?}")).map_err(|e| e.to_string())
    }
    vec![
        show(StoreOptions::from_reader(&env)),
        show(FileConfig::from_reader(&env)),
        show(S3Config::from_reader(&env)),
        show(AzureConfig::from_reader(&env)),
        show(GcsConfig::from_reader(&env)),
    ]
}

#[test]
fn every_documented_knob_is_read_and_checked() {
    let vars = documented();
    assert!(vars.len() > 25, "the page's tables were not found: {vars:?}");
    for (var, _) in ELSEWHERE {
        assert!(
            vars.contains(*var),
            "{var} is listed as read elsewhere but not documented"
        );
    }
    for var in vars.iter().filter(|v| !ELSEWHERE.iter().any(|(e, _)| e == v)) {
        if var == "S3DLIO_GCS_ENDPOINT" {
            let url = "https://gcs.example.invalid:8443";
            let c = GcsConfig::from_reader(&EnvReader::new(|k: &str| (k == var).then(|| url.to_string())))
                .unwrap();
            assert_eq!(c.endpoint, url, "{var}");
            continue;
        }
        let results = read_all(var, "not a value ☃");
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(e) if e.contains(var.as_str()))),
            "{var} is documented, but no config refuses a malformed value naming it: {results:?}"
        );
    }
}

/// Every `.rs` and `.py` file under `crates/`, with its text.
fn sources() -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() && name != "target" && !name.starts_with('.') {
                walk(&path, out);
            } else if name.ends_with(".rs") || name.ends_with(".py") {
                out.push((path.clone(), std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo_root().join("crates"), &mut out);
    out
}

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether `test` names something that exists: a repository path, or a test function,
/// module or fault scenario (`name`, or `file.rs::name` for one in a file of that name).
fn exists(test: &str, sources: &[(std::path::PathBuf, String)]) -> bool {
    if test.starts_with("crates/") {
        return repo_root().join(test).is_file();
    }
    let (file, name) = test.rsplit_once("::").map_or((None, test), |(f, n)| (Some(f), n));
    sources.iter().any(|(path, text)| {
        file.is_none_or(|f| path.file_name().is_some_and(|p| p == f))
            && [
                format!("fn {name}("),
                format!("def {name}("),
                format!("mod {name} "),
                // A `scenario!` of the fault suite: its name on a line of its own.
                format!("\n    {name},\n"),
            ]
            .iter()
            .any(|decl| text.contains(decl.as_str()))
    })
}

/// Each knob's row names the test that shows its effect, as `(test `name`, ...)` or
/// `(tests ...)`, and each test named exists.
#[test]
fn every_documented_knob_names_a_test_of_its_effect() {
    let sources = sources();
    let mut rows = 0;
    for row in DOC
        .lines()
        .filter(|l| l.starts_with("| `S3DLIO_") && !l.starts_with("| `S3DLIO_RANGE_*`"))
    {
        rows += 1;
        let var = row[3..].split('`').next().unwrap();
        let Some(at) = row.find("(test") else {
            panic!("{var}: its row names no test of its effect: {row}");
        };
        let mention = &row[at..at + row[at..].find(')').expect("a closing parenthesis")];
        let tests: Vec<&str> = mention.split('`').skip(1).step_by(2).collect();
        assert!(!tests.is_empty(), "{var}: {mention}");
        for test in tests {
            assert!(exists(test, &sources), "{var}: the test {test} does not exist");
        }
    }
    assert!(rows > 40, "only {rows} knob rows found");
}

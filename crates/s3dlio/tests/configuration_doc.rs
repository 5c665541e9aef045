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

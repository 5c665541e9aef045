//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::size::{Sizes, parse_size, parse_sizes};

/// List, read, copy, delete and benchmark objects on every s3dlio backend: s3://, az://,
/// gs://, file://, direct:// and memory://.
///
/// A path without a scheme is a local file (file://). Source URIs take wildcards: `*`, `?`
/// within one level, `**` across levels. Exit codes: 0 ok, 1 failed or nothing matched, 2 usage,
/// 3 not found, 4 auth/permission, 5 some objects failed (the summary lists them; when none succeeded
/// and every failure has one cause, that cause's code).
#[derive(Debug, Parser)]
#[command(name = "s3-cli", version, propagate_version = true, max_term_width = 110)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes; each command's `--help` lists them under their own
/// heading, apart from its own options.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// More logging: -v info, -vv debug, -vvv trace (dependency crates stay at warn;
    /// RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Machine-readable output: JSON lines for listings, one JSON object for summaries.
    #[arg(long, global = true)]
    pub json: bool,
    /// S3 endpoint, e.g. http://127.0.0.1:9000 (beats AWS_ENDPOINT_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// S3 region (beats AWS_REGION).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// PEM file of extra CA certificates to trust for S3 (beats AWS_CA_BUNDLE).
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
    /// Record every operation in FILE: MinIO warp's TSV columns, zstd-compressed
    /// (`zstd -dc FILE`), one row per operation the command issued.
    #[arg(long, global = true, value_name = "FILE")]
    pub op_log: Option<PathBuf>,
    /// Spread every request of the endpoints' service over several endpoints: URLs or
    /// store URIs, comma-separated (http://10.0.0.1:9000,http://10.0.0.2:9000), a
    /// template (http://10.0.0.{1...8}:9000) or @FILE (one per line). A failing endpoint
    /// is taken out for a back-off and its requests are retried on the others;
    /// per-endpoint statistics are printed at the end.
    #[arg(long, global = true, value_name = "LIST|TEMPLATE|@FILE")]
    pub endpoints: Option<String>,
    /// How each request picks one of --endpoints: round_robin or least_connections.
    #[arg(long, global = true, value_name = "STRATEGY", requires = "endpoints", value_parser = parse_strategy)]
    pub lb_strategy: Option<s3dlio::endpoints::Strategy>,
}

fn parse_strategy(s: &str) -> Result<s3dlio::endpoints::Strategy, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not round_robin or least_connections"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List objects under a prefix.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show an object's metadata.
    Stat {
        /// The object.
        uri: String,
    },
    /// Read objects into memory and discard them: a read benchmark.
    Get(GetArgs),
    /// Download one object to a file, or a prefix to a directory.
    Download(DownloadArgs),
    /// Write an object (or a byte range of it) to stdout.
    Cat {
        /// The object.
        uri: String,
        #[command(flatten)]
        range: RangeArgs,
    },
    /// Upload local files, directories (-r) or globs to a destination prefix.
    Upload(UploadArgs),
    /// Copy an object or a prefix (-r), in any direction: local↔remote, remote→remote.
    Cp(CpCommand),
    /// Delete an object, or every object under a prefix (-r).
    #[command(alias = "delete")]
    Rm(RmArgs),
    /// Create a bucket, container or directory (succeeds if it exists).
    #[command(alias = "create-bucket")]
    Mb {
        /// The bucket, container or directory (`s3://b`, `az://account/c`, `gs://b`, a path).
        uri: String,
    },
    /// Delete an empty bucket, container or directory.
    #[command(alias = "delete-bucket")]
    Rb {
        /// The bucket, container or directory.
        uri: String,
    },
    /// List buckets: s3://, s3://host:port/, az://account/, gs://, memory://, file:///dir/.
    ListBuckets {
        /// The service root.
        uri: String,
    },
    /// Generate synthetic objects and upload them.
    Put(PutArgs),
    /// Write, read (whole and ranged), stat, list and delete objects; print one table.
    Bench(BenchArgs),
    /// List unfinished multipart uploads under a prefix (S3), or abort them (--abort).
    Uploads(UploadsArgs),
    /// Issue the operations of an op-log (--op-log) again under another prefix.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The op-log (zstd-compressed or plain TSV).
    pub log: PathBuf,
    /// Where the operations go: each logged URI's `--from` prefix is replaced by this.
    pub target: String,
    /// The logged prefix to replace (default: the longest common prefix ending in `/`).
    #[arg(long, value_name = "PREFIX", default_value = "")]
    pub from: String,
    /// Pace: 2 replays twice as fast as recorded, 0 as fast as possible.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Only these ops, e.g. `GET,PUT` (default: GET, PUT, STAT, DELETE, LIST).
    #[arg(long, value_delimiter = ',')]
    pub ops: Vec<String>,
    /// Count failed operations and keep going instead of stopping at the first.
    #[arg(long)]
    pub continue_on_error: bool,
    /// Operations in flight at once at most.
    #[arg(short, long, default_value_t = 64)]
    pub jobs: usize,
}

#[derive(Debug, Args)]
pub struct UploadsArgs {
    /// The prefix whose unfinished uploads to list (S3).
    pub uri: String,
    /// Abort the uploads listed (they can no longer complete; their parts are freed).
    #[arg(long)]
    pub abort: bool,
    /// Only uploads started longer ago than this (e.g. 90m, 24h, 7d).
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    pub older_than: Option<std::time::Duration>,
}

/// Resumable uploads, shared by `upload` and `cp`.
#[derive(Debug, Args, Clone, Default)]
pub struct ResumeArgs {
    /// Journal each upload in this local directory (S3, Azure): if the command dies, the
    /// same command again sends only the parts the service lacks. Uploads that fail stay
    /// open for that; `s3-cli uploads --abort` clears those never resumed.
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// A prefix, or a URI with wildcards (`*`, `?` within a level, `**` across levels).
    pub uri: String,
    /// List everything under the prefix, not just one level.
    #[arg(short, long)]
    pub recursive: bool,
    /// Only keys (relative to the prefix) that match this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub pattern: Option<String>,
    /// Print only the number of objects (with a live rate on stderr).
    #[arg(long)]
    pub count_only: bool,
    /// Size, modification time and ETag beside each key.
    #[arg(short, long)]
    pub long: bool,
}

/// A byte range of one object.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct RangeArgs {
    /// First byte to read.
    #[arg(long, value_name = "N", value_parser = parse_size)]
    pub offset: Option<u64>,
    /// Bytes to read (default: to the end).
    #[arg(long, value_name = "M", value_parser = parse_size)]
    pub length: Option<u64>,
}

impl RangeArgs {
    pub fn is_set(&self) -> bool {
        self.offset.is_some() || self.length.is_some()
    }
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// An object, or a prefix (ending in `/`, or with -r).
    pub uri: Option<String>,
    /// Objects read at once.
    #[arg(short, long, default_value_t = 64)]
    pub jobs: usize,
    /// Read the objects listed in FILE, one per line: full URIs, or keys under URI.
    #[arg(long, value_name = "FILE")]
    pub keylist: Option<PathBuf>,
    /// Read everything under the prefix.
    #[arg(short, long)]
    pub recursive: bool,
    #[command(flatten)]
    pub range: RangeArgs,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub copy: CpArgs,
    #[command(flatten)]
    pub range: RangeArgs,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files, directories (with -r) and globs, then the destination prefix (ending in `/`).
    #[arg(required = true, num_args = 2..)]
    pub paths: Vec<String>,
    /// Files uploaded at once.
    #[arg(short, long, default_value_t = 16)]
    pub jobs: usize,
    /// Upload directories with everything in them.
    #[arg(short, long)]
    pub recursive: bool,
    /// Print what would be uploaded, upload nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub resume: ResumeArgs,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// An object, a prefix (with -r) or a URI with wildcards.
    pub src: String,
    /// An object or a prefix; for one object, a local directory or a URI ending in `/`
    /// receives it under its own name.
    pub dest: String,
    /// Objects copied at once.
    #[arg(short, long, default_value_t = 16)]
    pub jobs: usize,
    /// Copy everything under the prefix, keeping the key hierarchy.
    #[arg(short, long)]
    pub recursive: bool,
    /// Print what would be copied, copy nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CpCommand {
    #[command(flatten)]
    pub copy: CpArgs,
    #[command(flatten)]
    pub resume: ResumeArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// An object, a prefix (with -r) or a URI with wildcards.
    pub uri: String,
    /// Delete everything under the prefix.
    #[arg(short, long)]
    pub recursive: bool,
    /// Only keys (relative to the prefix) that match this regular expression (with -r).
    #[arg(long, value_name = "REGEX")]
    pub pattern: Option<String>,
    /// Batches of up to 1000 deletes in flight.
    #[arg(short, long, default_value_t = 4)]
    pub jobs: usize,
    /// Print what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How synthetic objects look.
#[derive(Debug, Args, Clone)]
pub struct SynthArgs {
    /// About 1/N of the blocks unique.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub dedup: u64,
    /// About (N-1)/N of each block compressible.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub compress: u64,
    /// Seed of the data generator (object i uses seed + i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Create the bucket first (memory:// buckets are always created: that store starts
    /// empty in every process).
    #[arg(long)]
    pub create_bucket: bool,
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Destination prefix.
    pub prefix: String,
    /// Number of objects.
    #[arg(short, long, default_value_t = 1)]
    pub num: u64,
    /// Object names: the first {} is the index, the second the count.
    #[arg(short, long, default_value = "object_{}_of_{}.dat")]
    pub template: String,
    /// Objects written at once.
    #[arg(short, long, default_value_t = 32)]
    pub jobs: usize,
    /// What each object holds: raw (generated bytes, alias random), zeros, or a file of
    /// about --size bytes that its readers parse: npz, tfrecord, parquet (hdf5 is refused).
    #[arg(short = 'o', long, default_value = "raw", value_name = "TYPE")]
    pub object_type: String,
    /// Object size: bytes, or with k/m/g (10^3) or Ki/Mi/Gi (2^10) suffixes.
    #[arg(short, long, default_value = "1Mi", value_parser = parse_size)]
    pub size: u64,
    #[command(flatten)]
    pub synth: SynthArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Where the benchmark writes (under a fresh sub-prefix it deletes at the end), or with
    /// --existing the objects it reads.
    pub prefix: String,
    /// Number of objects [default: 256; with --existing, every object under the prefix].
    #[arg(short, long)]
    pub num: Option<u64>,
    /// Object size, or a sweep of sizes with one pool and one set of results each:
    /// 4Ki,64Ki,1Mi, or 4Ki..16Mi (doubling from the first to the last) [default: 1Mi].
    #[arg(short, long, value_parser = parse_sizes, value_name = "SIZE[,SIZE...|..SIZE]")]
    pub size: Option<Sizes>,
    /// Operations in flight.
    #[arg(short, long, default_value_t = 32)]
    pub jobs: usize,
    /// Bytes per ranged read.
    #[arg(long, default_value = "64Ki", value_parser = parse_size)]
    pub range_size: u64,
    /// Leave the objects in place (skips the delete phase).
    #[arg(long)]
    pub keep: bool,
    /// Read the objects already under the prefix instead of writing a pool: the get,
    /// get-range, stat and list phases, or a --mix of get, stat and list; nothing is
    /// written or deleted. Empty objects are left out.
    #[arg(long)]
    pub existing: bool,
    /// Instead of the fixed phases: write the objects, then run a mixed workload for this
    /// long (e.g. 30s, 2m), each of -j workers picking operations by --mix weight and
    /// objects by --keys.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub duration: Option<std::time::Duration>,
    /// Operations before each measured window, run and not recorded (with --duration).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s", value_name = "DURATION")]
    pub warmup: std::time::Duration,
    /// Operation weights of the mixed workload: get, put (new objects), stat, list (one
    /// page), delete (of objects the workload put), e.g. get=70,put=20,stat=10
    /// [default: get=100].
    #[arg(long, value_name = "OP=WEIGHT,...")]
    pub mix: Option<String>,
    /// How the mixed workload's gets and stats pick objects: at random, or each worker in
    /// key order from its own starting point.
    #[arg(long, value_enum, default_value_t = Keys::Random)]
    pub keys: Keys,
    /// Measured windows per concurrency, each reported (with --duration).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u32,
    /// A concurrency sweep: one measured run per value instead of -j, e.g. 1,8,32.
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub concurrency: Vec<usize>,
    /// The mixed workload's rows as CSV (one row per size, concurrency, repeat and
    /// operation).
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub synth: SynthArgs,
}

/// How a mixed workload picks the objects it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Keys {
    Random,
    Sequential,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// A command's `--help` lists its own options, then the global ones under their own
    /// heading, each once.
    #[test]
    fn subcommand_help_keeps_global_flags_apart() {
        let mut cli = Cli::command();
        cli.build(); // global flags reach the subcommands here
        let help = cli.find_subcommand_mut("get").unwrap().render_help().to_string();
        let (own, global) = help.split_once("Global options:").expect(&help);
        assert!(
            own.contains("--jobs") && !own.contains("--endpoint-url"),
            "{help}"
        );
        assert!(
            global.contains("--endpoint-url") && !global.contains("--jobs"),
            "{help}"
        );
        assert_eq!(help.matches("--endpoint-url").count(), 1, "{help}");
    }

    /// Every argument of every command says what it does in `--help`.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "s3-cli", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }
}

//! One module per command; `run` dispatches.

mod bench;
mod copy;
mod get;
mod ls;
mod mix;
mod put;
mod replay;
mod rm;
mod stat;
mod uploads;

use std::sync::{Arc, OnceLock};

use s3dlio::{ObjectStore, ObjectUri, Service, StoreCache, StoreOptions};

use crate::args::{Cli, Command};
use crate::failure::CliResult;
use crate::output::Out;

/// What every command needs besides its own arguments.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// Draw progress bars (still only when stderr is a terminal).
    pub progress: bool,
}

pub async fn run(cli: Cli) -> CliResult {
    let ctx = Ctx {
        progress: !cli.global.quiet,
    };
    let mut out = Out::new(cli.global.json);
    let result = match cli.command {
        Command::Ls(args) => ls::ls(&args, ctx, &mut out).await,
        Command::Stat { uri } => stat::stat(&uri, &mut out).await,
        Command::Get(args) => get::get(&args, ctx, &mut out).await,
        Command::Cat { uri, range } => get::cat(&uri, range).await,
        Command::Download(args) => copy::download(&args, ctx, &mut out).await,
        Command::Upload(args) => copy::upload(&args, ctx, &mut out).await,
        Command::Cp(args) => copy::cp(&args, ctx, &mut out).await,
        Command::Rm(args) => rm::rm(&args, ctx, &mut out).await,
        Command::Mb { uri } => rm::make_bucket(&uri, &mut out).await,
        Command::Rb { uri } => rm::remove_bucket(&uri, &mut out).await,
        Command::ListBuckets { uri } => ls::list_buckets(&uri, &mut out).await,
        Command::Put(args) => put::put(&args, ctx, &mut out).await,
        Command::Bench(args) => bench::bench(&args, ctx, &mut out).await,
        Command::Uploads(args) => uploads::uploads(&args, &mut out).await,
        Command::Replay(args) => replay::replay(&args, &mut out).await,
    };
    // Flush what was printed even when the command failed part-way.
    let flushed = out.flush().await;
    result.and(flushed)
}

static STORES: OnceLock<StoreCache> = OnceLock::new();

/// Makes every store of this run with `options` (from the global flags); called once by
/// `main` before any command runs.
pub fn init_stores(options: StoreOptions) {
    let _ = STORES.set(StoreCache::with_options(options));
}

/// The stores of this run, one per scheme.
fn stores() -> &'static StoreCache {
    STORES.get_or_init(StoreCache::new)
}

/// The store for `uri` (any scheme this build serves).
fn store(uri: &str) -> CliResult<Arc<dyn ObjectStore>> {
    Ok(stores().get(uri)?)
}

/// Makes sure `prefix`'s bucket exists before synthetic writes: created when asked, and
/// always for memory:// (that store starts empty in every process). Stores that create
/// directories on demand need nothing.
async fn ensure_bucket(store: &dyn ObjectStore, prefix: &str, create: bool) -> CliResult {
    let u = ObjectUri::parse(prefix)?;
    if store.capabilities().explicit_containers && (create || u.service() == Service::Memory) {
        store.create_container(&u.with_key("").to_string()).await?;
    }
    Ok(())
}

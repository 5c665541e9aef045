//! `download`, `upload` and `cp`: one object or a tree of them, between any two stores.

use std::time::Instant;

use futures::stream::{self, TryStreamExt};

use s3dlio::{Error, ObjectHint, ObjectMeta, Operation};

use super::get::{hint, span};
use super::{Ctx, store, stores};
use crate::args::{CpArgs, CpCommand, DownloadArgs, ResumeArgs, UploadArgs};
use crate::failure::{CliResult, Failure};
use crate::output::Out;
use crate::progress::Progress;
use s3dlio::transfer::{Plan, Span, copy_between, copy_object};

use crate::target::{as_prefix, basename, is_local_dir, objects_under, select, to_uri};
use crate::transfer::{Report, Tally, dry_run, run_jobs};
use regex::Regex;

pub async fn download(args: &DownloadArgs, ctx: Ctx, out: &mut Out) -> CliResult {
    let local = ResumeArgs::default();
    copy("download", &args.copy, &local, span(args.range), ctx, out).await
}

pub async fn cp(args: &CpCommand, ctx: Ctx, out: &mut Out) -> CliResult {
    copy("cp", &args.copy, &args.resume, None, ctx, out).await
}

/// `download` and `cp`: one object (optionally a span of it), or a prefix.
async fn copy(
    op: &'static str,
    args: &CpArgs,
    resume: &ResumeArgs,
    span: Span,
    ctx: Ctx,
    out: &mut Out,
) -> CliResult {
    let src = to_uri(&args.src)?;
    let dest = to_uri(&args.dest)?;
    let selection = select(&src, None)?;
    if !args.recursive && !selection.wildcard && (is_local_dir(&args.src) || src.ends_with('/')) {
        return Err(Failure::Usage(format!(
            "{} is a {}: copy it with -r, or name its objects with a wildcard (`{}*`)",
            args.src,
            if is_local_dir(&args.src) {
                "directory"
            } else {
                "prefix"
            },
            as_prefix(&args.src)
        )));
    }
    if args.recursive || selection.wildcard {
        if span.is_some() {
            return Err(Failure::Usage(
                "--offset/--length copy a range of one object; they cannot be used with a prefix, a wildcard or -r"
                    .into(),
            ));
        }
        let tree = Tree {
            label: src.clone(),
            src: as_prefix(&selection.prefix),
            pattern: selection.pattern,
            deep: args.recursive || selection.deep,
            dst: as_prefix(&dest),
        };
        let plan = plan(args.jobs, resume);
        return copy_tree(op, &tree, args.dry_run, &plan, ctx, out).await;
    }
    let dst = single_dest(&src, &args.dest, &dest);
    if args.dry_run {
        store(&src)?.stat(&src).await?;
        return out.line(&format!("would copy {src} -> {dst}")).await;
    }
    copy_single(op, &src, &dst, span, &plan(1, resume), ctx, out).await
}

/// The objects a tree copy takes, and where they go.
struct Tree {
    /// The source as given (with its wildcard), for messages.
    label: String,
    src: String,
    pattern: Option<Regex>,
    deep: bool,
    dst: String,
}

pub async fn upload(args: &UploadArgs, ctx: Ctx, out: &mut Out) -> CliResult {
    let (dest_arg, sources) = args.paths.split_last().expect("clap requires two paths");
    let dest = to_uri(dest_arg)?;
    let paths = expand(sources)?;
    let into_prefix = dest.ends_with('/');
    if !into_prefix && (paths.len() > 1 || paths.iter().any(|p| is_local_dir(p))) {
        return Err(Failure::Usage(format!(
            "uploading several files or a directory needs a destination prefix ending in '/': {dest_arg}/"
        )));
    }
    let mut items: Vec<(String, String, Option<ObjectHint>)> = Vec::new();
    for path in &paths {
        let src = to_uri(path)?;
        if is_local_dir(path) {
            if !args.recursive {
                return Err(Failure::Usage(format!(
                    "{path} is a directory: upload it with -r"
                )));
            }
            let prefix = as_prefix(&src);
            let files: Vec<ObjectMeta> = objects_under(&*store(&prefix)?, &prefix, true, None)
                .try_collect()
                .await?;
            for m in files {
                let dst = format!("{dest}{}", m.uri.strip_prefix(&prefix).unwrap_or(&m.uri));
                items.push((m.uri.clone(), dst, Some(hint(&m))));
            }
        } else {
            // Its size gives the progress bar its total (a file that cannot be read
            // fails as its copy starts).
            let size = match store(&src)?.stat(&src).await {
                Ok(m) => Some(hint(&m)),
                Err(_) => None,
            };
            let dst = match into_prefix {
                true => format!("{dest}{}", basename(&src)),
                false => dest.clone(),
            };
            items.push((src, dst, size));
        }
    }
    let label = dest.clone();
    if args.dry_run {
        let lines = items
            .into_iter()
            .map(|(src, dst, _)| Ok(format!("would upload {src} -> {dst}")));
        return dry_run(stream::iter(lines), &format!("upload to {label}"), out).await;
    }
    run_copies(
        "upload",
        stream::iter(items.into_iter().map(Ok)),
        &label,
        &plan(args.jobs, &args.resume),
        ctx,
        out,
    )
    .await
}

/// Command-line sources with globs expanded (by us, for shells that pass them quoted).
fn expand(sources: &[String]) -> CliResult<Vec<String>> {
    let mut paths = Vec::new();
    for source in sources {
        if std::path::Path::new(source).exists() {
            paths.push(source.clone());
            continue;
        }
        if !source.contains(['*', '?', '[']) {
            return Err(Error::not_found(Operation::Open, to_uri(source)?).into());
        }
        let matched = glob::glob(source)
            .map_err(|e| Failure::Usage(format!("bad glob {source:?}: {e}")))?
            .filter_map(Result::ok)
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>();
        if matched.is_empty() {
            return Err(Failure::Usage(format!("no files match {source:?}")));
        }
        paths.extend(matched);
    }
    Ok(paths)
}

/// The destination of a one-object copy: inside `dest` when it is a prefix or a local
/// directory, else `dest` itself.
fn single_dest(src: &str, dest_arg: &str, dest: &str) -> String {
    if dest_arg.ends_with('/') || is_local_dir(dest_arg) {
        format!("{}{}", as_prefix(dest), basename(src))
    } else {
        dest.to_string()
    }
}

async fn copy_single(
    op: &'static str,
    src: &str,
    dst: &str,
    span: Span,
    plan: &Plan,
    ctx: Ctx,
    out: &mut Out,
) -> CliResult {
    let (src_store, dst_store) = (store(src)?, store(dst)?);
    let progress = Progress::bytes(ctx.progress, None);
    let started = Instant::now();
    let bytes = copy_object(&*src_store, src, &*dst_store, dst, span, None, plan, &|n| {
        progress.inc(n)
    })
    .await?;
    progress.finish();
    let tally = Tally {
        objects: 1,
        bytes,
        failures: Vec::new(),
    };
    tally.report(op, started, out, Operation::Copy, dst).await
}

/// Copies every object the tree selects to the same relative key under its destination.
async fn copy_tree(
    op: &'static str,
    tree: &Tree,
    dry: bool,
    plan: &Plan,
    ctx: Ctx,
    out: &mut Out,
) -> CliResult {
    let src_store = store(&tree.src)?;
    let items = objects_under(&*src_store, &tree.src, tree.deep, tree.pattern.as_ref()).map_ok(|m| {
        let dst = format!("{}{}", tree.dst, m.uri.strip_prefix(&tree.src).unwrap_or(&m.uri));
        let h = hint(&m);
        (m.uri, dst, Some(h))
    });
    if dry {
        let lines = items.map_ok(|(src, dst, _)| format!("would copy {src} -> {dst}"));
        return dry_run(lines, &format!("{op} {}", tree.label), out).await;
    }
    run_copies(op, items, &tree.label, plan, ctx, out).await
}

/// The plan of `jobs` transfers, journaling uploads when asked.
fn plan(jobs: usize, resume: &ResumeArgs) -> Plan {
    let plan = Plan::for_jobs(jobs);
    match &resume.journal_dir {
        Some(dir) => plan.with_journal_dir(dir),
        None => plan,
    }
}

async fn run_copies(
    op: &'static str,
    items: impl futures::Stream<Item = s3dlio::Result<(String, String, Option<ObjectHint>)>>,
    label: &str,
    plan: &Plan,
    ctx: Ctx,
    out: &mut Out,
) -> CliResult {
    // Every item comes with its size: the total grows as the listing goes on.
    let progress = Progress::bytes(ctx.progress, Some(0));
    let items = items.inspect_ok(|(_, _, hint)| {
        if let Some(h) = hint {
            progress.add_total(h.size);
        }
    });
    let started = Instant::now();
    let stores = stores();
    let tally = run_jobs(items, plan.jobs, &progress, |(src, dst, hint)| {
        let progress = &progress;
        async move {
            let result = copy_between(stores, &src, &dst, hint, plan, &|n| progress.inc(n)).await;
            (src, result)
        }
    })
    .await?;
    progress.finish();
    if tally.objects == 0 && tally.failures.is_empty() {
        return Err(Failure::NothingMatched(format!("{op} {label}")));
    }
    tally.report(op, started, out, Operation::Copy, label).await
}

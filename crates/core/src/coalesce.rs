//! Merging nearby ranges into fewer requests, and `get_ranges` on top of it.

use std::ops::Range;

use bytes::Bytes;

use crate::error::{Error, Operation, Result};
use crate::options::{GetRange, RangesOptions};
use crate::range_client::RangeGetClient;
use crate::task::try_join_ordered;

/// A plan: the requests to send, and where each caller range lies in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoalescePlan {
    /// Ranges to fetch, sorted by start.
    pub fetches: Vec<Range<u64>>,
    /// For each input range, in input order: the fetch holding it.
    pub owner: Vec<usize>,
}

/// Plans fetches for `ranges`: ranges that overlap or lie at most `gap` bytes apart share
/// one fetch while it spans at most `max_merged` bytes. `gap == 0` or `max_merged == 0`
/// never merges, not even overlapping ranges, so every input range is its own request.
pub fn coalesce(ranges: &[Range<u64>], gap: u64, max_merged: u64) -> CoalescePlan {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| (ranges[i].start, ranges[i].end));
    let mut fetches: Vec<Range<u64>> = Vec::new();
    let mut owner = vec![0; ranges.len()];
    for i in order {
        let r = &ranges[i];
        match fetches.last_mut() {
            Some(last)
                if gap > 0
                    && r.start <= last.end.saturating_add(gap)
                    && last.end.max(r.end) - last.start <= max_merged =>
            {
                last.end = last.end.max(r.end);
            }
            _ => fetches.push(r.clone()),
        }
        owner[i] = fetches.len() - 1;
    }
    CoalescePlan { fetches, owner }
}

/// Many ranges of one object, in request order: nearby ranges share a request
/// ([`coalesce`]), requests run `opts.max_concurrency` at a time, every result is a slice
/// of its request's buffer (no copy), and every request after the first is pinned to the
/// version the first one saw, so results never mix two versions of the object.
pub async fn fetch_ranges<C: RangeGetClient + ?Sized>(
    client: &C,
    uri: &str,
    ranges: &[Range<u64>],
    opts: RangesOptions,
) -> Result<Vec<Bytes>> {
    let Some(plan) = plan_ranges(uri, ranges, &opts)? else {
        return Ok(Vec::new());
    };
    let first = client
        .get_range_chunk(uri, plan.fetches[0].clone(), None, None)
        .await?;
    let (size, pin) = (first.total_size, first.version.clone());
    let fetches = plan.fetches[1..].iter().cloned().map(|f| {
        let pin = pin.as_deref();
        async move { client.get_range_chunk(uri, f, pin, None).await.map(|c| c.data) }
    });
    let rest = try_join_ordered(fetches, opts.max_concurrency).await?;
    let fetched: Vec<Bytes> = std::iter::once(first.data).chain(rest).collect();
    slice_fetched(uri, ranges, &plan, &fetched, size)
}

/// How a `get_ranges` call fetches `ranges` ([`coalesce`] with `opts`' gap and merged
/// size): `None` when there is nothing to read; an error naming the first range that ends
/// before it starts. Every backend's `get_ranges` starts here.
pub fn plan_ranges(uri: &str, ranges: &[Range<u64>], opts: &RangesOptions) -> Result<Option<CoalescePlan>> {
    if let Some(r) = ranges.iter().find(|r| r.start > r.end) {
        return Err(Error::invalid_argument(
            Operation::GetRange,
            uri,
            format!("range {}..{} ends before it starts", r.start, r.end),
        ));
    }
    Ok((!ranges.is_empty()).then(|| coalesce(ranges, opts.coalesce_gap, opts.max_merged_size)))
}

/// Each caller range, in input order, as a slice (no copy) of the fetch that holds it
/// (`fetched[i]` is `plan.fetches[i]` as read from an object of `size` bytes).
pub fn slice_fetched(
    uri: &str,
    ranges: &[Range<u64>],
    plan: &CoalescePlan,
    fetched: &[Bytes],
    size: u64,
) -> Result<Vec<Bytes>> {
    ranges
        .iter()
        .zip(&plan.owner)
        .map(|(r, &i)| {
            let resolved = GetRange::Bounded(r.clone()).resolve(Operation::GetRange, uri, size)?;
            let base = plan.fetches[i].start;
            let data = &fetched[i];
            let lo = (resolved.start - base) as usize;
            let hi = ((resolved.end - base) as usize).min(data.len());
            Ok(data.slice(lo.min(hi)..hi))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn merges_within_gap_only() {
        let p = coalesce(&[0..10, 15..20, 100..110], 5, u64::MAX);
        assert_eq!(p.fetches, vec![0..20, 100..110]);
        assert_eq!(p.owner, vec![0, 0, 1]);
        let p = coalesce(&[0..10, 5..20], 0, u64::MAX);
        assert_eq!(p.fetches, vec![0..10, 5..20]);
    }

    #[test]
    fn a_merged_request_stays_within_the_size_cap() {
        let p = coalesce(&[0..10, 12..20, 22..30, 32..40], 5, 20);
        assert_eq!(p.fetches, vec![0..20, 22..40]);
        assert_eq!(p.owner, vec![0, 0, 1, 1]);
        let p = coalesce(&[0..10, 5..20], 100, 0);
        assert_eq!(p.fetches, vec![0..10, 5..20], "a cap of 0 never merges");
        let p = coalesce(&[0..100, 100..101], 100, 50);
        assert_eq!(
            p.fetches,
            vec![0..100, 100..101],
            "a long range alone is one request"
        );
    }

    proptest! {
        #[test]
        fn every_range_lies_inside_its_fetch(
            rs in proptest::collection::vec((0u64..10_000, 0u64..500), 0..50),
            gap in 0u64..300,
            cap in prop_oneof![Just(u64::MAX), 0u64..2_000],
        ) {
            let ranges: Vec<Range<u64>> = rs.iter().map(|&(s, l)| s..s + l).collect();
            let p = coalesce(&ranges, gap, cap);
            for (i, r) in ranges.iter().enumerate() {
                let f = &p.fetches[p.owner[i]];
                prop_assert!(f.start <= r.start && r.end <= f.end);
            }
            if gap == 0 || cap == 0 {
                prop_assert_eq!(p.fetches.len(), ranges.len());
            }
            for (f, fetch) in p.fetches.iter().enumerate() {
                let merged = p.owner.iter().filter(|&&o| o == f).count() > 1;
                prop_assert!(!merged || fetch.end - fetch.start <= cap, "{fetch:?} over {cap}");
            }
            for w in p.fetches.windows(2) {
                prop_assert!(w[0].start <= w[1].start);
                if gap > 0 && cap == u64::MAX {
                    prop_assert!(w[1].start > w[0].end + gap);
                }
            }
        }
    }
}

//! Merging nearby ranges into fewer requests, and `get_ranges` on top of it.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

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

/// Cuts each fetch of a plan into the caller ranges it holds, as the fetch arrives, and
/// puts them back in input order. A range is a slice of its fetch (no copy), except where
/// a fetch's ranges hold less than half of it (the rest is gaps a merge read): their bytes
/// are copied out into one buffer of their own, so results never keep those gaps alive
/// (`get_ranges` of 1000 × 4 KiB of a 1 GiB object, merged within 1 MiB, held 280 MiB).
#[derive(Debug)]
pub struct Cutter<'a> {
    uri: &'a str,
    ranges: &'a [Range<u64>],
    plan: &'a CoalescePlan,
    /// Input ranges grouped by fetch, each group in input order: fetch `f`'s are
    /// `by_fetch[starts[f]..starts[f + 1]]` (two allocations, not one per fetch: a
    /// batched file:// call cuts hundreds of thousands of ranges a second).
    by_fetch: Vec<usize>,
    starts: Vec<usize>,
}

impl<'a> Cutter<'a> {
    pub fn new(uri: &'a str, ranges: &'a [Range<u64>], plan: &'a CoalescePlan) -> Self {
        let mut starts = vec![0; plan.fetches.len() + 1];
        plan.owner.iter().for_each(|&f| starts[f + 1] += 1);
        for f in 1..starts.len() {
            starts[f] += starts[f - 1];
        }
        let mut by_fetch = vec![0; plan.owner.len()];
        let mut next = starts.clone();
        for (i, &f) in plan.owner.iter().enumerate() {
            by_fetch[next[f]] = i;
            next[f] += 1;
        }
        Cutter {
            uri,
            ranges,
            plan,
            by_fetch,
            starts,
        }
    }

    /// The input ranges fetch `f` holds, in input order.
    fn members(&self, f: usize) -> &[usize] {
        &self.by_fetch[self.starts[f]..self.starts[f + 1]]
    }

    /// Appends to `into` the ranges fetch `f` holds, `data` being what it read of an
    /// object of `size` bytes, in input order among themselves; an error for a range that
    /// starts past the end.
    pub fn cut(&self, f: usize, data: Bytes, size: u64, into: &mut Vec<Bytes>) -> Result<()> {
        let base = self.plan.fetches[f].start;
        let span = |i: usize| -> Result<Range<usize>> {
            let r = GetRange::Bounded(self.ranges[i].clone()).resolve(Operation::GetRange, self.uri, size)?;
            let hi = ((r.end - base) as usize).min(data.len());
            Ok(((r.start - base) as usize).min(hi)..hi)
        };
        // Sliced first (no copy); if they hold less than half of the fetch, the slices are
        // replaced by slices of one buffer their bytes are copied into.
        let first = into.len();
        for &i in self.members(f) {
            into.push(data.slice(span(i)?));
        }
        let cut = &mut into[first..];
        let wanted: usize = cut.iter().map(Bytes::len).sum();
        if wanted * 2 < data.len() {
            let mut own = BytesMut::with_capacity(wanted);
            cut.iter().for_each(|b| own.extend_from_slice(b));
            let own = own.freeze();
            let mut at = 0;
            for b in cut {
                *b = own.slice(at..at + b.len());
                at += b.len();
            }
        }
        Ok(())
    }

    /// The caller's ranges in input order, from every fetch's [`cut`](Cutter::cut), fetch
    /// by fetch.
    pub fn in_input_order(&self, cut: impl IntoIterator<Item = Bytes>) -> Vec<Bytes> {
        // `None` is free to make and to overwrite, where an empty `Bytes` costs a call
        // through its vtable for each.
        let mut out: Vec<Option<Bytes>> = vec![None; self.ranges.len()];
        for (&i, data) in self.by_fetch.iter().zip(cut) {
            out[i] = Some(data);
        }
        out.into_iter().map(Option::unwrap_or_default).collect()
    }
}

/// Many ranges of one object, in request order: nearby ranges share a request
/// ([`coalesce`]), requests run `opts.max_concurrency` at a time, and every request after
/// the first is pinned to the version the first one saw, so results never mix two
/// versions of the object. Each request is cut into its ranges as it arrives
/// ([`Cutter`]), so the gaps of merged requests are held by at most `max_concurrency`
/// requests at a time, never by the results.
pub async fn fetch_ranges<C: RangeGetClient + ?Sized>(
    client: &C,
    uri: &str,
    ranges: &[Range<u64>],
    opts: RangesOptions,
) -> Result<Vec<Bytes>> {
    let Some(plan) = plan_ranges(uri, ranges, &opts)? else {
        return Ok(Vec::new());
    };
    let cutter = Cutter::new(uri, ranges, &plan);
    let first = client
        .get_range_chunk(uri, plan.fetches[0].clone(), None, None)
        .await?;
    let (size, pin) = (first.total_size, first.version.clone());
    let mut head = Vec::new();
    cutter.cut(0, first.data, size, &mut head)?;
    let fetches = (1..plan.fetches.len()).map(|f| {
        let (range, pin, cutter) = (plan.fetches[f].clone(), pin.as_deref(), &cutter);
        async move {
            let data = client.get_range_chunk(uri, range, pin, None).await?.data;
            let mut got = Vec::new();
            cutter.cut(f, data, size, &mut got)?;
            Ok(got)
        }
    });
    let rest = try_join_ordered(fetches, opts.max_concurrency).await?;
    Ok(cutter.in_input_order(head.into_iter().chain(rest.into_iter().flatten())))
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

/// Each caller range, in input order, cut ([`Cutter`]) from the fetch that holds it
/// (`fetched[i]` is `plan.fetches[i]` as read from an object of `size` bytes).
pub fn slice_fetched(
    uri: &str,
    ranges: &[Range<u64>],
    plan: &CoalescePlan,
    fetched: &[Bytes],
    size: u64,
) -> Result<Vec<Bytes>> {
    let cutter = Cutter::new(uri, ranges, plan);
    let mut got = Vec::with_capacity(ranges.len());
    for (f, data) in fetched.iter().enumerate() {
        cutter.cut(f, data.clone(), size, &mut got)?;
    }
    Ok(cutter.in_input_order(got))
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

    /// Where `got` lies: inside `object`'s own memory (a slice), or elsewhere (a copy).
    fn inside(object: &Bytes, got: &Bytes) -> bool {
        object.as_ptr_range().contains(&got.as_ptr())
    }

    #[tokio::test]
    async fn ranges_under_half_of_a_merged_request_are_copied_out_of_it_and_the_rest_sliced() {
        use crate::{MemoryStore, ObjectStore, ObjectStoreExt};
        let object = Bytes::from((0..1u32 << 18).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        let store = MemoryStore::new();
        let uri = "memory://b/o";
        store.create_container("memory://b").await.unwrap();
        store.put(uri, object.clone()).await.unwrap();
        // Two 16-byte ranges 200 KiB apart, merged into one request of 200 KiB.
        let sparse = [100..116, 204_900..204_916];
        // Two ranges that fill their merged request but for 100 bytes.
        let dense = [0..100_000, 100_100..200_000];
        let opts = RangesOptions::default();
        for (ranges, copied) in [(&sparse, true), (&dense, false)] {
            assert_eq!(
                coalesce(ranges, opts.coalesce_gap, opts.max_merged_size)
                    .fetches
                    .len(),
                1
            );
            let got = fetch_ranges(&store, uri, ranges, opts).await.unwrap();
            for (r, g) in ranges.iter().zip(&got) {
                assert_eq!(g[..], object[r.start as usize..r.end as usize]);
                assert_eq!(inside(&object, g), !copied, "{r:?}: copied out is {copied}");
            }
        }
        // The same through `slice_fetched`, which backends with their own fetching use.
        let plan = coalesce(&sparse, 1 << 20, u64::MAX);
        let fetched = [object.slice(100..204_916)];
        let got = slice_fetched(uri, &sparse, &plan, &fetched, object.len() as u64).unwrap();
        assert_eq!(got[1][..], object[204_900..204_916]);
        assert!(got.iter().all(|g| !inside(&object, g)));
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

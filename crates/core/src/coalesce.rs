//! Merging nearby ranges into fewer requests, for `get_ranges`.

use std::ops::Range;

/// A plan: the requests to send, and where each caller range lies in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoalescePlan {
    /// Ranges to fetch, sorted by start.
    pub fetches: Vec<Range<u64>>,
    /// For each input range, in input order: the fetch holding it.
    pub owner: Vec<usize>,
}

/// Plans fetches for `ranges`: ranges that overlap or lie at most `gap` bytes apart share
/// one fetch. `gap == 0` never merges, not even overlapping ranges, so every input
/// range is its own request.
pub fn coalesce(ranges: &[Range<u64>], gap: u64) -> CoalescePlan {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| (ranges[i].start, ranges[i].end));
    let mut fetches: Vec<Range<u64>> = Vec::new();
    let mut owner = vec![0; ranges.len()];
    for i in order {
        let r = &ranges[i];
        match fetches.last_mut() {
            Some(last) if gap > 0 && r.start <= last.end.saturating_add(gap) => {
                last.end = last.end.max(r.end);
            }
            _ => fetches.push(r.clone()),
        }
        owner[i] = fetches.len() - 1;
    }
    CoalescePlan { fetches, owner }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn merges_within_gap_only() {
        let p = coalesce(&[0..10, 15..20, 100..110], 5);
        assert_eq!(p.fetches, vec![0..20, 100..110]);
        assert_eq!(p.owner, vec![0, 0, 1]);
        let p = coalesce(&[0..10, 5..20], 0);
        assert_eq!(p.fetches, vec![0..10, 5..20]);
    }

    proptest! {
        #[test]
        fn every_range_lies_inside_its_fetch(
            rs in proptest::collection::vec((0u64..10_000, 0u64..500), 0..50),
            gap in 0u64..300,
        ) {
            let ranges: Vec<Range<u64>> = rs.iter().map(|&(s, l)| s..s + l).collect();
            let p = coalesce(&ranges, gap);
            for (i, r) in ranges.iter().enumerate() {
                let f = &p.fetches[p.owner[i]];
                prop_assert!(f.start <= r.start && r.end <= f.end);
            }
            if gap == 0 {
                prop_assert_eq!(p.fetches.len(), ranges.len());
            }
            for w in p.fetches.windows(2) {
                prop_assert!(w[0].start <= w[1].start);
                if gap > 0 {
                    prop_assert!(w[1].start > w[0].end + gap);
                }
            }
        }
    }
}

//! Where each rank's shard goes. Object stores throttle per key prefix (S3 splits a
//! partition when one prefix is hot), so a large job spreads its shards over prefixes.

use std::fmt;

/// How shard keys are spread over prefixes under the checkpoint's base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Every shard under `shards/`.
    #[default]
    Flat,
    /// Rank `r` under `p<r mod n>/` (`n` prefixes, at least 1).
    RoundRobin { prefixes: u32 },
    /// Rank `r` under its low `levels` bits as a path, `b/1/0/1/`: a tree the store can
    /// split one level at a time.
    Binary { levels: u32 },
}

impl Layout {
    /// The key of `rank`'s shard of `step`, relative to the checkpoint's base.
    pub fn shard_key(&self, step: u64, rank: u32, compressed: bool) -> String {
        let prefix = match *self {
            Layout::Flat => "shards".to_string(),
            Layout::RoundRobin { prefixes } => format!("p{:03}", rank % prefixes.max(1)),
            Layout::Binary { levels } => {
                let bits: Vec<String> = (0..levels.min(31))
                    .rev()
                    .map(|b| ((rank >> b) & 1).to_string())
                    .collect();
                if bits.is_empty() {
                    "b".to_string()
                } else {
                    format!("b/{}", bits.join("/"))
                }
            }
        };
        let ext = if compressed { ".zst" } else { "" };
        format!("{prefix}/step-{step:012}/rank-{rank:06}.shard{ext}")
    }

    /// Parses the original s3dlio's strategy names: `flat`, `round_robin[:N]` (default 16
    /// prefixes) and `binary[:LEVELS]` (default 4 levels).
    pub fn parse(s: &str) -> Option<Layout> {
        let (name, arg) = s.split_once(':').map_or((s, None), |(n, a)| (n, Some(a)));
        let arg = |default: u32| arg.map_or(Some(default), |a| a.parse().ok().filter(|&n| n > 0));
        match name.to_ascii_lowercase().replace('-', "_").as_str() {
            "flat" => Some(Layout::Flat),
            "round_robin" | "roundrobin" => arg(16).map(|prefixes| Layout::RoundRobin { prefixes }),
            "binary" => arg(4).map(|levels| Layout::Binary { levels }),
            _ => None,
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layout::Flat => f.write_str("flat"),
            Layout::RoundRobin { prefixes } => write!(f, "round_robin:{prefixes}"),
            Layout::Binary { levels } => write!(f, "binary:{levels}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_as_named() {
        assert_eq!(
            Layout::Flat.shard_key(7, 3, false),
            "shards/step-000000000007/rank-000003.shard"
        );
        let rr = Layout::RoundRobin { prefixes: 4 };
        assert_eq!(
            rr.shard_key(7, 5, true),
            "p001/step-000000000007/rank-000005.shard.zst"
        );
        let bin = Layout::Binary { levels: 3 };
        assert_eq!(
            bin.shard_key(1, 5, false),
            "b/1/0/1/step-000000000001/rank-000005.shard"
        );
        assert_eq!(
            Layout::Binary { levels: 0 }.shard_key(1, 5, false),
            "b/step-000000000001/rank-000005.shard"
        );
    }

    #[test]
    fn names_parse_and_print_back() {
        for l in [
            Layout::Flat,
            Layout::RoundRobin { prefixes: 8 },
            Layout::Binary { levels: 2 },
        ] {
            assert_eq!(Layout::parse(&l.to_string()), Some(l));
        }
        assert_eq!(
            Layout::parse("round_robin"),
            Some(Layout::RoundRobin { prefixes: 16 })
        );
        assert_eq!(Layout::parse("Binary"), Some(Layout::Binary { levels: 4 }));
        assert_eq!(Layout::parse("round_robin:0"), None);
        assert_eq!(Layout::parse("zigzag"), None);
    }
}

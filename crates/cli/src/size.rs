//! Human sizes: `4096`, `64k` / `64KB` (×1000), `64Ki` / `64KiB` (×1024), up to `t`/`Ti`.

/// Parses a size; the error says which forms are accepted.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let unit = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1u64,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000u64.pow(2),
        "g" | "gb" => 1000u64.pow(3),
        "t" | "tb" => 1000u64.pow(4),
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => return Err(bad(text)),
    };
    let value: f64 = number.parse().map_err(|_| bad(text))?;
    let bytes = value * unit as f64;
    if bytes.fract() != 0.0 || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{text:?} is not a whole number of bytes"));
    }
    Ok(bytes as u64)
}

/// Object sizes of a sweep: `4Ki,64Ki,1Mi`, or `4Ki..16Mi` for the first size doubled
/// until the last (the last included even when the doubling steps over it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizes(pub Vec<u64>);

pub fn parse_sizes(text: &str) -> Result<Sizes, String> {
    if let Some((first, last)) = text.split_once("..") {
        let (first, last) = (parse_size(first)?, parse_size(last)?);
        if first == 0 || first > last {
            return Err(format!(
                "invalid size range {text:?}: it runs from a size above 0 up to a larger one, e.g. 4Ki..16Mi"
            ));
        }
        let mut sizes: Vec<u64> = std::iter::successors(Some(first), |s| s.checked_mul(2))
            .take_while(|s| *s <= last)
            .collect();
        if sizes.last() != Some(&last) {
            sizes.push(last);
        }
        return Ok(Sizes(sizes));
    }
    let sizes = (text.split(',').filter(|p| !p.trim().is_empty()))
        .map(parse_size)
        .collect::<Result<Vec<_>, _>>()?;
    if sizes.is_empty() {
        return Err(format!(
            "no size in {text:?}: give one, a list (4Ki,64Ki) or a range (4Ki..16Mi)"
        ));
    }
    Ok(Sizes(sizes))
}

fn bad(text: &str) -> String {
    format!("invalid size {text:?}: use bytes, or a number with k/m/g/t (10^3) or Ki/Mi/Gi/Ti (2^10)")
}

/// `1.50 MB`-style rendering for humans, in decimal units like every rate the CLI prints
/// (MB/s) and its progress bars.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_lists_and_doubling_ranges() {
        assert_eq!(parse_sizes("4Ki"), Ok(Sizes(vec![4096])));
        assert_eq!(parse_sizes("4Ki,1Mi"), Ok(Sizes(vec![4096, 1 << 20])));
        assert_eq!(parse_sizes("4Ki..16Ki"), Ok(Sizes(vec![4096, 8192, 16384])));
        assert_eq!(parse_sizes("1k..5k"), Ok(Sizes(vec![1000, 2000, 4000, 5000])));
        assert_eq!(parse_sizes("1Mi..1Mi"), Ok(Sizes(vec![1 << 20])));
        for bad in ["", ",", "0..4Ki", "8Ki..4Ki", "4Ki..x", "4Ki,,y"] {
            assert!(parse_sizes(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn decimal_and_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64k"), Ok(64_000));
        assert_eq!(parse_size("64KB"), Ok(64_000));
        assert_eq!(parse_size("64Ki"), Ok(65_536));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("1.5Mi"), Ok(1_572_864));
        assert_eq!(parse_size("2g"), Ok(2_000_000_000));
        assert_eq!(parse_size("1Gi"), Ok(1 << 30));
        assert_eq!(parse_size("1b"), Ok(1));
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for bad in ["", "k", "12x", "1.3", "-5", "1..2k"] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn human_rendering() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1500), "1.50 kB");
        assert_eq!(human_bytes(3 << 30), "3.22 GB");
    }
}

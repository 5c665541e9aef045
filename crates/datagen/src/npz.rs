//! Synthetic NPZ archives: numpy's `savez` format (a ZIP of stored `.npy` members), the
//! layout DLIO's unet3d-style workloads read. `x.npy` holds the generator's bytes as an
//! array of the given shape and dtype (any bit pattern, so floats may be NaN); `y.npy`
//! holds `num_samples` int64 zero labels — the original s3dlio's `generate_npz_bytes`.

use std::io::{Cursor, Write};

use bytes::Bytes;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::{DataSpec, Generator};

/// The size in bytes of one element of the numpy dtype `descr` (`<f4`, `|u1`, `>i8`,
/// `?`, `f8`, ...): a byte order, a kind of `b i u f c` (or `?`) and a size.
pub fn itemsize(descr: &str) -> Result<usize, String> {
    let bad = || format!("dtype {descr:?}: expected a numpy dtype string such as '<f4', '<i8', '|u1' or '?'");
    let body = descr.trim_start_matches(['<', '>', '|', '=']);
    if body == "?" {
        return Ok(1);
    }
    let (kind, size) = body.split_at_checked(1).ok_or_else(bad)?;
    let size: usize = size.parse().map_err(|_| bad())?;
    let fits = match kind {
        "b" | "?" => size == 1,
        "i" | "u" => matches!(size, 1 | 2 | 4 | 8),
        "f" => matches!(size, 2 | 4 | 8),
        "c" => matches!(size, 8 | 16),
        _ => false,
    };
    fits.then_some(size).ok_or_else(bad)
}

/// An `.npy` version 1.0 header for a C-ordered array, padded so the data starts on a
/// 64-byte boundary.
pub fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // magic (6) + version (2) + length (2) + dict + '\n' is a multiple of 64.
    let pad = (64 - (10 + dict.len() + 1) % 64) % 64;
    dict.extend(std::iter::repeat_n(' ', pad));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// An NPZ archive: `x.npy` of `shape` and `dtype` from `spec`'s generator, `y.npy` of
/// `num_samples` int64 zeros.
pub fn npz(shape: &[usize], dtype: &str, num_samples: usize, spec: DataSpec) -> Result<Bytes, String> {
    let size = itemsize(dtype)?;
    let len = shape
        .iter()
        .try_fold(size, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} of {dtype} does not fit in memory"))?;
    let x = Generator::new(len as u64, spec).generate();
    let y = vec![0u8; num_samples * 8];
    let members: [(&str, Vec<u8>, &[u8]); 2] = [
        ("x.npy", npy_header(dtype, shape), &x),
        ("y.npy", npy_header("<i8", &[num_samples]), &y),
    ];
    let total: usize = members.iter().map(|(_, h, d)| h.len() + d.len() + 200).sum();
    let mut zip = ZipWriter::new(Cursor::new(Vec::with_capacity(total)));
    let zip_err = |e: zip::result::ZipError| format!("writing the NPZ archive: {e}");
    for (name, header, data) in members {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(header.len() + data.len() >= u32::MAX as usize);
        zip.start_file(name, options).map_err(zip_err)?;
        zip.write_all(&header)
            .and_then(|()| zip.write_all(data))
            .map_err(|e| format!("writing the NPZ archive: {e}"))?;
    }
    Ok(Bytes::from(zip.finish().map_err(zip_err)?.into_inner()))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn headers_pad_to_64_and_name_the_shape() {
        for shape in [&[][..], &[5], &[3, 4, 1]] {
            let h = npy_header("<f4", shape);
            assert_eq!(h.len() % 64, 0);
            assert!(h.ends_with(b"\n"));
        }
        let h = String::from_utf8_lossy(&npy_header("<f4", &[5])[10..]).into_owned();
        assert!(h.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"));
        assert_eq!(itemsize("<f8"), Ok(8));
        assert_eq!(itemsize("|u1"), Ok(1));
        assert_eq!(itemsize("?"), Ok(1));
        assert!(itemsize("<f3").is_err() && itemsize("float").is_err() && itemsize("").is_err());
    }

    #[test]
    fn an_archive_of_x_and_y_as_stored_members() {
        let spec = DataSpec::default().with_seed(9);
        let archive = npz(&[10, 7], "<i4", 3, spec).unwrap();
        let mut zip = zip::ZipArchive::new(Cursor::new(&archive[..])).unwrap();
        assert_eq!(zip.len(), 2);
        let mut x = Vec::new();
        let mut member = zip.by_name("x.npy").unwrap();
        assert_eq!(member.compression(), CompressionMethod::Stored);
        member.read_to_end(&mut x).unwrap();
        let header = npy_header("<i4", &[10, 7]);
        assert_eq!(&x[..header.len()], &header[..]);
        assert_eq!(&x[header.len()..], &Generator::new(280, spec).generate()[..]);
        drop(member);
        let mut y = Vec::new();
        zip.by_name("y.npy").unwrap().read_to_end(&mut y).unwrap();
        assert_eq!(y.len(), npy_header("<i8", &[3]).len() + 24);
        assert!(y.ends_with(&[0; 24]));
        assert!(npz(&[usize::MAX, 2], "<f8", 1, spec).is_err());
    }
}

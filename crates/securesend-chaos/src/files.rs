//! The files the soak sends: sizes and contents drawn from the seed, so a failing run can be
//! replayed with the same bytes, and each file's SHA-256 known before it goes on the wire.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Smallest attachment: 1 MiB.
pub const MIN_SIZE: u64 = 1 << 20;
/// Largest attachment: 3 MiB.
pub const MAX_SIZE: u64 = 3 << 20;

/// A file written for one operation, as the service should end up holding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The file name, unique to the operation.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// A deterministic stream of numbers for one purpose, keyed by the run's seed and a label.
#[derive(Clone, Debug)]
pub struct Draw {
    state: u64,
}

impl Draw {
    /// The stream for `(seed, stream)`; different streams never share values in practice.
    pub fn new(seed: u64, stream: u64) -> Draw {
        Draw {
            state: splitmix64(seed ^ splitmix64(stream.wrapping_add(0x632b_e59b_d9b4_e019))),
        }
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        splitmix64(self.state)
    }

    /// A value in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Writes `size` bytes drawn from `draw` to `dir/name`, hashing them on the way, in blocks
/// so a file never sits whole in memory.
pub fn write(
    dir: &Path,
    name: &str,
    size: u64,
    draw: &mut Draw,
) -> io::Result<(PathBuf, Expected)> {
    const BLOCK: usize = 64 * 1024;
    let path = dir.join(name);
    let mut out = io::BufWriter::new(std::fs::File::create(&path)?);
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; BLOCK];
    let mut left = size;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        for word in block[..n].chunks_mut(8) {
            let bytes = draw.next_u64().to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
        hasher.update(&block[..n]);
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok((
        path,
        Expected {
            name: name.to_owned(),
            size,
            sha256: hex::encode(hasher.finalize()),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_the_hash_is_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (p1, e1) = write(dir.path(), "a.bin", 100_003, &mut Draw::new(7, 1)).unwrap();
        let bytes = std::fs::read(&p1).unwrap();
        assert_eq!(bytes.len(), 100_003);
        assert_eq!(e1.sha256, hex::encode(Sha256::digest(&bytes)));
        let (_, e2) = write(dir.path(), "b.bin", 100_003, &mut Draw::new(7, 1)).unwrap();
        assert_eq!(e1.sha256, e2.sha256);
        let (_, e3) = write(dir.path(), "c.bin", 100_003, &mut Draw::new(7, 2)).unwrap();
        assert_ne!(e1.sha256, e3.sha256);
    }

    #[test]
    fn between_stays_in_range() {
        let mut d = Draw::new(1, 1);
        for _ in 0..1000 {
            let v = d.between(MIN_SIZE, MAX_SIZE);
            assert!((MIN_SIZE..=MAX_SIZE).contains(&v));
        }
    }
}

//! Test files with deterministic contents.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rand::{RngCore, SeedableRng};
use sha2::Digest;

/// A temporary directory of generated files.
#[derive(Debug)]
pub struct TestFiles {
    dir: tempfile::TempDir,
}

impl Default for TestFiles {
    fn default() -> Self {
        TestFiles::new()
    }
}

impl TestFiles {
    /// An empty directory.
    pub fn new() -> Self {
        TestFiles {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `size` pseudo-random bytes (seeded by name and size) to `name`.
    pub fn create(&self, name: &str, size: u64) -> PathBuf {
        let path = self.dir.path().join(name);
        let seed = name
            .bytes()
            .fold(size, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(&path).expect("create test file"));
        let mut block = vec![0u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            rng.fill_bytes(&mut block[..n]);
            out.write_all(&block[..n]).expect("write test file");
            left -= n as u64;
        }
        out.flush().expect("flush test file");
        path
    }

    /// A fresh subdirectory, for downloads.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(&p).expect("create subdirectory");
        p
    }
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).expect("open for hashing");
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).expect("read for hashing");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

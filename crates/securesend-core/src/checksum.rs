//! Checksums of file contents, computed while bytes stream.

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::{Error, Result};

/// Which digests a [`Hasher`] computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DigestSet {
    /// SHA-256 (every provider: our own end-to-end check).
    pub sha256: bool,
    /// MD5 (services that report it).
    pub md5: bool,
    /// SHA3-256 (services that report it).
    pub sha3_256: bool,
}

impl DigestSet {
    /// SHA-256 only.
    pub const SHA256: DigestSet = DigestSet {
        sha256: true,
        md5: false,
        sha3_256: false,
    };
    /// All supported digests.
    pub const ALL: DigestSet = DigestSet {
        sha256: true,
        md5: true,
        sha3_256: true,
    };
    /// No digest at all.
    pub const NONE: DigestSet = DigestSet {
        sha256: false,
        md5: false,
        sha3_256: false,
    };
}

/// Hex-encoded (lowercase) checksums of one file; each is present when known.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    /// SHA-256, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    /// MD5, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub md5: Option<String>,
    /// SHA3-256, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha3_256: Option<String>,
}

impl Checksums {
    /// Checksums with only SHA-256 set.
    pub fn sha256(hex: impl Into<String>) -> Self {
        Checksums {
            sha256: Some(hex.into()),
            ..Checksums::default()
        }
    }

    /// Whether no checksum is known.
    pub fn is_empty(&self) -> bool {
        self.sha256.is_none() && self.md5.is_none() && self.sha3_256.is_none()
    }

    /// The digests needed to check against these checksums.
    pub fn digest_set(&self) -> DigestSet {
        DigestSet {
            sha256: self.sha256.is_some(),
            md5: self.md5.is_some(),
            sha3_256: self.sha3_256.is_some(),
        }
    }

    /// Fills in each checksum that `other` knows and `self` does not.
    pub fn merge(&mut self, other: &Checksums) {
        if self.sha256.is_none() {
            self.sha256.clone_from(&other.sha256);
        }
        if self.md5.is_none() {
            self.md5.clone_from(&other.md5);
        }
        if self.sha3_256.is_none() {
            self.sha3_256.clone_from(&other.sha3_256);
        }
    }

    /// Compares every checksum known on both sides; a difference is an integrity error naming
    /// the algorithm and `what` was checked.
    pub fn verify(&self, expected: &Checksums, what: &str) -> Result<()> {
        let pairs = [
            ("sha256", &self.sha256, &expected.sha256),
            ("md5", &self.md5, &expected.md5),
            ("sha3-256", &self.sha3_256, &expected.sha3_256),
        ];
        for (algo, actual, wanted) in pairs {
            if let (Some(actual), Some(wanted)) = (actual, wanted) {
                if !actual.eq_ignore_ascii_case(wanted.trim()) {
                    return Err(Error::integrity(format!(
                        "{what}: {algo} is {actual} but the service reports {}",
                        crate::error::clean_service_text(wanted)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Computes the digests of a [`DigestSet`] over bytes fed in order.
///
/// ```
/// use securesend_core::checksum::{DigestSet, Hasher};
///
/// let mut h = Hasher::new(DigestSet::ALL);
/// h.update(b"abc");
/// let sums = h.finish();
/// assert_eq!(
///     sums.sha256.as_deref(),
///     Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
/// );
/// assert_eq!(sums.md5.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
/// ```
#[derive(Clone, Default)]
pub struct Hasher {
    sha256: Option<sha2::Sha256>,
    md5: Option<md5::Md5>,
    sha3_256: Option<Sha3>,
    bytes: u64,
}

/// SHA3-256 from AWS-LC. It caps a verified transfer (the slowest of its digests), and AWS-LC's
/// Keccak runs about a third faster than RustCrypto's portable one.
#[derive(Clone)]
struct Sha3(aws_lc_rs::digest::Context);

impl Sha3 {
    fn new() -> Sha3 {
        Sha3(aws_lc_rs::digest::Context::new(
            &aws_lc_rs::digest::SHA3_256,
        ))
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> aws_lc_rs::digest::Digest {
        self.0.finish()
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("sha256", &self.sha256.is_some())
            .field("md5", &self.md5.is_some())
            .field("sha3_256", &self.sha3_256.is_some())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Hasher {
    /// A hasher computing the digests in `set`.
    pub fn new(set: DigestSet) -> Self {
        Hasher {
            sha256: set.sha256.then(sha2::Sha256::new),
            md5: set.md5.then(md5::Md5::new),
            sha3_256: set.sha3_256.then(Sha3::new),
            bytes: 0,
        }
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
        if let Some(h) = &mut self.md5 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha3_256 {
            h.update(data);
        }
    }

    /// How many bytes were fed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// One hasher per digest, each where this one is; and the bytes fed so far.
    pub(crate) fn split(self) -> (u64, Vec<Hasher>) {
        let alone = Hasher::default;
        let mut parts = Vec::new();
        if let Some(h) = self.sha256 {
            parts.push(Hasher {
                sha256: Some(h),
                ..alone()
            });
        }
        if let Some(h) = self.md5 {
            parts.push(Hasher {
                md5: Some(h),
                ..alone()
            });
        }
        if let Some(h) = self.sha3_256 {
            parts.push(Hasher {
                sha3_256: Some(h),
                ..alone()
            });
        }
        (self.bytes, parts)
    }

    /// The hasher that [`Hasher::split`] took apart, after `bytes` bytes in all.
    pub(crate) fn join(bytes: u64, parts: Vec<Hasher>) -> Hasher {
        let mut all = Hasher {
            bytes,
            ..Hasher::default()
        };
        for part in parts {
            all.sha256 = all.sha256.or(part.sha256);
            all.md5 = all.md5.or(part.md5);
            all.sha3_256 = all.sha3_256.or(part.sha3_256);
        }
        all
    }

    /// The hex digests.
    pub fn finish(self) -> Checksums {
        Checksums {
            sha256: self.sha256.map(|h| hex::encode(h.finalize())),
            md5: self.md5.map(|h| hex::encode(h.finalize())),
            sha3_256: self.sha3_256.map(|h| hex::encode(h.finalize())),
        }
    }
}

/// SHA-256 of a byte slice, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let mut h = Hasher::new(DigestSet::ALL);
        h.update(b"");
        let s = h.finish();
        assert_eq!(
            s.sha3_256.as_deref(),
            Some("a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a")
        );
        assert_eq!(s.md5.as_deref(), Some("d41d8cd98f00b204e9800998ecf8427e"));
    }

    #[test]
    fn split_and_join_give_the_same_digests() {
        let mut whole = Hasher::new(DigestSet::ALL);
        whole.update(b"ab");
        let (bytes, mut parts) = whole.clone().split();
        assert_eq!((bytes, parts.len()), (2, 3));
        for part in &mut parts {
            part.update(b"c");
        }
        whole.update(b"c");
        let joined = Hasher::join(3, parts);
        assert_eq!(joined.bytes(), 3);
        assert_eq!(joined.finish(), whole.finish());
    }

    #[test]
    fn verify_detects_mismatch_and_ignores_unknown() {
        let mine = Checksums::sha256("aa");
        assert!(mine.verify(&Checksums::default(), "x").is_ok());
        assert!(mine.verify(&Checksums::sha256("AA"), "x").is_ok());
        let err = mine
            .verify(&Checksums::sha256("bb"), "report.pdf")
            .unwrap_err();
        assert!(err.is_integrity());
        assert!(err.to_string().contains("report.pdf"));
    }
}

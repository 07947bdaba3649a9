//! `Range: bytes=…` requests against a file of known size (RFC 9110 §14).
//!
//! Only single ranges are served. A multi-range request, or a header that does not parse, is
//! answered with the whole file (200), which RFC 9110 allows a server to do; this keeps
//! download emulation simple and still exercises the clients' resume path.

use http::HeaderValue;

/// What to send for a request's `Range` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// The whole file, 200.
    Full,
    /// Bytes `start..=end`, 206 with `Content-Range`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

impl RangeOutcome {
    /// Decides how to answer `header` for a file of `size` bytes.
    pub fn from_header(header: Option<&HeaderValue>, size: u64) -> RangeOutcome {
        let Some(text) = header.and_then(|h| h.to_str().ok()) else {
            return RangeOutcome::Full;
        };
        let Some(spec) = text.trim().strip_prefix("bytes=") else {
            return RangeOutcome::Full;
        };
        if spec.contains(',') {
            return RangeOutcome::Full;
        }
        let Some((first, last)) = spec.trim().split_once('-') else {
            return RangeOutcome::Full;
        };
        let parse = |s: &str| -> Option<Option<u64>> {
            let s = s.trim();
            if s.is_empty() {
                Some(None)
            } else if s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok().map(Some)
            } else {
                None
            }
        };
        let (Some(first), Some(last)) = (parse(first), parse(last)) else {
            return RangeOutcome::Full;
        };
        match (first, last) {
            (None, None) => RangeOutcome::Full,
            // Suffix range: the last `n` bytes.
            (None, Some(n)) => {
                if n == 0 || size == 0 {
                    RangeOutcome::Unsatisfiable
                } else {
                    RangeOutcome::Partial {
                        start: size.saturating_sub(n),
                        end: size - 1,
                    }
                }
            }
            (Some(start), last) => {
                if let Some(last) = last {
                    if last < start {
                        return RangeOutcome::Full;
                    }
                }
                if start >= size {
                    return RangeOutcome::Unsatisfiable;
                }
                let end = last.map_or(size - 1, |l| l.min(size - 1));
                RangeOutcome::Partial { start, end }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(h: &str, size: u64) -> RangeOutcome {
        RangeOutcome::from_header(Some(&HeaderValue::from_str(h).unwrap()), size)
    }

    #[test]
    fn ranges() {
        use RangeOutcome::*;
        assert_eq!(RangeOutcome::from_header(None, 10), Full);
        assert_eq!(r("bytes=2-5", 10), Partial { start: 2, end: 5 });
        assert_eq!(r("bytes=2-", 10), Partial { start: 2, end: 9 });
        assert_eq!(r("bytes=2-100", 10), Partial { start: 2, end: 9 });
        assert_eq!(r("bytes=-3", 10), Partial { start: 7, end: 9 });
        assert_eq!(r("bytes=-30", 10), Partial { start: 0, end: 9 });
        assert_eq!(r("bytes=10-", 10), Unsatisfiable);
        assert_eq!(r("bytes=-0", 10), Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Unsatisfiable);
        assert_eq!(r("bytes=5-2", 10), Full, "invalid ranges are ignored");
        assert_eq!(
            r("bytes=0-1,4-5", 10),
            Full,
            "multi-range falls back to 200"
        );
        assert_eq!(r("items=0-1", 10), Full);
        assert_eq!(r("bytes=a-b", 10), Full);
    }
}

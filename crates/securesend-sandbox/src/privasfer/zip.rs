//! The archive a download of several files is served as (an assumption: the documentation does
//! not show it). A plain ZIP with stored (uncompressed) entries, streamed from the store: the
//! sizes and CRC-32s are known before the first byte, so no entry is buffered.

use std::io;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};

use crate::store::{FileStore, StoredFile};

/// CRC-32 (IEEE 802.3, as ZIP uses), bit by bit: only seeded files are hashed with it.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// One file in the archive.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub crc32: u32,
    pub file: StoredFile,
}

enum Part {
    Bytes(Bytes),
    File(StoredFile),
}

// 1980-01-01 00:00, the earliest DOS timestamp: entry times carry no information here.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = 0x21;
// Bit 11: names are UTF-8.
const UTF8_NAMES: u16 = 1 << 11;

fn header(sig: u32, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = sig.to_le_bytes().to_vec();
    for f in fields {
        out.extend_from_slice(f);
    }
    out
}

/// The archive's length and its bytes; `None` when an entry is too large for a ZIP without
/// the ZIP64 extension (4 GiB), which seeded files never are.
pub(crate) fn archive(
    store: FileStore,
    entries: Vec<Entry>,
) -> Option<(u64, impl Stream<Item = io::Result<Bytes>> + Send + 'static)> {
    let mut parts = Vec::new();
    let mut central = Vec::new();
    let mut offset: u64 = 0;
    for e in &entries {
        let size = u32::try_from(e.file.size).ok()?;
        let name = e.name.as_bytes();
        let name_len = u16::try_from(name.len()).ok()?;
        let local_offset = u32::try_from(offset).ok()?;
        let common: [&[u8]; 9] = [
            &20u16.to_le_bytes(), // version needed
            &UTF8_NAMES.to_le_bytes(),
            &0u16.to_le_bytes(), // stored
            &DOS_TIME.to_le_bytes(),
            &DOS_DATE.to_le_bytes(),
            &e.crc32.to_le_bytes(),
            &size.to_le_bytes(),
            &size.to_le_bytes(),
            &name_len.to_le_bytes(),
        ];
        let mut local = header(0x0403_4b50, &common);
        local.extend_from_slice(&0u16.to_le_bytes()); // extra length
        local.extend_from_slice(name);
        offset += local.len() as u64 + e.file.size;
        parts.push(Part::Bytes(Bytes::from(local)));
        parts.push(Part::File(e.file.clone()));

        let mut c = header(0x0201_4b50, &[&20u16.to_le_bytes()]); // version made by
        for f in common {
            c.extend_from_slice(f);
        }
        c.extend_from_slice(&0u16.to_le_bytes()); // extra length
        c.extend_from_slice(&0u16.to_le_bytes()); // comment length
        c.extend_from_slice(&0u16.to_le_bytes()); // disk number
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        c.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        c.extend_from_slice(&local_offset.to_le_bytes());
        c.extend_from_slice(name);
        central.extend_from_slice(&c);
    }
    let count = u16::try_from(entries.len()).ok()?;
    let central_len = u32::try_from(central.len()).ok()?;
    let central_offset = u32::try_from(offset).ok()?;
    let end = header(
        0x0605_4b50,
        &[
            &0u16.to_le_bytes(),
            &0u16.to_le_bytes(),
            &count.to_le_bytes(),
            &count.to_le_bytes(),
            &central_len.to_le_bytes(),
            &central_offset.to_le_bytes(),
            &0u16.to_le_bytes(),
        ],
    );
    let total = offset + central.len() as u64 + end.len() as u64;
    central.extend_from_slice(&end);
    parts.push(Part::Bytes(Bytes::from(central)));
    let stream = futures::stream::iter(parts)
        .then(move |part| {
            let store = store.clone();
            async move {
                match part {
                    Part::Bytes(b) => Ok(futures::stream::once(async move { Ok(b) }).boxed()),
                    Part::File(f) => store.read_range(&f, 0, f.size).await.map(|s| s.boxed()),
                }
            }
        })
        .try_flatten();
    Some((total, stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_the_check_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}

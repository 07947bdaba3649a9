//! Entry points for the fuzz targets in `fuzz/` (not API): service answers decoded exactly the
//! way the adapter decodes them, so the targets exercise the real code rather than a copy.

use http::{HeaderMap, StatusCode};
use securesend_core::http::parse_json;
use time::UtcOffset;

use crate::api::{Data, File, InboxMail, Page, PublicKey, SentMail, TemporaryKey};

/// Decodes `body` as every answer the adapter reads, derives what the adapter derives from
/// files (names, ids, times), and maps it as an error answer. Any panic is a bug.
pub fn decode_answer(body: &[u8]) {
    let _ = parse_json::<Data<TemporaryKey>>(body);
    let _ = parse_json::<Data<PublicKey>>(body);
    let _ = parse_json::<Page<SentMail>>(body);
    if let Ok(page) = parse_json::<Page<File>>(body) {
        for f in &page.data {
            file(f);
        }
    }
    if let Ok(page) = parse_json::<Page<InboxMail>>(body) {
        for m in &page.data {
            let _ = crate::list::parse_time(m.received_at.as_deref(), UtcOffset::UTC);
        }
    }
    if let Ok(one) = parse_json::<Data<File>>(body) {
        file(&one.data);
    }
    let text = String::from_utf8_lossy(body);
    let _ = crate::api::printable(&text, 80);
    let _ = crate::api::uuid(&text);
    let _ = crate::api::url_safe_key(&text);
    let _ = crate::list::parse_time(Some(&text), UtcOffset::from_hms(2, 0, 0).expect("offset"));
    for status in [400, 401, 403, 404, 410, 422, 429, 500] {
        let status = StatusCode::from_u16(status).expect("valid status");
        let _ = crate::error::answer_error("fuzz", status, &HeaderMap::new(), body).to_string();
    }
}

fn file(f: &File) {
    let name = f.name();
    let _ = securesend_core::names::sanitize_file_name(&name);
    let _ = crate::list::parse_time(f.created_at.as_deref(), UtcOffset::UTC);
}

//! Entry points for the fuzz targets in `fuzz/` (not API): service answers decoded exactly the
//! way the adapter decodes them, so the targets exercise the real code rather than a copy.

use http::{HeaderMap, StatusCode};
use securesend_core::http::parse_json;

use crate::api::{File, Folder, Listing, Mail, Me, Search, TokenResponse, Upload, UploadConfig};

/// Decodes `body` as every JSON entity the adapter reads, maps the files it finds as the
/// adapter does, and maps the body as an error answer under each status it treats specially.
/// Any panic is a bug; errors are expected.
pub fn decode_answer(body: &[u8]) {
    let _ = parse_json::<TokenResponse>(body);
    let _ = parse_json::<Me>(body);
    let _ = parse_json::<UploadConfig>(body);
    let _ = parse_json::<Upload>(body);
    let _ = parse_json::<Search>(body);
    let _ = parse_json::<Mail>(body);
    let _ = parse_json::<Listing<Folder>>(body).map(Listing::into_vec);
    if let Ok(f) = parse_json::<File>(body) {
        file(&f);
    }
    if let Ok(list) = parse_json::<Listing<File>>(body) {
        for f in list.into_vec() {
            file(&f);
        }
    }
    for status in [400, 401, 403, 404, 409, 413, 429, 490, 500, 503] {
        let status = StatusCode::from_u16(status).expect("valid status");
        let e =
            crate::error::from_answer("fuzz", status, &HeaderMap::new(), body, &["429".to_owned()]);
        let _ = e.to_string();
    }
}

fn file(f: &File) {
    let _ = crate::upload::service_checksums(f);
    let _ = crate::browse::file_entry(f, Some("My Folder/in"));
    let _ = crate::browse::file_entry(f, None);
}

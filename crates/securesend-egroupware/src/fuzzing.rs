//! Entry points for the fuzz targets in `fuzz/` (not API): service answers decoded exactly the
//! way the adapter decodes them, so the targets exercise the real code rather than a copy.

use http::{HeaderMap, StatusCode};

use crate::api::{Envelope, Stored, Success, parse_identities};
use crate::error::{Step, answer_error};

/// Parses a WebDAV `PROPFIND` multistatus body and turns each `href` into a VFS path the way
/// a listing does. Any panic is a bug; errors are expected.
pub fn decode_multistatus(body: &[u8]) {
    let Ok(resources) = crate::multistatus::parse(body) else {
        return;
    };
    let folder =
        url::Url::parse("http://127.0.0.1/egroupware/webdav.php/home/ralf/").expect("valid URL");
    for r in &resources {
        if let Some(segments) = crate::browse::href_segments(&folder, &r.href) {
            let _ = crate::browse::vfs_path(&segments);
        }
    }
}

/// Decodes a body of the mail REST API (identities, success, stored attachment, error
/// envelope) and maps it as an error answer of each step. Any panic is a bug.
pub fn decode_mail_json(body: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = parse_identities(&value);
    }
    let _ = serde_json::from_slice::<Success>(body);
    let _ = serde_json::from_slice::<Stored>(body);
    let _ = Envelope::parse(body);
    let steps = [
        Step::ListIdentities,
        Step::Send { attachments: true },
        Step::Compose { attachments: false },
        Step::UploadAttachment,
        Step::ProbeAttachment,
        Step::Put,
        Step::Get,
        Step::Mkcol,
        Step::List,
    ];
    for status in [400, 401, 403, 404, 409, 412, 413, 422, 429, 500, 507] {
        let status = StatusCode::from_u16(status).expect("valid status");
        for step in steps {
            let _ = answer_error(step, status, &HeaderMap::new(), body, "fuzz.txt").to_string();
        }
    }
}

//! Entry points for the fuzz targets in `fuzz/` (not API): service answers decoded exactly the
//! way the adapter decodes them, so the targets exercise the real code rather than a copy.

use crate::api::{Answer, FileInfo, FileList, ListedFile, parse_answer, take};

/// Reads `body` as JSON or XML the way every call does, then as each value the adapter takes
/// out of an answer. Any panic is a bug; errors are expected.
pub fn decode_answer(body: &[u8]) {
    let Ok(answer) = parse_answer(body) else {
        return;
    };
    match answer {
        Answer::Value(value) => {
            let _ = take::<FileInfo>(value.clone(), "file");
            let _ = take::<FileList>(value.clone(), "files");
            let _ = take::<Vec<ListedFile>>(value.clone(), "file");
            let _ = crate::api::preparation_id(&value);
            for item in crate::api::items(value) {
                if let Ok(f) = serde_json::from_value::<ListedFile>(item) {
                    if let Some(name) = &f.name {
                        let _ = securesend_core::names::sanitize_file_name(name);
                    }
                }
            }
        }
        Answer::Error { title, message } => {
            for status in [200, 400, 401, 403, 404, 429, 500] {
                let _ = crate::error::service_error("fuzz", status, &title, &message).to_string();
            }
        }
    }
}

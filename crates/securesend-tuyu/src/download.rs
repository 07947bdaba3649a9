//! Downloading: `file_download` streamed, the name taken from the answer's headers and
//! sanitised before it can touch a disk.

use futures::TryStreamExt;
use http::HeaderMap;
use percent_encoding::percent_decode_str;

use securesend_core::names::sanitize_file_name;
use securesend_core::{Download, DownloadRequest, Error, ErrorKind, RemoteFile, Result};

use crate::{PROVIDER, TuyuProvider};

impl TuyuProvider {
    pub(crate) async fn download_file(&self, req: DownloadRequest) -> Result<Download> {
        let id = req.id().to_owned();
        let resp = self.client.file_download(&id).await.map_err(|e| {
            // Tuyu answers an id that does not exist exactly like a file the account may not
            // download, and has no request to tell them apart by id; a missing file is the
            // likelier reading of an id someone typed, so the error is NotFound and says both.
            if e.is_permission_denied() && e.service_code().is_some() {
                let message = format!(
                    "file {id} does not exist, or this account may not download it (Tuyu answers both alike)"
                );
                e.with_kind(ErrorKind::NotFound).with_message(message)
            } else {
                e
            }
        })?;
        let headers = resp.headers();
        let name = file_name(headers)
            .map(|n| sanitize_file_name(&n))
            .unwrap_or_else(|| sanitize_file_name(&format!("tuyu-file-{id}")));
        let mut file = RemoteFile::new(PROVIDER, id.clone(), name);
        if let Some(len) = resp.content_length() {
            file = file.with_size(len);
        }
        if let Some(ct) = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() < 200 && !v.chars().any(char::is_control))
        {
            file = file.with_content_type(ct);
        }
        let stream = resp.bytes_stream().map_err(move |e| {
            let kind = if e.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Unavailable
            };
            Error::new(kind, format!("the download of file {id} broke off"))
                .with_provider(PROVIDER)
                .with_operation("download")
                .with_source(e.without_url())
        });
        Ok(Download::new(file, Box::pin(stream)))
    }
}

/// The file name an answer gives: `Content-Disposition`'s `filename*` (RFC 5987), else its
/// `filename`, else the `File-Name` header. Unsanitised.
pub(crate) fn file_name(headers: &HeaderMap) -> Option<String> {
    let disposition = headers
        .get(http::header::CONTENT_DISPOSITION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if let Some(d) = disposition {
        let params = disposition_params(&d);
        let extended = params
            .iter()
            .find(|(k, _)| k == "filename*")
            .and_then(|(_, v)| decode_extended(v));
        let plain = params
            .iter()
            .find(|(k, _)| k == "filename")
            .map(|(_, v)| v.clone());
        if let Some(n) = extended.or(plain).filter(|n| !n.trim().is_empty()) {
            return Some(n);
        }
    }
    headers
        .get("file-name")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|n| !n.is_empty())
}

/// `key=value` parameters of a `Content-Disposition` value, keys lowercased, quoted values
/// unquoted.
fn disposition_params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    // Skip the disposition type.
    match rest.find(';') {
        Some(i) => rest = &rest[i + 1..],
        None => return out,
    }
    loop {
        rest = rest.trim_start();
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let mut val = String::new();
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => val.push(c),
                }
            }
            rest = &quoted[end.min(quoted.len())..];
            rest = rest.find(';').map_or("", |i| &rest[i + 1..]);
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            val = rest[..end].trim().to_owned();
            rest = if end < rest.len() {
                &rest[end + 1..]
            } else {
                ""
            };
        }
        out.push((key, val));
    }
    out
}

/// `UTF-8''na%C3%AFve.txt` → `naïve.txt` (ISO-8859-1 also understood).
fn decode_extended(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?.to_ascii_lowercase();
    let _language = parts.next()?;
    let encoded = parts.next()?;
    let bytes: Vec<u8> = percent_decode_str(encoded).collect();
    match charset.as_str() {
        "utf-8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        h
    }

    #[test]
    fn names_from_each_header_form() {
        let h = headers(&[(
            "content-disposition",
            "attachment; filename=\"plain \\\"q\\\".txt\"; filename*=UTF-8''%C3%9Cbersicht%20%E2%80%93.pdf",
        )]);
        assert_eq!(file_name(&h).as_deref(), Some("Übersicht –.pdf"));
        let h = headers(&[("content-disposition", "attachment; filename=\"a; b.txt\"")]);
        assert_eq!(file_name(&h).as_deref(), Some("a; b.txt"));
        let h = headers(&[("content-disposition", "attachment; filename=report.pdf")]);
        assert_eq!(file_name(&h).as_deref(), Some("report.pdf"));
        let h = headers(&[("file-name", "from-header.bin")]);
        assert_eq!(file_name(&h).as_deref(), Some("from-header.bin"));
        assert_eq!(file_name(&HeaderMap::new()), None);
    }

    #[test]
    fn hostile_names_are_defused_before_use() {
        let h = headers(&[(
            "content-disposition",
            "attachment; filename=\"../../etc/passwd\"",
        )]);
        let name = sanitize_file_name(&file_name(&h).unwrap());
        assert!(!name.contains('/') && !name.starts_with('.'), "{name}");
        let h = headers(&[("file-name", "..\\..\\boot.ini")]);
        assert!(!sanitize_file_name(&file_name(&h).unwrap()).contains('\\'));
    }
}

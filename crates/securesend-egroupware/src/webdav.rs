//! One method per WebDAV request on `webdav.php`: PUT, GET (with `Range`), HEAD, MKCOL,
//! DELETE, PROPFIND.

use http::{HeaderMap, StatusCode, header};
use securesend_core::http::{Call, Repeat, read_bytes_capped, read_error_body};
use securesend_core::{Checksums, Result, clean_service_text};
use time::OffsetDateTime;
use url::Url;

use crate::client::Client;
use crate::error::{Step, answer_error, protocol};
use crate::multistatus::{self, DavResource};
use crate::stream::Outgoing;
use crate::vfs::VfsPath;

/// What a GET or HEAD says about a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    pub size: Option<u64>,
    pub content_type: Option<String>,
    pub modified: Option<OffsetDateTime>,
    /// The validator for `If-Range`: a strong `ETag`, else `Last-Modified` as sent.
    pub validator: Option<String>,
}

impl Meta {
    /// Reads the headers (hostile input: bounded, cleaned).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Meta {
        let text = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 256)
        };
        let size = text(header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
        let content_type = text(header::CONTENT_TYPE)
            .filter(|t| is_content_type(t))
            .map(clean_service_text);
        let last_modified = text(header::LAST_MODIFIED);
        let modified = last_modified
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(OffsetDateTime::from);
        let etag = text(header::ETAG).filter(|e| e.starts_with('"'));
        let validator = etag
            .or(last_modified.filter(|_| modified.is_some()))
            .map(str::to_owned);
        Meta {
            size,
            content_type,
            modified,
            validator,
        }
    }
}

/// Whether `s` looks like `type/subtype[; parameters]` in printable ASCII.
fn is_content_type(s: &str) -> bool {
    let essence = s.split(';').next().unwrap_or("").trim();
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    essence
        .split_once('/')
        .is_some_and(|(top, sub)| token(top) && token(sub))
        && s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// A download continuing at `offset`, guarded by the validator of the first answer.
#[derive(Clone, Debug)]
pub(crate) struct Resume {
    pub offset: u64,
    pub validator: Option<String>,
}

impl Client {
    fn dav_url(&self, path: &VfsPath) -> Url {
        let mut url = self.webdav.clone();
        url.path_segments_mut()
            .expect("an http URL has a path")
            .extend(path.segments());
        url
    }

    /// HEAD: the file's metadata, or `None` when there is nothing at `path`.
    pub(crate) async fn head(&self, path: &VfsPath) -> Result<Option<Meta>> {
        let url = self.dav_url(path);
        let resp = self
            .http
            .send(Call::api(Repeat::Safe), |c| {
                self.creds.apply(c.head(url.clone()))
            })
            .await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(Meta::from_headers(resp.headers()))),
            StatusCode::NOT_FOUND => Ok(None),
            status => {
                let headers = resp.headers().clone();
                Err(answer_error(
                    Step::Get,
                    status,
                    &headers,
                    &[],
                    &path.to_string(),
                ))
            }
        }
    }

    /// GET, from `resume.offset` when resuming. Returns the answer when it is 200 or 206.
    pub(crate) async fn get(
        &self,
        path: &VfsPath,
        resume: Option<&Resume>,
    ) -> Result<reqwest::Response> {
        let url = self.dav_url(path);
        let resp = self
            .http
            .send(Call::download(Repeat::Safe), |c| {
                let mut r = self.creds.apply(c.get(url.clone()));
                if let Some(resume) = resume {
                    r = r.header(header::RANGE, format!("bytes={}-", resume.offset));
                    if let Some(v) = &resume.validator {
                        r = r.header(header::IF_RANGE, v.as_str());
                    }
                }
                r
            })
            .await?;
        let status = resp.status();
        if status == StatusCode::OK || status == StatusCode::PARTIAL_CONTENT {
            return Ok(resp);
        }
        let headers = resp.headers().clone();
        let body = read_error_body(resp).await;
        Err(answer_error(
            Step::Get,
            status,
            &headers,
            &body,
            &path.to_string(),
        ))
    }

    /// PUT the file's bytes to `path`; returns whether the file is new (201) rather than
    /// replaced (204), and the checksums computed while sending. With `no_overwrite`,
    /// `If-None-Match: *` asks the server to refuse an existing file (honoured where the
    /// server supports it; callers check with HEAD first as well).
    pub(crate) async fn put(
        &self,
        path: &VfsPath,
        content_type: &str,
        mut outgoing: Outgoing,
        no_overwrite: bool,
    ) -> Result<(bool, Checksums)> {
        let url = self.dav_url(path);
        let len = outgoing.len();
        let sent = self
            .http
            .send(Call::upload(Repeat::Never, len), |c| {
                let mut r = self
                    .creds
                    .apply(c.put(url.clone()))
                    .header(header::CONTENT_TYPE, content_type)
                    // A streamed body without a length goes out chunked, which PHP behind
                    // Apache with FastCGI refuses (501).
                    .header(header::CONTENT_LENGTH, len);
                if no_overwrite {
                    r = r.header(header::IF_NONE_MATCH, "*");
                }
                r.body(outgoing.take_body())
            })
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(outgoing.failure().unwrap_or(e)),
        };
        let status = resp.status();
        let created = match status {
            StatusCode::CREATED => true,
            StatusCode::NO_CONTENT | StatusCode::OK => false,
            _ => {
                let headers = resp.headers().clone();
                let body = read_error_body(resp).await;
                if let Some(e) = outgoing.failure() {
                    return Err(e);
                }
                return Err(answer_error(
                    Step::Put,
                    status,
                    &headers,
                    &body,
                    &path.to_string(),
                ));
            }
        };
        Ok((created, outgoing.finish()?))
    }

    /// DELETE of a file: true when it was removed, false when nothing was there (404). Used
    /// only to remove what an interrupted upload of ours may have left.
    pub(crate) async fn delete(&self, path: &VfsPath) -> Result<bool> {
        let url = self.dav_url(path);
        // Deleting twice has the effect of once (the second is a 404).
        let resp = self
            .http
            .send(Call::api(Repeat::Safe), |c| {
                self.creds.apply(c.delete(url.clone()))
            })
            .await?;
        match resp.status() {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            status => {
                let headers = resp.headers().clone();
                let body = read_error_body(resp).await;
                Err(answer_error(
                    Step::Delete,
                    status,
                    &headers,
                    &body,
                    &path.to_string(),
                ))
            }
        }
    }

    /// MKCOL: true when the folder was created, false when something exists there already
    /// (405).
    pub(crate) async fn mkcol(&self, path: &VfsPath) -> Result<bool> {
        let url = self.dav_url(path);
        let method = reqwest::Method::from_bytes(b"MKCOL").expect("MKCOL is a valid method");
        // Creating a folder twice has the same effect as once (the second is a 405).
        let resp = self
            .http
            .send(Call::api(Repeat::Safe), |c| {
                self.creds.apply(c.request(method.clone(), url.clone()))
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::METHOD_NOT_ALLOWED => Ok(false),
            status => {
                let headers = resp.headers().clone();
                let body = read_error_body(resp).await;
                Err(answer_error(
                    Step::Mkcol,
                    status,
                    &headers,
                    &body,
                    &path.to_string(),
                ))
            }
        }
    }
}

/// The properties a listing needs; naming them keeps EGroupware from adding its Microsoft and
/// WebDrive extras to every entry.
const PROPFIND_BODY: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<D:propfind xmlns:D="DAV:"><D:prop>"#,
    "<D:resourcetype/><D:getcontentlength/><D:getlastmodified/>",
    "<D:getcontenttype/><D:getetag/>",
    "</D:prop></D:propfind>"
);

impl Client {
    /// PROPFIND with `Depth: 0` (the resource) or `1` (a folder and its members), the answer
    /// read up to `cap` bytes; `None` when there is nothing at `path`.
    pub(crate) async fn propfind(
        &self,
        path: &VfsPath,
        members: bool,
        cap: usize,
    ) -> Result<Option<Vec<DavResource>>> {
        let url = self.dav_url(path);
        let method = reqwest::Method::from_bytes(b"PROPFIND").expect("PROPFIND is a valid method");
        let depth = if members { "1" } else { "0" };
        let resp = self
            .http
            .send(Call::api(Repeat::Safe), |c| {
                self.creds
                    .apply(c.request(method.clone(), url.clone()))
                    .header("depth", depth)
                    .header(header::CONTENT_TYPE, "application/xml; charset=utf-8")
                    .body(PROPFIND_BODY)
            })
            .await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status != StatusCode::MULTI_STATUS {
            let headers = resp.headers().clone();
            let body = read_error_body(resp).await;
            return Err(answer_error(
                Step::List,
                status,
                &headers,
                &body,
                &path.to_string(),
            ));
        }
        let body = read_bytes_capped(resp, cap).await.map_err(|e| {
            if e.is_protocol() {
                protocol(
                    Step::List,
                    format!(
                        "the listing of {path} is larger than {cap} bytes; raise max_listing_bytes"
                    ),
                )
            } else {
                e
            }
        })?;
        multistatus::parse(&body)
            .map(Some)
            .map_err(|why| protocol(Step::List, format!("the listing of {path} {why}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_reads_and_bounds_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, "42".parse().unwrap());
        h.insert(header::CONTENT_TYPE, "application/pdf".parse().unwrap());
        h.insert(
            header::LAST_MODIFIED,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        let m = Meta::from_headers(&h);
        assert_eq!(m.size, Some(42));
        assert_eq!(m.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(m.modified.unwrap().unix_timestamp(), 784111777);
        assert_eq!(
            m.validator.as_deref(),
            Some("Sun, 06 Nov 1994 08:49:37 GMT")
        );

        h.insert(header::ETAG, "\"abc\"".parse().unwrap());
        h.insert(header::CONTENT_TYPE, "not a type".parse().unwrap());
        let m = Meta::from_headers(&h);
        assert_eq!(m.validator.as_deref(), Some("\"abc\""));
        assert_eq!(m.content_type, None);
        h.insert(header::ETAG, "W/\"weak\"".parse().unwrap());
        assert_eq!(
            Meta::from_headers(&h).validator.as_deref(),
            Some("Sun, 06 Nov 1994 08:49:37 GMT")
        );
    }
}

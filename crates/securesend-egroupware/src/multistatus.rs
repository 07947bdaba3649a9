//! Reading a WebDAV `207 Multi-Status` answer to `PROPFIND` (RFC 4918 §14.16).
//!
//! Server bytes are hostile: the body was size-capped before it got here, document type
//! declarations (and with them entity definitions) are refused, nesting is limited, only the
//! five predefined entities and character references are resolved, and namespaces are
//! resolved properly, so `D:`, `d:` or a default `xmlns="DAV:"` all read alike. Properties
//! count only from a `propstat` whose status is 200; errors never quote the body.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use time::OffsetDateTime;

/// How deep elements may nest.
const MAX_DEPTH: usize = 32;
/// The longest text kept of one property.
const MAX_TEXT: usize = 8 << 10;

/// One `response` of a multistatus: the resource's href and the properties read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DavResource {
    /// The `href` as sent (a path or an absolute URL, percent-encoded).
    pub href: String,
    /// `resourcetype` holds `collection`.
    pub collection: bool,
    /// `getcontentlength`.
    pub size: Option<u64>,
    /// `getlastmodified` (an RFC 1123 date).
    pub modified: Option<OffsetDateTime>,
    /// `getcontenttype`.
    pub content_type: Option<String>,
    /// `getetag`.
    pub etag: Option<String>,
}

/// Properties of one `propstat`, kept only if its status is 200.
#[derive(Default)]
struct PropStat {
    collection: bool,
    size: Option<String>,
    modified: Option<String>,
    content_type: Option<String>,
    etag: Option<String>,
    status: Option<String>,
}

/// Where text goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    None,
    Href,
    ResponseStatus,
    PropStatus,
    Size,
    Modified,
    ContentType,
    Etag,
}

#[derive(Default)]
struct Response {
    href: Option<String>,
    status: Option<String>,
    found: DavResource,
}

/// `HTTP/1.1 200 OK` → 200.
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Parses a multistatus body. The error is a short description that never quotes the body.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<DavResource>, String> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(false);
    // (is DAV:, local name) of the open elements.
    let mut stack: Vec<(bool, String)> = Vec::new();
    let mut seen_root = false;
    let mut out = Vec::new();
    let mut response: Option<Response> = None;
    let mut propstat: Option<PropStat> = None;
    let mut sink = Sink::None;
    let mut text = String::new();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("is not well-formed XML ({e})"))?;
        let dav = matches!(ns, ResolveResult::Bound(Namespace(b"DAV:")));
        match event {
            Event::DocType(_) => return Err("declares a document type, which is refused".into()),
            Event::Start(ref start) | Event::Empty(ref start) => {
                let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let empty = matches!(event, Event::Empty(_));
                if stack.is_empty() {
                    if seen_root {
                        return Err("has more than one root element".into());
                    }
                    seen_root = true;
                    if !(dav && local == "multistatus") {
                        return Err("is not a DAV: multistatus".into());
                    }
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("nests elements deeper than {MAX_DEPTH} levels"));
                }
                let parent = stack.last().filter(|(d, _)| *d).map(|(_, n)| n.as_str());
                if dav {
                    match (parent, local.as_str()) {
                        (Some("multistatus"), "response") => response = Some(Response::default()),
                        (Some("response"), "href") if response.is_some() => sink = Sink::Href,
                        (Some("response"), "status") if response.is_some() => {
                            sink = Sink::ResponseStatus
                        }
                        (Some("response"), "propstat") if response.is_some() => {
                            propstat = Some(PropStat::default())
                        }
                        (Some("propstat"), "status") if propstat.is_some() => {
                            sink = Sink::PropStatus
                        }
                        (Some("prop"), name) if propstat.is_some() => {
                            sink = match name {
                                "getcontentlength" => Sink::Size,
                                "getlastmodified" => Sink::Modified,
                                "getcontenttype" => Sink::ContentType,
                                "getetag" => Sink::Etag,
                                _ => Sink::None,
                            }
                        }
                        (Some("resourcetype"), "collection") => {
                            if let Some(p) = propstat.as_mut() {
                                p.collection = true;
                            }
                        }
                        _ => {}
                    }
                }
                text.clear();
                if empty {
                    finish(
                        dav,
                        &local,
                        &mut sink,
                        &mut text,
                        &mut response,
                        &mut propstat,
                        &mut out,
                    );
                } else {
                    stack.push((dav, local));
                }
            }
            Event::End(_) => {
                let (dav, local) = stack.pop().ok_or("closes an element it never opened")?;
                finish(
                    dav,
                    &local,
                    &mut sink,
                    &mut text,
                    &mut response,
                    &mut propstat,
                    &mut out,
                );
            }
            Event::Text(t) => {
                if sink != Sink::None {
                    let t = t
                        .xml10_content()
                        .map_err(|e| format!("has text that cannot be read ({e})"))?;
                    push_bounded(&mut text, &t);
                }
            }
            Event::GeneralRef(r) => {
                let name = r
                    .decode()
                    .map_err(|e| format!("has a reference that cannot be read ({e})"))?;
                let c = resolve_reference(&name)?;
                if sink != Sink::None {
                    push_bounded(&mut text, &c.to_string());
                }
            }
            Event::CData(data) => {
                if sink != Sink::None {
                    let t = std::str::from_utf8(&data)
                        .map_err(|_| "has CDATA that is not UTF-8".to_owned())?;
                    push_bounded(&mut text, t);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("ends before its elements are closed".into());
    }
    if !seen_root {
        return Err("has no root element".into());
    }
    Ok(out)
}

/// Appends to the text of the open property; past [`MAX_TEXT`] the text becomes unusable
/// (a cut href would name another resource), marked by a leading NUL.
fn push_bounded(text: &mut String, more: &str) {
    if text.starts_with('\0') {
        return;
    }
    if text.len() + more.len() > MAX_TEXT {
        text.clear();
        text.push('\0');
        return;
    }
    text.push_str(more);
}

/// Closes an element: stores the text collected for it, keeps a 200 `propstat`, ends a
/// `response`.
fn finish(
    dav: bool,
    local: &str,
    sink: &mut Sink,
    text: &mut String,
    response: &mut Option<Response>,
    propstat: &mut Option<PropStat>,
    out: &mut Vec<DavResource>,
) {
    let value = std::mem::take(text).trim().to_owned();
    let current = std::mem::replace(sink, Sink::None);
    if !dav || value.starts_with('\0') {
        return;
    }
    match (current, local) {
        (Sink::Href, "href") => {
            if let Some(r) = response.as_mut() {
                r.href.get_or_insert(value);
            }
        }
        (Sink::ResponseStatus, "status") => {
            if let Some(r) = response.as_mut() {
                r.status = Some(value);
            }
        }
        (Sink::PropStatus, "status") => {
            if let Some(p) = propstat.as_mut() {
                p.status = Some(value);
            }
        }
        (Sink::Size, "getcontentlength") => set(propstat, |p| p.size = Some(value)),
        (Sink::Modified, "getlastmodified") => set(propstat, |p| p.modified = Some(value)),
        (Sink::ContentType, "getcontenttype") => set(propstat, |p| p.content_type = Some(value)),
        (Sink::Etag, "getetag") => set(propstat, |p| p.etag = Some(value)),
        (_, "propstat") => {
            let (Some(p), Some(r)) = (propstat.take(), response.as_mut()) else {
                return;
            };
            if p.status.as_deref().and_then(status_code) != Some(200) {
                return;
            }
            let f = &mut r.found;
            f.collection |= p.collection;
            if let Some(s) = p.size.and_then(|s| s.parse().ok()) {
                f.size = Some(s);
            }
            if let Some(m) = p
                .modified
                .and_then(|m| httpdate::parse_http_date(&m).ok())
                .map(OffsetDateTime::from)
            {
                f.modified = Some(m);
            }
            if let Some(t) = p.content_type.filter(|t| !t.is_empty()) {
                f.content_type = Some(t);
            }
            if let Some(e) = p.etag.filter(|e| !e.is_empty()) {
                f.etag = Some(e);
            }
        }
        (_, "response") => {
            let Some(r) = response.take() else { return };
            // A member answered with an error status of its own has no properties to show.
            let failed = r
                .status
                .as_deref()
                .and_then(status_code)
                .is_some_and(|c| !(200..300).contains(&c));
            if let (Some(href), false) = (r.href.filter(|h| !h.is_empty()), failed) {
                out.push(DavResource { href, ..r.found });
            }
        }
        _ => {}
    }
}

fn set(propstat: &mut Option<PropStat>, f: impl FnOnce(&mut PropStat)) {
    if let Some(p) = propstat.as_mut() {
        f(p);
    }
}

/// The five predefined entities and character references; anything else is refused (no
/// document type may define more).
fn resolve_reference(name: &str) -> Result<char, String> {
    Ok(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse().ok()
            } else {
                None
            };
            code.and_then(char::from_u32)
                .filter(|c| *c != '\0')
                .ok_or_else(|| "refers to an unknown entity".to_owned())?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As EGroupware writes it (PEAR's HTTP_WebDAV_Server), trimmed.
    const EGW: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:">
 <D:response xmlns:ns0="urn:uuid:c2f41010-65b3-11d1-a29f-00aa00c14882/">
  <D:href>/egroupware/webdav.php/home/ralf/</D:href>
   <D:propstat>
    <D:prop>
     <D:getlastmodified ns0:dt="dateTime.rfc1123">Sun, 06 Nov 1994 08:49:37 GMT</D:getlastmodified>
     <D:resourcetype><D:collection/></D:resourcetype>
    </D:prop>
    <D:status>HTTP/1.1 200 OK</D:status>
   </D:propstat>
   <D:propstat>
    <D:prop><D:getcontentlength/></D:prop>
    <D:status>HTTP/1.1 404 Not Found</D:status>
   </D:propstat>
 </D:response>
 <D:response xmlns:ns0="urn:uuid:c2f41010-65b3-11d1-a29f-00aa00c14882/">
  <D:href>/egroupware/webdav.php/home/ralf/Q3%20report%20&amp;%20more.pdf</D:href>
   <D:propstat>
    <D:prop>
     <D:getlastmodified ns0:dt="dateTime.rfc1123">Sun, 06 Nov 1994 08:49:37 GMT</D:getlastmodified>
     <D:resourcetype/>
     <D:getcontentlength>42</D:getcontentlength>
     <D:getcontenttype>application/pdf</D:getcontenttype>
     <D:getetag>"1:2:42"</D:getetag>
    </D:prop>
    <D:status>HTTP/1.1 200 OK</D:status>
   </D:propstat>
 </D:response>
</D:multistatus>
"#;

    #[test]
    fn reads_egroupware_answers() {
        let r = parse(EGW.as_bytes()).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].href, "/egroupware/webdav.php/home/ralf/");
        assert!(r[0].collection);
        assert_eq!(r[0].size, None);
        assert_eq!(r[0].modified.unwrap().unix_timestamp(), 784111777);
        assert_eq!(
            r[1].href,
            "/egroupware/webdav.php/home/ralf/Q3%20report%20&%20more.pdf"
        );
        assert!(!r[1].collection);
        assert_eq!(r[1].size, Some(42));
        assert_eq!(r[1].content_type.as_deref(), Some("application/pdf"));
        assert_eq!(r[1].etag.as_deref(), Some("\"1:2:42\""));
    }

    #[test]
    fn any_prefix_or_default_namespace_reads_alike() {
        let body = r#"<multistatus xmlns="DAV:"><response><href>/a/</href><propstat><prop><resourcetype><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response>
            <x:response xmlns:x="DAV:"><x:href>/a/b</x:href><x:propstat><x:prop><x:getcontentlength>7</x:getcontentlength></x:prop><x:status>HTTP/1.1 200 OK</x:status></x:propstat></x:response></multistatus>"#;
        let r = parse(body.as_bytes()).unwrap();
        assert_eq!(r.len(), 2);
        assert!(r[0].collection);
        assert_eq!((r[1].href.as_str(), r[1].size), ("/a/b", Some(7)));
    }

    #[test]
    fn only_200_propstats_and_successful_responses_count() {
        let body = r#"<d:multistatus xmlns:d="DAV:">
            <d:response><d:href>/x</d:href><d:propstat><d:prop><d:getcontentlength>5</d:getcontentlength><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 403 Forbidden</d:status></d:propstat></d:response>
            <d:response><d:href>/gone</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>
            <d:response><d:href>/other-ns</d:href><d:propstat><d:prop><o:getcontentlength xmlns:o="urn:other">9</o:getcontentlength></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            </d:multistatus>"#;
        let r = parse(body.as_bytes()).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].size, r[0].collection), (None, false));
        assert_eq!((r[1].href.as_str(), r[1].size), ("/other-ns", None));
    }

    #[test]
    fn hostile_documents_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa">]><D:multistatus xmlns:D="DAV:">&a;</D:multistatus>"#;
        assert!(
            parse(bomb.as_bytes())
                .unwrap_err()
                .contains("document type")
        );
        let unknown = r#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>&secret;</D:href></D:response></D:multistatus>"#;
        assert!(
            parse(unknown.as_bytes())
                .unwrap_err()
                .contains("unknown entity")
        );
        let deep = format!(
            "<D:multistatus xmlns:D=\"DAV:\">{}{}</D:multistatus>",
            "<a>".repeat(40),
            "</a>".repeat(40)
        );
        assert!(parse(deep.as_bytes()).unwrap_err().contains("deeper"));
        assert!(
            parse(b"<html><body>login</body></html>")
                .unwrap_err()
                .contains("multistatus")
        );
        assert!(parse(br#"<D:multistatus xmlns:D="DAV:"><D:response>"#).is_err());
        assert!(parse(b"").is_err());
        let long = format!(
            "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/{}</D:href></D:response></D:multistatus>",
            "a".repeat(MAX_TEXT * 2)
        );
        assert!(
            parse(long.as_bytes()).unwrap().is_empty(),
            "a cut href is no href"
        );
    }
}

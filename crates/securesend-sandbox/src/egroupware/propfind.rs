//! WebDAV `PROPFIND` on `webdav.php`, as EGroupware's VFS answers it (`Vfs\WebDAV::PROPFIND`
//! over PEAR's `HTTP_WebDAV_Server`): a `207 Multi-Status` in `text/xml` whose first response
//! is the requested resource, then, for a folder at `Depth: 1`, one response per member.
//!
//! As on the server: hrefs are `/egroupware/webdav.php` + the path, URL-encoded except `/`
//! and `:`, folders with a trailing slash; `getlastmodified` is an RFC 1123 date; a folder's
//! `resourcetype` holds `<D:collection/>`, a file's is empty and only files carry
//! `getcontentlength`; properties a `<D:prop>` request names but a resource lacks come in a
//! second `propstat` with `HTTP/1.1 404 Not Found`; a missing resource is 404, an unreadable
//! one 403, a body that is not a `DAV:propfind` document 400.
//!
//! Stricter than EGroupware, on purpose: its code lists one level for `Depth: infinity` (and
//! for a request without `Depth`, which defaults to infinity); here both are refused with
//! `403` and `<D:propfind-finite-depth/>` (RFC 4918 §9.1), as many WebDAV servers do, so a
//! client that forgets `Depth: 1` is caught. Document type declarations in the request body
//! are refused (400).

use std::time::SystemTime;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};

use super::reply::{empty, status};
use super::state::{Node, State as Egw};

/// The largest request body read.
const BODY_CAP: usize = 64 << 10;

/// Properties a resource has, in the order EGroupware writes them.
const ALL_PROPS: [&str; 7] = [
    "displayname",
    "creationdate",
    "getlastmodified",
    "resourcetype",
    "getcontenttype",
    "getcontentlength",
    "getetag",
];

/// A property: (namespace, local name).
type PropName = (String, String);

/// What the request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// `<D:allprop/>` or an empty body.
    All,
    /// `<D:propname/>`: the names without values.
    Names,
    /// `<D:prop>`: these properties.
    Props(Vec<PropName>),
}

/// The `PROPFIND` handler.
pub(crate) async fn propfind(
    state: &Egw,
    path: &str,
    headers: &HeaderMap,
    body: Body,
    readable: impl Fn(&str) -> bool,
) -> Response {
    let depth = headers
        .get("depth")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let children = match depth.as_deref() {
        Some("0") => false,
        Some("1") => true,
        None | Some("infinity") => return finite_depth(),
        Some(_) => return empty(400, "Bad Request"),
    };
    let Ok(bytes) = axum::body::to_bytes(body, BODY_CAP).await else {
        return empty(400, "Bad Request");
    };
    let Ok(wanted) = parse_request(&bytes) else {
        return empty(400, "Bad Request");
    };
    if !readable(path) {
        return empty(403, "Forbidden");
    }
    let listed: Vec<(String, Node)> = {
        let inner = state.inner();
        let Some(own) = inner.vfs.get(path).cloned() else {
            drop(inner);
            return empty(404, "Not Found");
        };
        let mut out = vec![(path.to_owned(), own.clone())];
        if children && matches!(own, Node::Dir { .. }) {
            let prefix = if path == "/" {
                "/".to_owned()
            } else {
                format!("{path}/")
            };
            out.extend(
                inner
                    .vfs
                    .iter()
                    .filter(|(k, _)| {
                        k.strip_prefix(&prefix)
                            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
                    })
                    .filter(|(k, _)| readable(k))
                    .map(|(k, n)| (k.clone(), n.clone())),
            );
        }
        out
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">\n",
    );
    for (p, node) in &listed {
        render(&mut xml, p, node, &wanted);
    }
    xml.push_str("</D:multistatus>\n");
    let mut r = status(207, "Multi-Status", Body::from(xml));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=\"utf-8\""),
    );
    h.insert("dav", HeaderValue::from_static("1, 2"));
    r
}

/// `403` with the RFC 4918 precondition for an unbounded listing.
fn finite_depth() -> Response {
    let mut r = status(
        403,
        "Forbidden",
        Body::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/></D:error>\n",
        ),
    );
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=\"utf-8\""),
    );
    r
}

/// PHP's `rawurlencode` with `/` and `:` kept, as `HTTP_WebDAV_Server::_urlencode` does.
pub(crate) fn href(path: &str, folder: bool) -> String {
    let mut out = String::from("/egroupware/webdav.php");
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if folder && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Element content: markup escaped, and characters XML 1.0 cannot carry replaced by U+FFFD
/// (PHP's `ENT_DISALLOWED`).
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '\t' | '\n' | '\r' => c.to_string(),
            c if c.is_control() => '\u{fffd}'.to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn rfc1123(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn iso(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The value of a DAV: property of a resource, `None` when it has none.
fn value(name: &str, path: &str, node: &Node) -> Option<String> {
    let display = path.rsplit('/').next().unwrap_or("");
    Some(match (name, node) {
        ("displayname", _) => escape(display),
        ("creationdate", Node::Dir { modified } | Node::File { modified, .. }) => iso(*modified),
        ("getlastmodified", Node::Dir { modified } | Node::File { modified, .. }) => {
            rfc1123(*modified)
        }
        ("resourcetype", Node::Dir { .. }) => "<D:collection/>".to_owned(),
        ("resourcetype", Node::File { .. }) => String::new(),
        ("getcontenttype", Node::Dir { .. }) => "httpd/unix-directory".to_owned(),
        ("getcontenttype", Node::File { content_type, .. }) => escape(content_type),
        ("getcontentlength", Node::File { size, .. }) => size.to_string(),
        ("getetag", Node::File { etag, .. }) => format!("\"{etag}\""),
        ("getetag", Node::Dir { modified }) => {
            let secs = modified
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("\"dir:{secs}\"")
        }
        _ => return None,
    })
}

fn render(xml: &mut String, path: &str, node: &Node, wanted: &Wanted) {
    let folder = matches!(node, Node::Dir { .. });
    xml.push_str(" <D:response xmlns:ns0=\"urn:uuid:c2f41010-65b3-11d1-a29f-00aa00c14882/\">\n");
    xml.push_str(&format!("  <D:href>{}</D:href>\n", href(path, folder)));
    let (found, missing): (Vec<PropName>, Vec<PropName>) = match wanted {
        Wanted::All | Wanted::Names => (
            ALL_PROPS
                .iter()
                .filter(|p| value(p, path, node).is_some())
                .map(|p| ("DAV:".to_owned(), (*p).to_owned()))
                .collect(),
            Vec::new(),
        ),
        Wanted::Props(props) => props
            .iter()
            .cloned()
            .partition(|(ns, name)| ns == "DAV:" && value(name, path, node).is_some()),
    };
    if !found.is_empty() {
        xml.push_str("   <D:propstat>\n    <D:prop>\n");
        for (_, name) in &found {
            let v = match wanted {
                Wanted::Names => String::new(),
                _ => value(name, path, node).unwrap_or_default(),
            };
            let attr = match name.as_str() {
                "creationdate" => " ns0:dt=\"dateTime.tz\"",
                "getlastmodified" => " ns0:dt=\"dateTime.rfc1123\"",
                _ => "",
            };
            if v.is_empty() {
                xml.push_str(&format!("     <D:{name}{attr}/>\n"));
            } else {
                xml.push_str(&format!("     <D:{name}{attr}>{v}</D:{name}>\n"));
            }
        }
        xml.push_str("    </D:prop>\n    <D:status>HTTP/1.1 200 OK</D:status>\n   </D:propstat>\n");
    }
    if !missing.is_empty() {
        xml.push_str("   <D:propstat>\n    <D:prop>\n");
        for (ns, name) in &missing {
            if ns == "DAV:" {
                xml.push_str(&format!("     <D:{name}/>\n"));
            } else {
                xml.push_str(&format!("     <{name} xmlns=\"{}\"/>\n", escape(ns)));
            }
        }
        xml.push_str(
            "    </D:prop>\n    <D:status>HTTP/1.1 404 Not Found</D:status>\n   </D:propstat>\n",
        );
    }
    xml.push_str(" </D:response>\n");
}

/// One element of the request body: its resolved name and its children.
#[derive(Debug)]
struct Element {
    ns: String,
    name: String,
    children: Vec<Element>,
}

/// Reads a `PROPFIND` body: empty is `allprop`; otherwise a `DAV:propfind` element holding
/// `allprop`, `propname` or `prop`. A small, strict reader: UTF-8, balanced tags, resolved
/// namespaces, no document type, no text but white space.
pub(crate) fn parse_request(body: &[u8]) -> Result<Wanted, ()> {
    let text = std::str::from_utf8(body).map_err(|_| ())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Ok(Wanted::All);
    }
    let root = parse_tree(text)?;
    if (root.ns.as_str(), root.name.as_str()) != ("DAV:", "propfind") {
        return Err(());
    }
    let dav = |e: &Element, name: &str| e.ns == "DAV:" && e.name == name;
    match root.children.as_slice() {
        [one] if dav(one, "allprop") => Ok(Wanted::All),
        [one] if dav(one, "propname") => Ok(Wanted::Names),
        [one] if dav(one, "prop") && !one.children.is_empty() => Ok(Wanted::Props(
            one.children
                .iter()
                .map(|c| (c.ns.clone(), c.name.clone()))
                .collect(),
        )),
        _ => Err(()),
    }
}

/// The namespace scopes of the open elements: (prefix, uri), `""` for the default.
type Scopes = Vec<Vec<(String, String)>>;

fn resolve(scopes: &Scopes, prefix: &str) -> Option<String> {
    scopes
        .iter()
        .rev()
        .flat_map(|s| s.iter().rev())
        .find(|(p, _)| p == prefix)
        .map(|(_, uri)| uri.clone())
        .or_else(|| prefix.is_empty().then(String::new))
}

fn parse_tree(text: &str) -> Result<Element, ()> {
    let mut rest = text;
    let mut scopes: Scopes = Vec::new();
    let mut stack: Vec<(String, Element)> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let lt = rest.find('<');
        let before = &rest[..lt.unwrap_or(rest.len())];
        if !before.trim().is_empty() {
            return Err(());
        }
        let Some(lt) = lt else { break };
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<?") {
            if !stack.is_empty() || root.is_some() {
                return Err(());
            }
            rest = &r[r.find("?>").ok_or(())? + 2..];
            continue;
        }
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->").ok_or(())? + 3..];
            continue;
        }
        if rest.starts_with("<!") {
            // DOCTYPE, CDATA: neither belongs in a propfind request.
            return Err(());
        }
        let gt = rest.find('>').ok_or(())?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(closing) = tag.strip_prefix('/') {
            let (qname, element) = stack.pop().ok_or(())?;
            if closing.trim() != qname {
                return Err(());
            }
            scopes.pop();
            match stack.last_mut() {
                Some((_, parent)) => parent.children.push(element),
                None => root = Some(element),
            }
            continue;
        }
        if root.is_some() {
            return Err(());
        }
        let (tag, self_closing) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let (qname, attrs) = match tag.find(|c: char| c.is_ascii_whitespace()) {
            Some(i) => (&tag[..i], &tag[i..]),
            None => (tag, ""),
        };
        if qname.is_empty() || qname.contains(['"', '\'', '=']) {
            return Err(());
        }
        scopes.push(namespace_declarations(attrs)?);
        let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
        let ns = resolve(&scopes, prefix).ok_or(())?;
        let element = Element {
            ns,
            name: local.to_owned(),
            children: Vec::new(),
        };
        if self_closing {
            scopes.pop();
            match stack.last_mut() {
                Some((_, parent)) => parent.children.push(element),
                None => root = Some(element),
            }
        } else {
            if stack.len() >= 16 {
                return Err(());
            }
            stack.push((qname.to_owned(), element));
        }
    }
    if !stack.is_empty() {
        return Err(());
    }
    root.ok_or(())
}

/// The `xmlns` and `xmlns:p` attributes of a tag; other attributes are checked for shape only.
fn namespace_declarations(attrs: &str) -> Result<Vec<(String, String)>, ()> {
    let mut out = Vec::new();
    let mut rest = attrs.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or(())?;
        let name = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
        let quote = quote.ok_or(())?;
        let close = after[1..].find(quote).ok_or(())?;
        let value = &after[1..1 + close];
        if name == "xmlns" {
            out.push((String::new(), value.to_owned()));
        } else if let Some(p) = name.strip_prefix("xmlns:") {
            out.push((p.to_owned(), value.to_owned()));
        }
        rest = after[close + 2..].trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(parse_request(b"").unwrap(), Wanted::All);
        assert_eq!(
            parse_request(br#"<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>"#)
                .unwrap(),
            Wanted::All
        );
        assert_eq!(
            parse_request(
                br#"<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><x:y xmlns:x="urn:x"/></D:prop></D:propfind>"#
            )
            .unwrap(),
            Wanted::Props(vec![
                ("DAV:".into(), "resourcetype".into()),
                ("urn:x".into(), "y".into())
            ])
        );
        assert_eq!(
            parse_request(br#"<a:propfind xmlns:a='DAV:'><a:propname/></a:propfind>"#).unwrap(),
            Wanted::Names
        );
        for bad in [
            &br#"<propfind><allprop/></propfind>"#[..],
            br#"<D:propfind xmlns:D="DAV:"><D:allprop/>"#,
            br#"<D:propfind xmlns:D="DAV:"><D:allprop></D:prop></D:propfind>"#,
            br#"<!DOCTYPE x [<!ENTITY a "b">]><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#,
            br#"<D:propfind xmlns:D="DAV:">text<D:allprop/></D:propfind>"#,
            br#"<D:propfind xmlns:D="DAV:"><X:allprop/></D:propfind>"#,
            br#"<D:propfind xmlns:D="DAV:"><D:prop/></D:propfind>"#,
            b"\xff",
        ] {
            assert!(parse_request(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn hrefs_encode_like_rawurlencode() {
        assert_eq!(
            href("/home/ralf/Q3 report#1?.pdf", false),
            "/egroupware/webdav.php/home/ralf/Q3%20report%231%3F.pdf"
        );
        assert_eq!(
            href("/home/ralf", true),
            "/egroupware/webdav.php/home/ralf/"
        );
        assert_eq!(href("/", true), "/egroupware/webdav.php/");
    }
}

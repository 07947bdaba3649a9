//! Every field the adapter sends, checked against the Kiteworks v28 OpenAPI specification.
//!
//! A full upload (with folders created on the way), download and send go to the sandbox; then
//! each request of its journal is matched to the spec's operation and its path parameters,
//! query and body (as the sandbox read it) are checked against that operation's schema:
//! types, formats, enums, limits, required fields, and no field the schema does not name.
//!
//! The spec is the official one, read where the project keeps it (`../shared/specs/` from the
//! workspace root). A verbatim copy lives in this crate (`spec/`) for checkouts without it; the
//! copy must be byte-identical to the original whenever both are present, and the test says on
//! stderr when it had to use the copy.

mod common;

use std::path::{Path, PathBuf};

use common::{CHUNK, file, kit};
use securesend_core::{
    Attachment, DownloadRequest, Downloader, Expiry, SecureMessage, UploadRequest, Uploader,
};
use securesend_kiteworks::{Acl, MailOptions};
use serde_json::Value;

const SPEC: &str = "kiteworks-v28-openapi.json";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The official spec; the crate's copy only where the original is absent, and the copy must
/// equal the original where both are present.
fn spec() -> Value {
    let copy = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("spec")
        .join(SPEC);
    let read = |path: &Path| {
        std::fs::read(path)
            .unwrap_or_else(|e| panic!("the spec {} cannot be read: {e}", path.display()))
    };
    let original = workspace_root().join("../shared/specs").join(SPEC);
    let bytes = if original.exists() {
        let upstream = read(&original);
        assert!(
            upstream == read(&copy),
            "{} differs from {}; copy it again",
            copy.display(),
            original.display()
        );
        upstream
    } else {
        eprintln!(
            "{} is absent; checking against the crate's verbatim copy {}",
            original.display(),
            copy.display()
        );
        read(&copy)
    };
    serde_json::from_slice(&bytes).expect("the spec is JSON")
}

/// The service's own time form: `YYYY-MM-DDTHH:MM:SS+0000`.
fn is_service_time(s: &str) -> bool {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+0000");
    s.len() == 24 && time::PrimitiveDateTime::parse(s, &f).is_ok()
}

fn is_date(s: &str) -> bool {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    s.len() == 10 && time::Date::parse(s, &f).is_ok()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn is_email(s: &str) -> bool {
    matches!(s.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@'))
        && !s.chars().any(char::is_whitespace)
}

struct Checker<'a> {
    root: &'a Value,
    problems: Vec<String>,
}

impl<'a> Checker<'a> {
    /// Follows `$ref`s to `#/components/...`.
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let mut at = self.root;
            for part in r.trim_start_matches("#/").split('/') {
                at = &at[part];
            }
            assert!(!at.is_null(), "the spec's reference {r} leads nowhere");
            schema = at;
        }
        schema
    }

    fn fail(&mut self, at: &str, what: String) {
        self.problems.push(format!("{at}: {what}"));
    }

    /// Checks `value` against `schema`. `text` says the value came from a query or a form,
    /// where every scalar travels as a string.
    fn check(&mut self, schema: &'a Value, value: &Value, at: &str, text: bool) {
        let schema = self.resolve(schema);
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check(part, value, at, text);
        }
        let ty = schema.get("type").and_then(Value::as_str);
        let s = value.as_str();
        match ty {
            Some("string") => match s {
                None => self.fail(at, format!("{value} is not a string")),
                Some(s) => {
                    self.string(schema, s, at);
                }
            },
            Some("integer") => {
                let n = match (value, text) {
                    (Value::Number(n), _) => n.as_i64(),
                    (Value::String(s), true) => s.parse::<i64>().ok(),
                    _ => None,
                };
                match n {
                    None => self.fail(at, format!("{value} is not an integer")),
                    Some(n) => {
                        if let Some(min) = schema.get("minimum").and_then(Value::as_i64) {
                            if n < min {
                                self.fail(at, format!("{n} is below the minimum {min}"));
                            }
                        }
                        if let Some(max) = schema.get("maximum").and_then(Value::as_i64) {
                            if n > max {
                                self.fail(at, format!("{n} is above the maximum {max}"));
                            }
                        }
                    }
                }
            }
            Some("boolean") => {
                let ok = value.is_boolean() || (text && matches!(s, Some("true" | "false")));
                if !ok {
                    self.fail(at, format!("{value} is not a boolean"));
                }
            }
            Some("array") => {
                let items: Vec<Value> = match (value, text) {
                    (Value::Array(a), _) => a.clone(),
                    (Value::String(s), true) => {
                        s.split(',').map(|i| Value::String(i.into())).collect()
                    }
                    _ => {
                        self.fail(at, format!("{value} is not a list"));
                        return;
                    }
                };
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{at}[{i}]");
                    if let Some(item_schema) = schema.get("items") {
                        self.check(item_schema, item, &at, text);
                    }
                    // Some list parameters carry their enum on the list itself.
                    self.in_enum(schema, item, &at);
                }
                return;
            }
            Some("object") | None if schema.get("properties").is_some() => {
                self.object(schema, value, at, text);
            }
            Some("object") if !value.is_object() => {
                self.fail(at, format!("{value} is not an object"));
            }
            Some("object") => {}
            Some(other) => self.fail(at, format!("schema type {other} is not checked here")),
            None => {}
        }
        self.in_enum(schema, value, at);
    }

    fn in_enum(&mut self, schema: &Value, value: &Value, at: &str) {
        let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
            return;
        };
        let hit = allowed.iter().any(|a| {
            a == value
                || match (a, value) {
                    (Value::Number(n), Value::String(s)) => n.to_string() == *s,
                    _ => false,
                }
        });
        if !hit && !value.is_array() {
            self.fail(at, format!("{value} is not one of {allowed:?}"));
        }
    }

    fn string(&mut self, schema: &Value, s: &str, at: &str) {
        let ok = match schema.get("format").and_then(Value::as_str) {
            // The spec marks client times `date` yet calls them timestamps; the service writes
            // times in its own form. Either a plain date or that form passes, never RFC 3339.
            Some("date") => is_date(s) || is_service_time(s),
            Some("date-time") => is_service_time(s),
            Some("uuid") => is_uuid(s),
            Some("email") => is_email(s),
            _ => true,
        };
        if !ok {
            self.fail(
                at,
                format!(
                    "{s:?} is not in the format {}",
                    schema["format"].as_str().unwrap_or_default()
                ),
            );
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if s.chars().count() as u64 > max {
                self.fail(at, format!("longer than {max} characters"));
            }
        }
    }

    fn object(&mut self, schema: &'a Value, value: &Value, at: &str, text: bool) {
        let Some(fields) = value.as_object() else {
            self.fail(at, format!("{value} is not an object"));
            return;
        };
        let props = schema["properties"].as_object().unwrap();
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !fields.contains_key(name) {
                self.fail(at, format!("the required field {name} is missing"));
            }
        }
        for (name, v) in fields {
            match props.get(name) {
                Some(p) => self.check(p, v, &format!("{at}.{name}"), text),
                None => self.fail(at, format!("the field {name} is not in the schema")),
            }
        }
    }
}

/// Path parameters by name, as sent.
type Params = Vec<(String, String)>;

/// The spec's path template matching `path`, the most literal one first, with the values of
/// its parameters.
fn operation<'a>(spec: &'a Value, method: &str, path: &str) -> Option<(&'a Value, Params)> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(usize, &Value, Params)> = None;
    for (template, item) in spec["paths"].as_object().unwrap() {
        let t: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        if t.len() != segs.len() {
            continue;
        }
        let mut params = Vec::new();
        let mut literal = 0;
        let fits = t.iter().zip(&segs).all(|(t, s)| {
            if t.starts_with('{') && t.ends_with('}') {
                let v = url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                params.push((t[1..t.len() - 1].to_owned(), v));
                !s.is_empty()
            } else {
                literal += 1;
                t == s
            }
        });
        let Some(op) = item.get(method.to_ascii_lowercase()) else {
            continue;
        };
        if fits && best.as_ref().is_none_or(|b| literal > b.0) {
            best = Some((literal, op, params));
        }
    }
    best.map(|(_, op, params)| (op, params))
}

#[tokio::test]
async fn every_field_sent_in_a_send_upload_and_download_is_as_the_v28_spec_says() {
    let spec = spec();
    let k = kit().await;
    let p = k.provider();
    let dir = tempfile::tempdir().unwrap();
    // From disk, so the file's modification time goes along as `clientModified`.
    let big = file(dir.path(), "report.bin", (2 * CHUNK + 9) as usize);
    let small = file(dir.path(), "note.txt", 12);

    let remote = p
        .upload(
            UploadRequest::builder(Attachment::from_path(&big))
                .folder("My Folder/spec/checked")
                .create_parents(true)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let out = dir.path().join("down");
    std::fs::create_dir(&out).unwrap();
    p.download(DownloadRequest::new(&remote.id))
        .await
        .unwrap()
        .save_to(&out)
        .await
        .unwrap();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .cc("grace@example.com")
        .bcc("eve@example.com")
        .subject("checked against the spec")
        .text("see attached")
        .expires(Expiry::Days(7))
        .download_receipt(true)
        .attach(Attachment::from_path(&small))
        .build()
        .unwrap();
    let opts = MailOptions::default()
        .acl(Acl::VerifyRecipient)
        .secure_body(true)
        .self_copy(true)
        .include_fingerprint(true)
        .file_id(remote.id.clone());
    p.send_with(msg, opts).await.unwrap();

    let mut c = Checker {
        root: &spec,
        problems: Vec::new(),
    };
    let mut client_modified = Vec::new();
    let mut bodies = 0;
    for e in k.sandbox.journal().snapshot() {
        // OAuth is not part of the REST spec.
        if e.path.starts_with("/oauth/") {
            continue;
        }
        let at = format!("{} {}", e.method, e.path);
        let Some((op, path_params)) = operation(&spec, &e.method, &e.path) else {
            c.fail(&at, "no such operation in the spec".into());
            continue;
        };
        let declared: Vec<&Value> = op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| c.resolve(p))
            .collect();
        let param = |name: &str, place: &str| {
            declared
                .iter()
                .find(|p| p["name"] == name && p["in"] == place)
                .map(|p| &p["schema"])
        };
        for (name, v) in &path_params {
            match param(name, "path") {
                Some(s) => c.check(
                    s,
                    &Value::String(v.clone()),
                    &format!("{at} {{{name}}}"),
                    true,
                ),
                None => c.fail(&at, format!("path parameter {name} is not declared")),
            }
        }
        for (name, v) in url::form_urlencoded::parse(e.query.as_deref().unwrap_or("").as_bytes()) {
            match param(&name, "query") {
                Some(s) => c.check(
                    s,
                    &Value::String(v.into_owned()),
                    &format!("{at} ?{name}"),
                    true,
                ),
                None => c.fail(&at, format!("query parameter {name} is not in the spec")),
            }
        }
        let Some(body) = k.inspect.request_body(e.seq) else {
            continue;
        };
        bodies += 1;
        let multipart = e
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("multipart/form-data"));
        let media = if multipart {
            "multipart/form-data"
        } else {
            "application/json"
        };
        let Some(schema) = op.pointer(&format!(
            "/requestBody/content/{}/schema",
            media.replace('/', "~1")
        )) else {
            c.fail(&at, format!("the spec takes no {media} body here"));
            continue;
        };
        if let Some(t) = body.get("clientModified") {
            client_modified.push(t.clone());
        }
        c.check(schema, &body, &format!("{at} body"), multipart);
    }
    assert!(c.problems.is_empty(), "{}", c.problems.join("\n"));
    // The checks ran on real traffic: folders, both initiateUploads, chunks, draft and send.
    assert!(bodies >= 8, "only {bodies} bodies were checked");
    assert_eq!(
        client_modified.len(),
        2,
        "the upload and the attachment send their modification time"
    );
    for t in client_modified {
        let t = t.as_str().unwrap();
        assert!(is_service_time(t), "{t} is not in the service's form");
    }
    let mtime = time::OffsetDateTime::from(std::fs::metadata(&big).unwrap().modified().unwrap());
    let sent = k
        .sandbox
        .journal()
        .snapshot()
        .into_iter()
        .filter(|e| e.path.ends_with("/actions/initiateUpload"))
        .find_map(|e| k.inspect.request_body(e.seq))
        .unwrap();
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
    );
    let read = time::OffsetDateTime::parse(sent["clientModified"].as_str().unwrap(), &f).unwrap();
    assert_eq!(
        read.unix_timestamp(),
        mtime.unix_timestamp(),
        "the file's own time, to the second"
    );
}

#[test]
fn the_checker_refuses_what_a_strict_server_would() {
    let spec = spec();
    let mut c = Checker {
        root: &spec,
        problems: Vec::new(),
    };
    let (op, _) = operation(&spec, "POST", "/rest/folders/abc/actions/initiateUpload").unwrap();
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    let good = serde_json::json!({
        "filename": "a.txt", "totalSize": 3, "totalChunks": 1,
        "clientModified": "2026-11-23T00:20:05+0000"
    });
    c.check(schema, &good, "good", false);
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    for bad in [
        serde_json::json!({ "filename": "a", "clientModified": "2026-11-23T00:20:05.123456789Z" }),
        serde_json::json!({ "filename": "a", "totalChunks": 0 }),
        serde_json::json!({ "filename": "a", "colour": "red" }),
        serde_json::json!({ "totalSize": 3 }),
        serde_json::json!({ "filename": 7 }),
    ] {
        c.problems.clear();
        c.check(schema, &bad, "bad", false);
        assert!(!c.problems.is_empty(), "{bad} passed");
    }
    let (op, _) = operation(&spec, "PUT", "/rest/mail/x/actions/sendFile").unwrap();
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    c.problems.clear();
    c.check(
        schema,
        &serde_json::json!({ "acl": "everyone" }),
        "acl",
        false,
    );
    assert!(!c.problems.is_empty(), "an acl outside the enum passed");
}

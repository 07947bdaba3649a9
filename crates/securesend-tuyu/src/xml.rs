//! XML answers turned into the same JSON values the JSON answers give, so one set of wire types
//! reads both.
//!
//! `<fileInfo><fileId>7</fileId></fileInfo>` becomes `{"fileInfo": {"fileId": "7"}}`; repeated
//! children become arrays; text-only elements become strings; attributes are ignored. Server
//! bytes are hostile: document type declarations (and with them entity definitions) are
//! refused, nesting is limited, and the body was size-capped before it got here.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

/// How deep elements may nest.
const MAX_DEPTH: usize = 32;

struct Open {
    name: String,
    children: Map<String, Value>,
    has_children: bool,
    text: String,
}

impl Open {
    fn new(name: String) -> Open {
        Open {
            name,
            children: Map::new(),
            has_children: false,
            text: String::new(),
        }
    }

    fn into_value(self) -> Value {
        if self.has_children {
            Value::Object(self.children)
        } else {
            Value::String(self.text.trim().to_owned())
        }
    }

    fn add(&mut self, name: String, value: Value) {
        self.has_children = true;
        match self.children.get_mut(&name) {
            None => {
                self.children.insert(name, value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
}

/// Parses an XML document into a JSON value keyed by its root element. The error is a short
/// description that never quotes the document.
pub fn to_value(body: &[u8]) -> Result<Value, String> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("is not well-formed XML ({e})"))?;
        match event {
            Event::DocType(_) => return Err("declares a document type, which is refused".into()),
            Event::Start(start) => {
                if root.is_some() {
                    return Err("has more than one root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("nests elements deeper than {MAX_DEPTH} levels"));
                }
                stack.push(Open::new(name_of(start.name().as_ref())));
            }
            Event::Empty(start) => {
                let name = name_of(start.name().as_ref());
                match stack.last_mut() {
                    Some(parent) => parent.add(name, Value::String(String::new())),
                    None if root.is_none() => root = Some((name, Value::String(String::new()))),
                    None => return Err("has more than one root element".into()),
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("closes an element it never opened")?;
                let name = done.name.clone();
                let value = done.into_value();
                match stack.last_mut() {
                    Some(parent) => parent.add(name, value),
                    None => root = Some((name, value)),
                }
            }
            Event::Text(text) => {
                if let Some(open) = stack.last_mut() {
                    let t = text
                        .xml10_content()
                        .map_err(|e| format!("has text that cannot be read ({e})"))?;
                    open.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(open) = stack.last_mut() {
                    let name = r
                        .decode()
                        .map_err(|e| format!("has a reference that cannot be read ({e})"))?;
                    open.text.push_str(&resolve_reference(&name)?);
                }
            }
            Event::CData(data) => {
                if let Some(open) = stack.last_mut() {
                    let t = std::str::from_utf8(&data)
                        .map_err(|_| "has CDATA that is not UTF-8".to_owned())?;
                    open.text.push_str(t);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err("ends before its elements are closed".into());
    }
    let (name, value) = root.ok_or("has no root element")?;
    let mut map = Map::new();
    map.insert(name, value);
    Ok(Value::Object(map))
}

/// The five predefined entities and character references; anything else is refused (no
/// document type may define more).
fn resolve_reference(name: &str) -> Result<String, String> {
    let c = match name {
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
    };
    Ok(c.to_string())
}

fn name_of(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elements_become_objects_arrays_and_strings() {
        let v = to_value(
            br#"<?xml version="1.0"?>
            <usersLocationAccess>
              <user><id>7</id><email>a&amp;b@example.com</email><organization/></user>
              <user><id>8</id><email><![CDATA[c@example.com]]></email></user>
            </usersLocationAccess>"#,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"usersLocationAccess": {"user": [
                {"id": "7", "email": "a&b@example.com", "organization": ""},
                {"id": "8", "email": "c@example.com"}
            ]}})
        );
        let e = to_value(
            b"<error><title>Authentication Failed</title><message>x &#x41;</message></error>",
        )
        .unwrap();
        assert_eq!(
            e,
            json!({"error": {"title": "Authentication Failed", "message": "x A"}})
        );
    }

    #[test]
    fn hostile_documents_are_refused() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
        assert!(to_value(bomb).unwrap_err().contains("document type"));
        assert!(
            to_value(b"<x>&secret;</x>")
                .unwrap_err()
                .contains("unknown entity")
        );
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(to_value(deep.as_bytes()).unwrap_err().contains("deeper"));
        assert!(to_value(b"<a><b></a>").is_err());
        assert!(to_value(b"<a/><b/>").is_err());
        assert!(to_value(b"").is_err());
    }
}

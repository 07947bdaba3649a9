//! Route patterns (method + path) used to aim faults and to count journal entries.
//!
//! A pattern is a path whose segments are literals or wildcards:
//!
//! | segment | matches |
//! |---|---|
//! | `uploads` | exactly `uploads` |
//! | `*` or `{name}` | any one non-empty segment |
//! | `**` or `{*name}` (last only) | the rest of the path, including nothing |
//!
//! The `{name}` forms are accepted so a service module can aim a fault with the same string it
//! gave to axum. Paths are compared raw (percent-encoding is not decoded) and a trailing slash
//! is significant, because some services (EGroupware's `/mail` vs `/mail/`) answer differently.

use std::fmt;

use http::Method;

/// A method (or any method) and a path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    method: Option<Method>,
    pattern: String,
    segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One,
    Rest,
}

/// A route pattern that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid route `{pattern}`: {reason}")]
pub struct RouteError {
    pattern: String,
    reason: &'static str,
}

impl Route {
    /// A route for one method (`"GET"`, `"POST"`, … or `"*"` for any) and a path pattern.
    pub fn new(method: &str, pattern: &str) -> Result<Route, RouteError> {
        let method = if method == "*" {
            None
        } else {
            Some(
                Method::from_bytes(method.as_bytes()).map_err(|_| RouteError {
                    pattern: format!("{method} {pattern}"),
                    reason: "not an HTTP method",
                })?,
            )
        };
        let segments = parse_pattern(pattern)?;
        Ok(Route {
            method,
            pattern: pattern.to_owned(),
            segments,
        })
    }

    /// A route for any method.
    pub fn any(pattern: &str) -> Result<Route, RouteError> {
        Route::new("*", pattern)
    }

    /// Every request.
    pub fn all() -> Route {
        Route {
            method: None,
            pattern: "/**".to_owned(),
            segments: vec![Segment::Rest],
        }
    }

    /// Parses `"POST /rest/uploads/*"` or a bare `"/path"` (any method).
    pub fn parse(text: &str) -> Result<Route, RouteError> {
        match text.trim().split_once(char::is_whitespace) {
            Some((method, pattern)) => Route::new(method, pattern.trim()),
            None => Route::any(text.trim()),
        }
    }

    /// Whether a request with this method and path (no query) matches.
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let mut parts = rest.split('/');
        for seg in &self.segments {
            match seg {
                Segment::Rest => return true,
                Segment::One => match parts.next() {
                    Some(p) if !p.is_empty() => {}
                    _ => return false,
                },
                Segment::Literal(lit) => match parts.next() {
                    Some(p) if p == lit => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }
}

fn parse_pattern(pattern: &str) -> Result<Vec<Segment>, RouteError> {
    let err = |reason| RouteError {
        pattern: pattern.to_owned(),
        reason,
    };
    let rest = pattern
        .strip_prefix('/')
        .ok_or_else(|| err("a path pattern starts with `/`"))?;
    let raw: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let last = i + 1 == raw.len();
        let seg = if *s == "**" || (s.starts_with("{*") && s.ends_with('}')) {
            if !last {
                return Err(err("`**` may only be the last segment"));
            }
            Segment::Rest
        } else if *s == "*" || (s.starts_with('{') && s.ends_with('}')) {
            Segment::One
        } else {
            Segment::Literal((*s).to_owned())
        };
        segments.push(seg);
    }
    Ok(segments)
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.method {
            Some(m) => write!(f, "{m} {}", self.pattern),
            None => write!(f, "* {}", self.pattern),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(route: &str, method: &str, path: &str) -> bool {
        Route::parse(route)
            .unwrap()
            .matches(&Method::from_bytes(method.as_bytes()).unwrap(), path)
    }

    #[test]
    fn literal_and_wildcards() {
        assert!(m("GET /a/b", "GET", "/a/b"));
        assert!(!m("GET /a/b", "POST", "/a/b"));
        assert!(!m("GET /a/b", "GET", "/a/b/c"));
        assert!(!m("GET /a/b", "GET", "/a"));
        assert!(m("* /rest/uploads/*", "POST", "/rest/uploads/7"));
        assert!(m("/rest/uploads/{id}", "DELETE", "/rest/uploads/7"));
        assert!(!m("/rest/uploads/*", "POST", "/rest/uploads/"));
        assert!(!m("/rest/uploads/*", "POST", "/rest/uploads/7/x"));
        assert!(m("/api/**", "GET", "/api"), "`**` also matches nothing");
        assert!(m("/api/**", "GET", "/api/a/b/c"));
        assert!(m("/files/{*rest}", "GET", "/files/x/y"));
        assert!(Route::all().matches(&Method::PUT, "/anything/at/all"));
    }

    #[test]
    fn trailing_slash_is_significant() {
        assert!(m("GET /mail", "GET", "/mail"));
        assert!(!m("GET /mail", "GET", "/mail/"));
        assert!(m("GET /mail/", "GET", "/mail/"));
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert!(Route::parse("GET a/b").is_err());
        assert!(Route::parse("GET /a/**/b").is_err());
        assert!(Route::new("BAD METHOD", "/a").is_err());
        assert_eq!(Route::parse("POST /x/*").unwrap().to_string(), "POST /x/*");
    }
}

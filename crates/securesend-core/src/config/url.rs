//! Service URLs: `https` unless the host is this machine or the profile opts out explicitly.

use std::net::IpAddr;

use url::{Host, Url};

use crate::error::{Error, Result};

/// Whether `url` points at this machine (127.0.0.0/8, ::1 or `localhost`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Parses a service's base URL from the configuration key `field`.
///
/// `https` is required; `http` is accepted for loopback hosts, or anywhere when
/// `allow_insecure_http` is set. Credentials, queries and fragments in the URL are refused, as
/// they would end up in logs. The path always ends with `/` so relative joins stay below it.
///
/// ```
/// use securesend_core::config::check_base_url;
/// assert!(check_base_url("base_url", "https://files.example.com", false).is_ok());
/// assert!(check_base_url("base_url", "http://127.0.0.1:8080", false).is_ok());
/// assert!(check_base_url("base_url", "http://files.example.com", false).is_err());
/// assert!(check_base_url("base_url", "http://files.example.com", true).is_ok());
/// ```
pub fn check_base_url(field: &str, raw: &str, allow_insecure_http: bool) -> Result<Url> {
    let mut url = Url::parse(raw.trim()).map_err(|e| {
        Error::config(format!(
            "`{field}` is not a valid URL ({e}); write it as https://host/path"
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) || allow_insecure_http => {}
        "http" => {
            return Err(Error::config(format!(
                "`{field}` uses http:// to {}; use https://, or set allow_insecure_http = true if you accept cleartext credentials",
                url.host_str().unwrap_or("?")
            )));
        }
        other => {
            return Err(Error::config(format!(
                "`{field}` has scheme {other}:; use https://"
            )));
        }
    }
    if url.host().is_none() {
        return Err(Error::config(format!("`{field}` has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(format!(
            "`{field}` contains credentials; put them in their own configuration keys"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "`{field}` must not have a query or fragment"
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        for ok in [
            "https://a.example",
            "http://localhost:1/x",
            "http://[::1]:9/",
            "http://127.8.9.1",
        ] {
            assert!(check_base_url("u", ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://a.example",
            "ftp://a.example",
            "https://user:pw@a.example",
            "https://a.example/?token=x",
            "not a url",
            "http://localhost.evil.example",
        ] {
            let e = check_base_url("u", bad, false).unwrap_err();
            assert!(e.is_configuration(), "{bad}");
            assert!(!e.to_string().contains("pw"), "{e}");
        }
        assert_eq!(
            check_base_url("u", "https://a.example/api", false)
                .unwrap()
                .as_str(),
            "https://a.example/api/"
        );
    }
}

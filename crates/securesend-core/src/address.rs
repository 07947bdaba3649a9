//! Validated mail addresses.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A mail address with an optional display name, validated when it is made.
///
/// Parsing is done by `lettre`'s RFC 5322 mailbox parser; control characters (CR, LF, NUL, …)
/// are refused before it runs, so a value can never smuggle a header line into a message.
///
/// ```
/// use securesend_core::Address;
///
/// let a: Address = "Ada Lovelace <ada@example.com>".parse()?;
/// assert_eq!(a.email(), "ada@example.com");
/// assert_eq!(a.name(), Some("Ada Lovelace"));
/// assert!("ada@example.com\r\nBcc: eve@example.com".parse::<Address>().is_err());
/// # Ok::<(), securesend_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Address {
    name: Option<String>,
    email: String,
}

impl Address {
    /// Parses `Name <user@domain>` or `user@domain`.
    pub fn parse(input: &str) -> Result<Address> {
        let shown = shorten(input);
        if input.chars().any(char::is_control) {
            return Err(Error::invalid_input(format!(
                "address {shown:?} contains a control character (CR, LF, tab or NUL); give one plain address"
            )));
        }
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Error::invalid_input("empty address; give user@domain"));
        }
        let mailbox = lettre::message::Mailbox::from_str(trimmed).map_err(|_| {
            Error::invalid_input(format!(
                "address {shown:?} is not a valid mail address; use user@domain or \"Name <user@domain>\""
            ))
        })?;
        let email = mailbox.email.to_string();
        if !email.contains('@') || email.ends_with('@') {
            return Err(Error::invalid_input(format!(
                "address {shown:?} is not a valid mail address; use user@domain"
            )));
        }
        let name = mailbox.name.filter(|n| !n.trim().is_empty());
        Ok(Address { name, email })
    }

    /// Builds an address from an email and an optional display name, validating both.
    pub fn new(email: &str, name: Option<&str>) -> Result<Address> {
        let mut address = Address::parse(email)?;
        if address.name.is_some() {
            return Err(Error::invalid_input(format!(
                "{:?} must be a bare user@domain when a name is given separately",
                shorten(email)
            )));
        }
        if let Some(name) = name {
            if name.chars().any(char::is_control) {
                return Err(Error::invalid_input(
                    "display name contains a control character; remove CR/LF/NUL",
                ));
            }
            address.name = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
        }
        Ok(address)
    }

    /// The `user@domain` part.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The display name, when there is one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The domain part (after the last `@`).
    pub fn domain(&self) -> &str {
        self.email.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Address::parse(s)
    }
}

impl TryFrom<&str> for Address {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        Address::parse(s)
    }
}

impl TryFrom<String> for Address {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Address::parse(&s)
    }
}

impl TryFrom<&String> for Address {
    type Error = Error;
    fn try_from(s: &String) -> Result<Self> {
        Address::parse(s)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => {
                let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "\"{quoted}\" <{}>", self.email)
            }
            None => f.write_str(&self.email),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_forms() {
        for (input, email, name) in [
            ("a@example.com", "a@example.com", None),
            ("  a@example.com ", "a@example.com", None),
            ("Ann <ann@example.com>", "ann@example.com", Some("Ann")),
            (
                "\"Doe, Jane\" <jane@example.org>",
                "jane@example.org",
                Some("Doe, Jane"),
            ),
            ("Zoë <zoe@example.com>", "zoe@example.com", Some("Zoë")),
            (
                "first.last+tag@sub.example.co.uk",
                "first.last+tag@sub.example.co.uk",
                None,
            ),
        ] {
            let a = Address::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(a.email(), email);
            assert_eq!(a.name(), name);
        }
    }

    #[test]
    fn rejects_bad_input() {
        for input in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "a@",
            "a@@example.com",
            "a@example.com\r\nBcc: x@y.z",
            "a@example.com\n",
            "a\0@example.com",
            "Ann <ann@example.com",
            "a b@example.com",
            "a@example.com, b@example.com",
        ] {
            let err = Address::parse(input).expect_err(input);
            assert!(err.is_invalid_input(), "{input}: {err}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn display_round_trips() {
        let a = Address::parse("\"Doe, \\\"J\\\"\" <j@example.org>").unwrap();
        let again = Address::parse(&a.to_string()).unwrap();
        assert_eq!(a, again);
    }
}

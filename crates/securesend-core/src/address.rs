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
/// Every service is reached without SMTPUTF8, so an address is kept in the form RFC 5321 and
/// RFC 6531 ask for then: an internationalised domain as A-labels (punycode), which
/// [`Address::email`] returns and adapters send; [`Address::email_unicode`] is the same address
/// as people read it. A user part (before the `@`) that is not ASCII cannot be written without
/// SMTPUTF8 and is refused, as is an invalid internationalised domain and a display name with
/// a bidirectional control that would make it read as something else.
///
/// ```
/// use securesend_core::Address;
///
/// let a: Address = "Ada Lovelace <ada@example.com>".parse()?;
/// assert_eq!(a.email(), "ada@example.com");
/// assert_eq!(a.name(), Some("Ada Lovelace"));
/// assert!("ada@example.com\r\nBcc: eve@example.com".parse::<Address>().is_err());
///
/// let b: Address = "ada@bücher.example".parse()?;
/// assert_eq!(b.email(), "ada@xn--bcher-kva.example");
/// assert_eq!(b.email_unicode(), "ada@bücher.example");
/// assert!("jürgen@example.com".parse::<Address>().is_err());
/// # Ok::<(), securesend_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Address {
    name: Option<String>,
    /// `user@domain`, the domain in A-labels: what goes on the wire.
    email: String,
    /// `user@domain`, the domain in U-labels: what people read.
    unicode: String,
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
            let hidden = crate::names::invisible_char(trimmed)
                .map(|c| {
                    format!(
                        " (it contains {})",
                        crate::names::describe_invisible(c)
                    )
                })
                .unwrap_or_default();
            Error::invalid_input(format!(
                "address {shown:?} is not a valid mail address{hidden}; use user@domain or \"Name <user@domain>\""
            ))
        })?;
        let parsed = mailbox.email.to_string();
        let Some((user, domain)) = parsed
            .rsplit_once('@')
            .filter(|(u, d)| !u.is_empty() && !d.is_empty())
        else {
            return Err(Error::invalid_input(format!(
                "address {shown:?} is not a valid mail address; use user@domain"
            )));
        };
        if let Some(c) = crate::names::invisible_char(&parsed) {
            // IDNA would drop a soft hyphen silently; the address must read as what is sent.
            return Err(Error::invalid_input(format!(
                "address {shown:?} contains {}; remove it",
                crate::names::describe_invisible(c)
            )));
        }
        if !user.is_ascii() {
            return Err(Error::invalid_input(format!(
                "address {shown:?} has a user part (before the @) that is not ASCII, which needs SMTPUTF8 and no service here offers it; give an ASCII address"
            )));
        }
        let (ascii, unicode) = domain_forms(domain).ok_or_else(|| {
            Error::invalid_input(format!(
                "address {shown:?} has a domain that is not a valid internationalised domain name (IDNA); check its spelling"
            ))
        })?;
        let name = mailbox.name.filter(|n| !n.trim().is_empty());
        if let Some(n) = &name {
            check_display_name(n)?;
        }
        Ok(Address {
            name,
            email: format!("{user}@{ascii}"),
            unicode: format!("{user}@{unicode}"),
        })
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
            check_display_name(name)?;
            address.name = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
        }
        Ok(address)
    }

    /// The `user@domain` part in the form services are sent: an internationalised domain in
    /// A-labels (`ada@xn--bcher-kva.example`), so it needs no SMTPUTF8.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The `user@domain` part as people read it: the domain in Unicode (`ada@bücher.example`).
    /// For showing only; send [`Address::email`].
    pub fn email_unicode(&self) -> &str {
        &self.unicode
    }

    /// The display name, when there is one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The domain part (after the last `@`), in A-labels as [`Address::email`].
    pub fn domain(&self) -> &str {
        self.email.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// Whether `self` and `other` reach the same mailbox as far as can be told without the
    /// receiving server: the same user part and the same domain, the domain compared without
    /// regard to case (DNS names are case-insensitive; user parts may not be).
    pub fn same_mailbox(&self, other: &Address) -> bool {
        self.mailbox_key() == other.mailbox_key()
    }

    /// What [`Address::same_mailbox`] compares: the user part and the lower-case A-label
    /// domain.
    pub(crate) fn mailbox_key(&self) -> (&str, String) {
        let (user, domain) = self.email.rsplit_once('@').unwrap_or((&self.email, ""));
        (user, domain.to_ascii_lowercase())
    }
}

/// The A-label and U-label forms of `domain`, or `None` when it is not a valid
/// internationalised domain name.
fn domain_forms(domain: &str) -> Option<(String, String)> {
    // An address literal (`[192.0.2.1]`) was checked by the parser and is ASCII.
    let has_a_label = || {
        domain
            .split('.')
            .any(|l| l.len() >= 4 && l[..4].eq_ignore_ascii_case("xn--"))
    };
    if domain.starts_with('[') || (domain.is_ascii() && !has_a_label()) {
        return Some((domain.to_owned(), domain.to_owned()));
    }
    // UTS #46 with STD3 rules, hyphen and length checks: what a mail domain must be in DNS.
    let ascii = idna::domain_to_ascii_strict(domain).ok()?;
    let (unicode, checked) = idna::domain_to_unicode(&ascii);
    checked.ok()?;
    Some((ascii, unicode))
}

/// Refuses a display name with a bidirectional control, which would make it (and the address
/// shown after it) read as something else.
fn check_display_name(name: &str) -> Result<()> {
    match crate::names::bidi_control(name) {
        Some(c) => Err(Error::invalid_input(format!(
            "display name {:?} contains {}, which reorders the text around it; remove it",
            shorten(name),
            crate::names::describe_invisible(c)
        ))),
        None => Ok(()),
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
    fn internationalised_domains_are_kept_as_a_labels() {
        for (input, ascii, unicode) in [
            (
                "ada@bücher.example",
                "ada@xn--bcher-kva.example",
                "ada@bücher.example",
            ),
            (
                "Ada <ada@BÜCHER.example>",
                "ada@xn--bcher-kva.example",
                "ada@bücher.example",
            ),
            (
                "ada@xn--bcher-kva.example",
                "ada@xn--bcher-kva.example",
                "ada@bücher.example",
            ),
            ("ken@例え.jp", "ken@xn--r8jz45g.jp", "ken@例え.jp"),
            ("a@example.com", "a@example.com", "a@example.com"),
        ] {
            let a = Address::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(a.email(), ascii, "{input}");
            assert_eq!(a.email_unicode(), unicode, "{input}");
            assert!(a.to_string().is_ascii() || a.name().is_some_and(|n| !n.is_ascii()));
            assert!(a.to_string().contains(ascii));
            // What is written is what is read back.
            assert_eq!(Address::parse(&a.to_string()).unwrap(), a);
        }
    }

    #[test]
    fn addresses_that_need_smtputf8_or_a_bad_idn_are_refused() {
        for (input, needle) in [
            ("jürgen@example.com", "needs SMTPUTF8"),
            ("Jürgen <jürgen@bücher.example>", "needs SMTPUTF8"),
            ("ada@xn--zz.example", "not a valid internationalised domain"),
            ("ada@bü\u{AD}cher.example", "U+00AD SOFT HYPHEN"),
            ("ada@bücher\u{200B}.example", "U+200B ZERO WIDTH SPACE"),
            (
                "ada@b\u{202E}ücher.example",
                "U+202E RIGHT-TO-LEFT OVERRIDE",
            ),
            (
                "ada@bü--cher.example",
                "not a valid internationalised domain",
            ),
            (
                "ada@bü_cher.example",
                "not a valid internationalised domain",
            ),
        ] {
            let e = Address::parse(input).expect_err(input);
            assert!(e.is_invalid_input(), "{input}: {e}");
            let text = e.to_string();
            assert!(text.contains(needle), "{input}: {text}");
            assert!(!text.contains('\n'));
        }
    }

    #[test]
    fn display_names_with_bidi_controls_are_refused() {
        let e = Address::parse("\"Bank \u{202E}moc.live\" <eve@example.com>").unwrap_err();
        assert!(e.is_invalid_input());
        let text = e.to_string();
        assert!(
            text.contains("U+202E RIGHT-TO-LEFT OVERRIDE") && !text.contains('\u{202E}'),
            "{text:?}"
        );
        let e = Address::new("eve@example.com", Some("Bank \u{2067}x")).unwrap_err();
        assert!(
            e.to_string().contains("U+2067 RIGHT-TO-LEFT ISOLATE"),
            "{e}"
        );
        // Right-to-left text itself is fine.
        assert!(Address::parse("\"שרה כהן\" <sara@example.com>").is_ok());
    }

    #[test]
    fn the_same_mailbox_ignores_the_case_of_the_domain_only() {
        let a = |s: &str| Address::parse(s).unwrap();
        assert!(a("ada@Example.COM").same_mailbox(&a("Ada L <ada@example.com>")));
        assert!(a("ada@bücher.example").same_mailbox(&a("ada@xn--bcher-kva.example")));
        assert!(!a("Ada@example.com").same_mailbox(&a("ada@example.com")));
    }

    #[test]
    fn display_round_trips() {
        let a = Address::parse("\"Doe, \\\"J\\\"\" <j@example.org>").unwrap();
        let again = Address::parse(&a.to_string()).unwrap();
        assert_eq!(a, again);
    }
}

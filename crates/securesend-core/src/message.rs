//! Messages to send: recipients, subject, bodies, attachments and delivery options.

use std::convert::Infallible;
use std::sync::Arc;

use time::{Date, OffsetDateTime};

use crate::address::Address;
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::file::{Attachment, CheckedFile};
use crate::journal::SendJournal;
use crate::progress::Progress;
use crate::secret::Secret;

impl From<Infallible> for Error {
    fn from(e: Infallible) -> Self {
        match e {}
    }
}

/// What the builder accepts as an address: a string (parsed and checked) or an [`Address`].
pub trait IntoAddress: TryInto<Address, Error: Into<Error>> {}

impl<T: TryInto<Address, Error: Into<Error>>> IntoAddress for T {}

/// The longest subject we accept, in characters (RFC 5322's line limit).
pub const MAX_SUBJECT_CHARS: usize = 998;

/// When the files of a message stop being available to recipients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// This many whole days after sending (at least 1).
    Days(u32),
    /// At the end of this day (UTC).
    On(Date),
}

impl Expiry {
    /// The number of days from `today`, rounding a date up to at least one day.
    pub fn days_from(&self, today: Date) -> u32 {
        match *self {
            Expiry::Days(d) => d,
            Expiry::On(date) => (date - today).whole_days().max(1) as u32,
        }
    }

    /// The last day files stay available, counted from `today`.
    pub fn date_from(&self, today: Date) -> Date {
        match *self {
            Expiry::Days(d) => today.saturating_add(time::Duration::days(i64::from(d))),
            Expiry::On(date) => date,
        }
    }

    /// Parses `7`, `7d`, `2w` or an ISO date `2026-12-31`.
    ///
    /// ```
    /// use securesend_core::Expiry;
    /// assert_eq!("7d".parse::<Expiry>()?, Expiry::Days(7));
    /// assert_eq!("2w".parse::<Expiry>()?, Expiry::Days(14));
    /// assert!("0d".parse::<Expiry>().is_err());
    /// # Ok::<(), securesend_core::Error>(())
    /// ```
    pub fn parse(input: &str) -> Result<Expiry> {
        let s = input.trim();
        let bad = || {
            Error::invalid_input(format!(
                "expiry {input:?} is not understood; use a number of days such as 7d, weeks such as 2w, or a date such as 2026-12-31"
            ))
        };
        if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            return Date::parse(s, &format).map(Expiry::On).map_err(|_| bad());
        }
        let (num, mult) = match s.char_indices().last() {
            Some((i, 'd')) => (&s[..i], 1),
            Some((i, 'w')) => (&s[..i], 7),
            _ => (s, 1),
        };
        let n: u32 = num.trim().parse().map_err(|_| bad())?;
        let days = n.checked_mul(mult).ok_or_else(bad)?;
        if days == 0 {
            return Err(Error::invalid_input(
                "expiry must be at least one day; give 1d or more",
            ));
        }
        Ok(Expiry::Days(days))
    }
}

impl std::str::FromStr for Expiry {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Expiry::parse(s)
    }
}

/// How recipients get the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// The files travel inside the message.
    Attach,
    /// The message carries links; the files stay on the service.
    Link,
}

/// Message priority.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Low.
    Low,
    /// Normal (the default; asks nothing of the provider).
    #[default]
    Normal,
    /// High.
    High,
}

/// Options of a message beyond its content. Each one that is set must be supported by the
/// provider (see [`Capabilities`](crate::Capabilities)), or sending fails before any request.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SendOptions {
    /// When the files expire.
    pub expires: Option<Expiry>,
    /// A password recipients need to open the files.
    pub password: Option<Secret>,
    /// Attach or link; `None` lets the provider use its usual way.
    pub delivery: Option<Delivery>,
    /// Notify the sender when a recipient downloads.
    pub download_receipt: bool,
    /// Recipients must log in to the service to download.
    pub require_login: bool,
    /// Message priority.
    pub priority: Priority,
}

/// A message ready to send: every address, header value and attachment has been checked.
///
/// ```
/// use securesend_core::{Attachment, SecureMessage};
///
/// let msg = SecureMessage::builder()
///     .to("ada@example.com")
///     .cc("Grace Hopper <grace@example.com>")
///     .subject("Quarterly report")
///     .text("Here it is.")
///     .attach(Attachment::from_bytes("report.csv", "a,b\n1,2\n"))
///     .build()?;
/// assert_eq!(msg.recipients().count(), 2);
/// assert_eq!(msg.attachments()[0].size, 8);
/// # Ok::<(), securesend_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SecureMessage {
    from: Option<Address>,
    to: Vec<Address>,
    cc: Vec<Address>,
    bcc: Vec<Address>,
    reply_to: Vec<Address>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<CheckedFile>,
    options: SendOptions,
    progress: Option<Progress>,
    cancel: Cancel,
    journal: Option<Arc<dyn SendJournal>>,
}

impl SecureMessage {
    /// Starts a message.
    pub fn builder() -> MessageBuilder {
        MessageBuilder::default()
    }

    /// The sender chosen by the caller, when any (else the provider's account).
    pub fn from(&self) -> Option<&Address> {
        self.from.as_ref()
    }
    /// `To` recipients.
    pub fn to(&self) -> &[Address] {
        &self.to
    }
    /// `Cc` recipients.
    pub fn cc(&self) -> &[Address] {
        &self.cc
    }
    /// `Bcc` recipients.
    pub fn bcc(&self) -> &[Address] {
        &self.bcc
    }
    /// `Reply-To` addresses.
    pub fn reply_to(&self) -> &[Address] {
        &self.reply_to
    }
    /// Every recipient: to, then cc, then bcc; each mailbox once (see
    /// [`MessageBuilder::build`]).
    pub fn recipients(&self) -> impl Iterator<Item = &Address> {
        self.to.iter().chain(&self.cc).chain(&self.bcc)
    }
    /// The subject (may be empty, never contains a line break).
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// The plain-text body.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
    /// The HTML body.
    pub fn html(&self) -> Option<&str> {
        self.html.as_deref()
    }
    /// The attachments with their checked sizes.
    pub fn attachments(&self) -> &[CheckedFile] {
        &self.attachments
    }
    /// The options.
    pub fn options(&self) -> &SendOptions {
        &self.options
    }
    /// The progress callback, when any.
    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }
    /// The signal that asks this send to stop and clean up (never fires unless the caller
    /// gave one with [`MessageBuilder::cancel_on`]).
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// The journal this send records its progress in, when its caller keeps one (the
    /// delivery queue); see [`SendJournal`].
    pub fn journal(&self) -> Option<&Arc<dyn SendJournal>> {
        self.journal.as_ref()
    }

    /// Lets `journal` record this send's checkpoints and its point of no return.
    pub fn with_journal(mut self, journal: Arc<dyn SendJournal>) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Lets `cancel` interrupt this send (see [`MessageBuilder::cancel_on`]).
    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }
}

/// Builds a [`SecureMessage`]; the first bad value is reported by [`MessageBuilder::build`].
#[derive(Debug, Default)]
pub struct MessageBuilder {
    first_error: Option<Error>,
    from: Option<Address>,
    to: Vec<Address>,
    cc: Vec<Address>,
    bcc: Vec<Address>,
    reply_to: Vec<Address>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
    options: SendOptions,
    progress: Option<Progress>,
    cancel: Cancel,
}

impl MessageBuilder {
    fn address(&mut self, a: impl IntoAddress, field: &str) -> Option<Address> {
        match a.try_into() {
            Ok(a) => Some(a),
            Err(e) => {
                if self.first_error.is_none() {
                    let e: Error = e.into();
                    self.first_error =
                        Some(Error::invalid_input(format!("{field}: {}", e.message())));
                }
                None
            }
        }
    }

    /// Records `address` in the list `list` picks; a bad address becomes the first error.
    fn push(
        mut self,
        address: impl IntoAddress,
        field: &str,
        list: fn(&mut Self) -> &mut Vec<Address>,
    ) -> Self {
        if let Some(a) = self.address(address, field) {
            list(&mut self).push(a);
        }
        self
    }

    /// Sets the sender (when the provider lets the caller choose it).
    pub fn from(mut self, address: impl IntoAddress) -> Self {
        self.from = self.address(address, "from");
        self
    }

    /// Adds a `To` recipient.
    pub fn to(self, address: impl IntoAddress) -> Self {
        self.push(address, "to", |b| &mut b.to)
    }

    /// Adds a `Cc` recipient.
    pub fn cc(self, address: impl IntoAddress) -> Self {
        self.push(address, "cc", |b| &mut b.cc)
    }

    /// Adds a `Bcc` recipient.
    pub fn bcc(self, address: impl IntoAddress) -> Self {
        self.push(address, "bcc", |b| &mut b.bcc)
    }

    /// Adds a `Reply-To` address.
    pub fn reply_to(self, address: impl IntoAddress) -> Self {
        self.push(address, "reply-to", |b| &mut b.reply_to)
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the plain-text body.
    pub fn text(mut self, body: impl Into<String>) -> Self {
        self.text = Some(body.into());
        self
    }

    /// Sets the HTML body.
    pub fn html(mut self, body: impl Into<String>) -> Self {
        self.html = Some(body.into());
        self
    }

    /// Adds an attachment.
    pub fn attach(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Sets when the files expire.
    pub fn expires(mut self, expiry: Expiry) -> Self {
        self.options.expires = Some(expiry);
        self
    }

    /// Protects the files with a password.
    pub fn password(mut self, password: impl Into<Secret>) -> Self {
        self.options.password = Some(password.into());
        self
    }

    /// Chooses attach or link delivery.
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.options.delivery = Some(delivery);
        self
    }

    /// Asks for a receipt when a recipient downloads.
    pub fn download_receipt(mut self, on: bool) -> Self {
        self.options.download_receipt = on;
        self
    }

    /// Requires recipients to log in to download.
    pub fn require_login(mut self, on: bool) -> Self {
        self.options.require_login = on;
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.options.priority = priority;
        self
    }

    /// Replaces all options at once.
    pub fn options(mut self, options: SendOptions) -> Self {
        self.options = options;
        self
    }

    /// Receives progress events while the attachments move.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Lets `cancel` interrupt the send: the provider stops at its next safe point, removes
    /// what it created and fails with kind `Cancelled`; past the point of no return it waits
    /// for the service's answer instead.
    pub fn cancel_on(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }

    /// Checks everything (addresses, header values, attachment files, option values) and
    /// returns the message, or the first problem as an invalid-input error.
    ///
    /// A mailbox given more than once (the same address, its domain compared without regard
    /// to case or to Unicode and punycode spelling: [`Address::same_mailbox`]) is kept only
    /// where it first appears, in the order to, cc, bcc: each recipient gets the message once,
    /// and an address in both to and bcc stays visible as the to it was also given as.
    ///
    /// ```
    /// use securesend_core::SecureMessage;
    ///
    /// let msg = SecureMessage::builder()
    ///     .to("ada@example.com")
    ///     .cc("Ada <ada@EXAMPLE.com>")
    ///     .bcc("ada@example.com")
    ///     .bcc("grace@example.com")
    ///     .build()?;
    /// assert_eq!(msg.cc().len(), 0);
    /// assert_eq!(msg.bcc()[0].email(), "grace@example.com");
    /// # Ok::<(), securesend_core::Error>(())
    /// ```
    pub fn build(self) -> Result<SecureMessage> {
        if let Some(e) = self.first_error {
            return Err(e);
        }
        if self.to.is_empty() && self.cc.is_empty() && self.bcc.is_empty() {
            return Err(Error::invalid_input(
                "the message has no recipients; add at least one to, cc or bcc address",
            ));
        }
        check_header_text("subject", &self.subject)?;
        for (field, body) in [("text body", &self.text), ("HTML body", &self.html)] {
            if body.as_deref().is_some_and(|b| b.contains('\0')) {
                return Err(Error::invalid_input(format!(
                    "{field} contains a NUL character; remove it"
                )));
            }
        }
        if let Some(p) = &self.options.password {
            if p.is_empty() {
                return Err(Error::invalid_input(
                    "the file password is empty; give one or leave it out",
                ));
            }
        }
        match self.options.expires {
            Some(Expiry::Days(0)) => {
                return Err(Error::invalid_input("expiry must be at least one day"));
            }
            Some(Expiry::On(date)) if date <= OffsetDateTime::now_utc().date() => {
                return Err(Error::invalid_input(format!(
                    "expiry date {date} is not in the future; give a later date"
                )));
            }
            _ => {}
        }
        let attachments = self
            .attachments
            .into_iter()
            .map(CheckedFile::check)
            .collect::<Result<Vec<_>>>()?;
        let mut seen = std::collections::HashSet::new();
        let mut once = |list: Vec<Address>| -> Vec<Address> {
            list.into_iter()
                .filter(|a| {
                    let (user, domain) = a.mailbox_key();
                    seen.insert((user.to_owned(), domain))
                })
                .collect()
        };
        let (to, cc, bcc) = (once(self.to), once(self.cc), once(self.bcc));
        Ok(SecureMessage {
            from: self.from,
            to,
            cc,
            bcc,
            reply_to: self.reply_to,
            subject: self.subject,
            text: self.text,
            html: self.html,
            attachments,
            options: self.options,
            progress: self.progress,
            cancel: self.cancel,
            journal: None,
        })
    }
}

/// Refuses header values that could break a header line (CR, LF and other controls but tab),
/// that hold a bidirectional embedding, override or isolate control (U+202A–U+202E,
/// U+2066–U+2069: they make the text after them read as something else), or that exceed the
/// line limit.
pub fn check_header_text(field: &str, value: &str) -> Result<()> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Error::invalid_input(format!(
            "{field} contains a line break or control character; put it on one line"
        )));
    }
    if let Some(c) = crate::names::bidi_control(value) {
        return Err(Error::invalid_input(format!(
            "{field} contains {}, which reorders the text after it; remove it",
            crate::names::describe_invisible(c)
        )));
    }
    if value.chars().count() > MAX_SUBJECT_CHARS {
        return Err(Error::invalid_input(format!(
            "{field} is longer than {MAX_SUBJECT_CHARS} characters; shorten it"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> MessageBuilder {
        SecureMessage::builder().to("a@example.com")
    }

    #[test]
    fn rejects_each_bad_field_with_one_line() {
        let cases: Vec<(MessageBuilder, &str)> = vec![
            (SecureMessage::builder(), "no recipients"),
            (base().cc("bad"), "cc"),
            (base().bcc("x@y.z\r\nBcc: e@v.il"), "bcc"),
            (base().reply_to(""), "reply-to"),
            (base().subject("hi\r\nBcc: e@v.il"), "subject"),
            (base().subject("x".repeat(999)), "subject"),
            (
                base().subject("Invoice \u{202E}fdp.exe"),
                "subject contains the invisible character U+202E RIGHT-TO-LEFT OVERRIDE",
            ),
            (
                base().subject("a \u{2066}b"),
                "subject contains the invisible character U+2066 LEFT-TO-RIGHT ISOLATE",
            ),
            (
                base().cc("\"Eve \u{202D}\" <eve@example.com>"),
                "cc: display name",
            ),
            (base().to("jürgen@example.com"), "needs SMTPUTF8"),
            (
                base().attach(Attachment::from_bytes("inv\u{202E}fdp.exe", "x")),
                "U+202E RIGHT-TO-LEFT OVERRIDE",
            ),
            (base().text("a\0b"), "text body"),
            (base().password(""), "password"),
            (base().expires(Expiry::Days(0)), "expiry"),
            (
                base().expires(Expiry::On(time::macros::date!(2000 - 01 - 01))),
                "expiry date",
            ),
            (
                base().attach(Attachment::from_path("/surely/not/here.bin")),
                "does not exist",
            ),
            (
                base().attach(Attachment::from_bytes("a/b", "x")),
                "path separator",
            ),
        ];
        for (builder, needle) in cases {
            let err = builder.build().expect_err(needle);
            assert!(err.is_invalid_input(), "{needle}: {err}");
            let s = err.to_string();
            assert!(s.contains(needle), "{needle:?} not in {s:?}");
            assert!(!s.contains('\n'));
        }
    }

    #[test]
    fn accepts_full_message() {
        let m = base()
            .from("Me <me@example.com>")
            .cc("c@example.com")
            .bcc("b@example.com")
            .reply_to("r@example.com")
            .subject("Grüße\tand tabs")
            .text("t")
            .html("<p>h</p>")
            .expires(Expiry::Days(3))
            .priority(Priority::High)
            .build()
            .unwrap();
        assert_eq!(m.recipients().count(), 3);
        assert_eq!(m.options().priority, Priority::High);
    }

    #[test]
    fn repeated_recipients_are_kept_once_where_they_first_appear() {
        let m = SecureMessage::builder()
            .bcc("dup@bücher.example")
            .to("Ann <ann@example.com>")
            .to("bob@example.com")
            .to("ann@EXAMPLE.com")
            .cc("bob@example.com")
            .cc("cat@example.com")
            .cc("Dup <dup@xn--bcher-kva.example>")
            .bcc("ann@example.com")
            .bcc("cat@Example.Com")
            .bcc("eve@example.com")
            .build()
            .unwrap();
        let emails = |l: &[Address]| l.iter().map(|a| a.email().to_owned()).collect::<Vec<_>>();
        assert_eq!(emails(m.to()), ["ann@example.com", "bob@example.com"]);
        // The first spelling wins, with its display name.
        assert_eq!(m.to()[0].name(), Some("Ann"));
        // A to or cc given first beats an earlier-written bcc: the order is to, cc, bcc.
        assert_eq!(
            emails(m.cc()),
            ["cat@example.com", "dup@xn--bcher-kva.example"]
        );
        assert_eq!(emails(m.bcc()), ["eve@example.com"]);
        assert_eq!(m.recipients().count(), 5);
        // The user part is not folded: these are two mailboxes.
        let m = base().cc("A@example.com").build().unwrap();
        assert_eq!(m.recipients().count(), 2);
    }

    #[test]
    fn subjects_may_be_right_to_left_but_not_reordered() {
        let m = base()
            .subject("שלום \u{200F}report\u{200E} 2026")
            .build()
            .unwrap();
        assert!(m.subject().starts_with("שלום"));
    }

    #[test]
    fn expiry_parsing() {
        assert_eq!(Expiry::parse("3").unwrap(), Expiry::Days(3));
        assert_eq!(
            Expiry::parse("2026-12-31").unwrap(),
            Expiry::On(time::macros::date!(2026 - 12 - 31))
        );
        for bad in ["", "d", "-1d", "x7", "2026-13-40", "99999999999w"] {
            assert!(Expiry::parse(bad).unwrap_err().is_invalid_input(), "{bad}");
        }
        let today = time::macros::date!(2026 - 01 - 30);
        assert_eq!(
            Expiry::Days(2).date_from(today),
            time::macros::date!(2026 - 02 - 01)
        );
        assert_eq!(
            Expiry::On(time::macros::date!(2026 - 02 - 09)).days_from(today),
            10
        );
    }
}

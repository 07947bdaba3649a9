//! Streaming writer of RFC 5322 `multipart/mixed` messages.
//!
//! Headers are encoded by `lettre` (RFC 2047 words for non-ASCII text, RFC 2231 for file
//! names, folding). Bodies and attachments are base64 in 76-character lines, written as they
//! are read, so memory stays bounded whatever the attachment size.

use base64::Engine;
use lettre::message::header::{
    self, ContentDisposition, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
    Headers,
};
use lettre::message::{Mailbox, Mailboxes};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use securesend_core::{Address, Error, Priority, Result, SecureMessage};

/// Input bytes per base64 line (76 output characters).
const LINE_INPUT: usize = 57;
/// Input bytes encoded per step: whole lines only, so lines never straddle steps.
pub(crate) const BLOCK_INPUT: usize = LINE_INPUT * 1024;

fn mailbox(a: &Address) -> Result<Mailbox> {
    let email = a
        .email()
        .parse::<lettre::Address>()
        .map_err(|e| Error::invalid_input(format!("address {}: {e}", a.email())))?;
    Ok(Mailbox::new(a.name().map(str::to_owned), email))
}

fn mailboxes(list: &[Address]) -> Result<Mailboxes> {
    list.iter()
        .map(mailbox)
        .collect::<Result<Vec<_>>>()
        .map(Mailboxes::from_iter)
}

/// A random boundary. `=_` cannot occur in base64 text, so no part can contain it.
pub(crate) fn boundary() -> String {
    format!("=_securesend_{:032x}", rand::random::<u128>())
}

/// The message headers, ending with the blank line.
pub(crate) fn message_headers(
    msg: &SecureMessage,
    from: &Address,
    message_id: &str,
    boundary: &str,
) -> Result<String> {
    let mut h = Headers::new();
    h.set(header::Date::now());
    h.set(header::From::from(Mailboxes::from(mailbox(from)?)));
    if !msg.to().is_empty() {
        h.set(header::To::from(mailboxes(msg.to())?));
    }
    if !msg.cc().is_empty() {
        h.set(header::Cc::from(mailboxes(msg.cc())?));
    }
    if !msg.reply_to().is_empty() {
        h.set(header::ReplyTo::from(mailboxes(msg.reply_to())?));
    }
    // Bcc recipients are delivered to but never written into the message they receive.
    h.set(header::Subject::from(msg.subject().to_owned()));
    h.set(header::MessageId::from(format!(
        "<{message_id}@securesend.local>"
    )));
    h.set(header::MIME_VERSION_1_0);
    let priority = match msg.options().priority {
        Priority::High => Some("1 (Highest)"),
        Priority::Low => Some("5 (Lowest)"),
        Priority::Normal => None,
    };
    if let Some(p) = priority {
        h.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Priority"),
            p.to_owned(),
        ));
    }
    h.set(content_type(&format!(
        "multipart/mixed; boundary=\"{boundary}\""
    ))?);
    Ok(format!("{h}\r\n"))
}

fn content_type(value: &str) -> Result<ContentType> {
    ContentType::parse(value)
        .map_err(|_| Error::invalid_input(format!("content type {value:?} is not valid")))
}

/// Headers of one base64 part, ending with the blank line.
fn part_headers(content_type_value: &str, file_name: Option<&str>) -> Result<String> {
    let mut h = Headers::new();
    h.set(content_type(content_type_value)?);
    if let Some(name) = file_name {
        h.set(ContentDisposition::attachment(name));
    }
    h.set(ContentTransferEncoding::Base64);
    Ok(format!("{h}\r\n"))
}

/// Encodes bytes as base64 lines; input may arrive in pieces of any size.
#[derive(Default)]
pub(crate) struct Base64Lines {
    carry: Vec<u8>,
    out: Vec<u8>,
}

impl Base64Lines {
    /// Encodes every whole line `data` completes and returns the text to write.
    pub fn push(&mut self, mut data: &[u8]) -> &[u8] {
        self.out.clear();
        if !self.carry.is_empty() {
            let need = LINE_INPUT - self.carry.len();
            let take = need.min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() == LINE_INPUT {
                let line = std::mem::take(&mut self.carry);
                encode_lines(&line, &mut self.out);
            }
        }
        let whole = data.len() / LINE_INPUT * LINE_INPUT;
        encode_lines(&data[..whole], &mut self.out);
        self.carry.extend_from_slice(&data[whole..]);
        &self.out
    }

    /// Encodes what is left (the last, short line).
    pub fn finish(&mut self) -> &[u8] {
        self.out.clear();
        let rest = std::mem::take(&mut self.carry);
        encode_lines(&rest, &mut self.out);
        &self.out
    }
}

fn encode_lines(data: &[u8], out: &mut Vec<u8>) {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut line = [0u8; 76];
    for chunk in data.chunks(LINE_INPUT) {
        let n = engine
            .encode_slice(chunk, &mut line)
            .expect("76 bytes hold the base64 of 57");
        out.extend_from_slice(&line[..n]);
        out.extend_from_slice(b"\r\n");
    }
}

/// Writes the parts of a message between its headers and its closing boundary.
pub(crate) struct PartWriter<W> {
    out: W,
    boundary: String,
}

impl<W: AsyncWrite + Unpin> PartWriter<W> {
    pub fn new(out: W, boundary: String) -> Self {
        PartWriter { out, boundary }
    }

    pub async fn raw(&mut self, data: &[u8]) -> Result<()> {
        self.out
            .write_all(data)
            .await
            .map_err(|e| Error::io("writing the message", e))
    }

    /// The text and/or HTML bodies: one part, or `multipart/alternative` when both are given.
    pub async fn bodies(&mut self, text: Option<&str>, html: Option<&str>) -> Result<()> {
        let bodies: Vec<(&str, &str)> = [
            ("text/plain; charset=utf-8", text),
            ("text/html; charset=utf-8", html),
        ]
        .into_iter()
        .filter_map(|(t, b)| b.map(|b| (t, b)))
        .collect();
        self.raw(format!("--{}\r\n", self.boundary).as_bytes())
            .await?;
        match bodies.as_slice() {
            [] => {
                self.base64_part("text/plain; charset=utf-8", None, b"")
                    .await
            }
            [(t, b)] => self.base64_part(t, None, b.as_bytes()).await,
            _ => {
                let inner = boundary();
                let head =
                    part_headers_plain(&format!("multipart/alternative; boundary=\"{inner}\""))?;
                self.raw(head.as_bytes()).await?;
                for (t, b) in &bodies {
                    self.raw(format!("--{inner}\r\n").as_bytes()).await?;
                    self.base64_part(t, None, b.as_bytes()).await?;
                }
                self.raw(format!("--{inner}--\r\n").as_bytes()).await
            }
        }
    }

    async fn base64_part(&mut self, ctype: &str, name: Option<&str>, data: &[u8]) -> Result<()> {
        self.raw(part_headers(ctype, name)?.as_bytes()).await?;
        let mut enc = Base64Lines::default();
        let text = enc.push(data).to_vec();
        self.raw(&text).await?;
        let rest = enc.finish().to_vec();
        self.raw(&rest).await
    }

    /// Starts an attachment part; feed its bytes with [`PartWriter::attachment_bytes`].
    pub async fn start_attachment(&mut self, ctype: &str, name: &str) -> Result<Base64Lines> {
        self.raw(format!("--{}\r\n", self.boundary).as_bytes())
            .await?;
        self.raw(part_headers(ctype, Some(name))?.as_bytes())
            .await?;
        Ok(Base64Lines::default())
    }

    pub async fn attachment_bytes(&mut self, enc: &mut Base64Lines, data: &[u8]) -> Result<()> {
        let text = enc.push(data);
        self.out
            .write_all(text)
            .await
            .map_err(|e| Error::io("writing the message", e))
    }

    pub async fn end_attachment(&mut self, mut enc: Base64Lines) -> Result<()> {
        let text = enc.finish();
        self.out
            .write_all(text)
            .await
            .map_err(|e| Error::io("writing the message", e))
    }

    /// Writes the closing boundary and returns the writer.
    pub async fn close(mut self) -> Result<W> {
        self.raw(format!("--{}--\r\n", self.boundary).as_bytes())
            .await?;
        self.out
            .flush()
            .await
            .map_err(|e| Error::io("writing the message", e))?;
        Ok(self.out)
    }
}

fn part_headers_plain(ctype: &str) -> Result<String> {
    let mut h = Headers::new();
    h.set(content_type(ctype)?);
    Ok(format!("{h}\r\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lines_match_one_shot_encoding_for_any_split() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        let expected = {
            let mut v = Vec::new();
            encode_lines(&data, &mut v);
            v
        };
        for split in [1, 2, 56, 57, 58, 100, 999, 1000] {
            let mut enc = Base64Lines::default();
            let mut got = Vec::new();
            for piece in data.chunks(split) {
                got.extend_from_slice(enc.push(piece));
            }
            got.extend_from_slice(enc.finish());
            assert_eq!(got, expected, "split {split}");
        }
        assert!(expected.split(|&b| b == b'\n').all(|l| l.len() <= 77));
    }

    #[test]
    fn headers_encode_unicode_and_skip_bcc() {
        let msg = SecureMessage::builder()
            .to("Zoë <zoe@example.com>")
            .bcc("hidden@example.com")
            .subject("Grüße – report")
            .build()
            .unwrap();
        let from = Address::parse("securesend@localhost").unwrap();
        let h = message_headers(&msg, &from, "id1", "B").unwrap();
        assert!(h.is_ascii(), "{h}");
        assert!(!h.contains("hidden@example.com"));
        assert!(h.ends_with("\r\n\r\n"));
        assert!(h.contains("boundary=\"B\""), "{h}");
    }
}

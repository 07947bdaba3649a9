//! One method per call of EGroupware's mail REST API (`groupdav.php/mail…`).

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use securesend_core::http::{
    Call, HttpClient, Repeat, read_bytes_capped, read_error_body, read_json_capped,
};
use securesend_core::{Checksums, Result};
use url::Url;

use crate::api::{Identity, Stored, Success, parse_identities};
use crate::auth::Credentials;
use crate::error::{Step, answer_error, protocol};
use crate::stream::Outgoing;
use crate::token::UploadToken;

/// The header carrying securesend's id of a message, which EGroupware ignores: it lets
/// proxies' and servers' logs be matched with the receipt (the sandbox records the message
/// under it).
pub const MESSAGE_ID_HEADER: &str = "x-securesend-message-id";

/// The largest JSON answer read from the mail API.
const ANSWER_CAP: usize = 1 << 20;

/// What a mail POST was answered.
#[derive(Debug)]
pub(crate) struct Posted {
    /// The server's `warning`.
    pub warning: Option<String>,
    /// The answer was 200 but its body could not be read or parsed.
    pub unreadable_answer: bool,
}

/// The HTTP side of one provider instance: client, credentials and the two endpoints.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub(crate) http: HttpClient,
    pub(crate) creds: Credentials,
    /// `…/groupdav.php`.
    groupdav: Url,
    /// `…/webdav.php`.
    pub(crate) webdav: Url,
    user_prefix: bool,
    no_location: bool,
}

impl Client {
    pub(crate) fn new(
        http: HttpClient,
        creds: Credentials,
        root: &Url,
        user_prefix: bool,
        no_location: bool,
    ) -> Client {
        let endpoint = |name: &str| {
            let mut u = root.clone();
            u.path_segments_mut()
                .expect("a checked base URL has a path")
                .pop_if_empty()
                .push(name);
            u
        };
        Client {
            groupdav: endpoint("groupdav.php"),
            webdav: endpoint("webdav.php"),
            http,
            creds,
            user_prefix,
            no_location,
        }
    }

    /// `groupdav.php[/<user>]/<segments…>`, each segment percent-encoded.
    fn mail_url(&self, segments: &[&str]) -> Url {
        let mut url = self.groupdav.clone();
        {
            let mut path = url.path_segments_mut().expect("an http URL has a path");
            if self.user_prefix {
                path.push(&self.creds.username);
            }
            path.extend(segments);
        }
        url
    }

    /// The URL of `GET /mail` without credentials, for reachability checks.
    pub(crate) fn identities_url(&self) -> Url {
        self.mail_url(&["mail"])
    }

    /// `GET /mail`: the identities, or `None` when the server cannot list them.
    pub(crate) async fn list_identities(&self) -> Result<Option<Vec<Identity>>> {
        let url = self.mail_url(&["mail"]);
        let resp = self
            .http
            .send(Call::api(Repeat::Safe), |c| {
                self.creds
                    .apply(c.get(url.clone()))
                    .header(header::ACCEPT, "application/json")
            })
            .await?;
        let status = resp.status();
        if status != StatusCode::OK {
            let headers = resp.headers().clone();
            let body = read_error_body(resp).await;
            return Err(answer_error(
                Step::ListIdentities,
                status,
                &headers,
                &body,
                "the identities",
            ));
        }
        let value: serde_json::Value = read_json_capped(resp, ANSWER_CAP).await?;
        Ok(parse_identities(&value))
    }

    /// `POST /mail[/<id>]` or `POST /mail[/<id>]/compose` with a JSON body, sent once.
    pub(crate) async fn post_mail(
        &self,
        identity: Option<u64>,
        compose: bool,
        body: Bytes,
        message_id: &str,
        attachments: bool,
    ) -> Result<Posted> {
        let id = identity.map(|i| i.to_string());
        let mut segments = vec!["mail"];
        segments.extend(id.as_deref());
        if compose {
            segments.push("compose");
        }
        let url = self.mail_url(&segments);
        let step = if compose {
            Step::Compose { attachments }
        } else {
            Step::Send { attachments }
        };
        let message_id = HeaderValue::from_str(message_id)
            .map_err(|_| protocol(step, "the message id is not a valid header value"))?;
        let resp = self
            .http
            .send(Call::api(Repeat::Never), |c| {
                self.creds
                    .apply(c.post(url.clone()))
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::ACCEPT, "application/json")
                    .header(MESSAGE_ID_HEADER, message_id.clone())
                    .body(body.clone())
            })
            .await?;
        let status = resp.status();
        if status != StatusCode::OK {
            let headers = resp.headers().clone();
            let body = read_error_body(resp).await;
            return Err(answer_error(step, status, &headers, &body, "the message"));
        }
        // The 200 is the service's word that it acted; an answer cut short or garbled after
        // it does not undo that.
        Ok(match read_bytes_capped(resp, ANSWER_CAP).await {
            Ok(bytes) => match serde_json::from_slice::<Success>(&bytes) {
                Ok(s) => Posted {
                    warning: s.warning,
                    unreadable_answer: false,
                },
                Err(_) => Posted {
                    warning: None,
                    unreadable_answer: true,
                },
            },
            Err(_) => Posted {
                warning: None,
                unreadable_answer: true,
            },
        })
    }

    /// `POST /mail/attachments/<name>` with the file as the raw body; returns the token and
    /// the checksums computed while sending.
    pub(crate) async fn upload_attachment(
        &self,
        name: &str,
        content_type: &str,
        mut outgoing: Outgoing,
    ) -> Result<(UploadToken, Checksums)> {
        let url = self.mail_url(&["mail", "attachments", name]);
        let len = outgoing.len();
        let no_location = self.no_location;
        let sent = self
            .http
            .send(Call::upload(Repeat::Never, len), |c| {
                let mut r = self
                    .creds
                    .apply(c.post(url.clone()))
                    .header(header::CONTENT_TYPE, content_type)
                    .header(header::CONTENT_LENGTH, len)
                    .header(header::ACCEPT, "application/json");
                if no_location {
                    r = r.header("x-no-location", "true");
                }
                r.body(outgoing.take_body())
            })
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(outgoing.failure().unwrap_or(e)),
        };
        let status = resp.status();
        // 201 + Location today; 200 with X-No-Location; 302 + body from servers before
        // November 2023. The token is always read from the JSON body.
        if !matches!(status.as_u16(), 200 | 201 | 302) {
            let headers = resp.headers().clone();
            let body = read_error_body(resp).await;
            if let Some(e) = outgoing.failure() {
                return Err(e);
            }
            return Err(answer_error(
                Step::UploadAttachment,
                status,
                &headers,
                &body,
                name,
            ));
        }
        let checksums = outgoing.finish()?;
        let stored: Stored = read_json_capped(resp, ANSWER_CAP).await?;
        let location = stored.location.ok_or_else(|| {
            protocol(
                Step::UploadAttachment,
                "EGroupware stored the attachment but named no location for it",
            )
        })?;
        Ok((UploadToken::parse(&location)?, checksums))
    }

    /// `GET /mail/attachments/<token>`: whether the uploaded file is still there. Only the
    /// status is read.
    pub(crate) async fn attachment_present(&self, token: &UploadToken) -> Result<bool> {
        let mut url = self.groupdav.clone();
        url.path_segments_mut()
            .expect("an http URL has a path")
            .extend(["mail", "attachments", token.token()]);
        let resp = self
            .http
            .send(Call::download(Repeat::Safe), |c| {
                self.creds.apply(c.get(url.clone()))
            })
            .await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            status => {
                let headers = resp.headers().clone();
                let body = read_error_body(resp).await;
                Err(answer_error(
                    Step::ProbeAttachment,
                    status,
                    &headers,
                    &body,
                    token.token(),
                ))
            }
        }
    }
}

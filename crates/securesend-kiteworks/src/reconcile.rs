//! Taking over a send another process started: what its checkpoint's draft has become decides
//! whether to continue it, start afresh, or report it sent.
//!
//! - The earlier attempt stopped before its point of no return: its draft, still a draft, is
//!   continued (only the attachments the checkpoint does not list are uploaded); a draft that
//!   is gone (that attempt failed and deleted it, or someone did) means starting afresh; a
//!   message found sent is never sent again, its receipt is returned.
//! - It passed its point of no return: the message is never sent afresh. A draft is sent
//!   (that `PUT` never reached the service, or the service did not act on it); a message that
//!   left is a success; anything else is reported as may have been sent, naming the message.

use securesend_core::{Error, ErrorKind, Result, SendJournal, clean_service_text};

use crate::Inner;
use crate::PROVIDER;
use crate::api::Mail;
use crate::checkpoint::Checkpoint;
use crate::send::status_of;

/// Where a send begins.
pub(crate) enum Start {
    /// Nothing of an earlier attempt is reused.
    Afresh,
    /// The earlier attempt's draft, still a draft, with what is stored on it.
    Continue {
        checkpoint: Checkpoint,
        /// Whether that attempt passed its point of no return.
        committed: bool,
    },
    /// The message left already: `mail` as the service shows it.
    Sent { checkpoint: Checkpoint, mail: Mail },
}

fn maybe_sent(kind: ErrorKind, message: String) -> Error {
    Error::new(kind, message)
        .with_provider(PROVIDER)
        .with_operation("send")
        .maybe_sent()
}

/// Whether the service shows the message as a draft, not deleted.
fn is_draft(mail: &Mail) -> bool {
    mail.deleted != Some(true)
        && mail
            .status
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("draft"))
}

fn shown_state(mail: &Mail) -> String {
    if mail.deleted == Some(true) {
        return "deleted".to_owned();
    }
    mail.status
        .as_deref()
        .map(clean_service_text)
        .unwrap_or_default()
}

impl Inner {
    /// Where this send begins, by its journal: afresh when no earlier attempt left anything
    /// usable, else by what the service says of that attempt's draft.
    pub(crate) async fn start_of(&self, journal: &dyn SendJournal) -> Result<Start> {
        let committed = journal.committed_before();
        let checkpoint = journal.resume().and_then(|v| Checkpoint::read(&v));
        let Some(checkpoint) = checkpoint else {
            if committed {
                return Err(maybe_sent(
                    ErrorKind::Protocol,
                    "an earlier attempt of this send reached the point of no return but left no record of its Kiteworks message; look for it among the sent messages in Kiteworks before sending again".to_owned(),
                ));
            }
            return Ok(Start::Afresh);
        };
        let draft = checkpoint.draft.clone();
        let state = self.api.mail(&draft).await;
        match state {
            Ok(mail) if status_of(&mail).is_some() && mail.deleted != Some(true) => {
                tracing::info!(
                    provider = PROVIDER,
                    "message {draft} of an earlier attempt was sent already; not sending it again"
                );
                Ok(Start::Sent { checkpoint, mail })
            }
            Ok(mail) if is_draft(&mail) => Ok(Start::Continue {
                checkpoint,
                committed,
            }),
            Ok(mail) if committed => Err(maybe_sent(
                ErrorKind::Protocol,
                format!(
                    "message {draft} of an earlier attempt, which may have sent it, is in state \"{}\"; look for it among the sent messages in Kiteworks before sending again",
                    shown_state(&mail)
                ),
            )),
            Ok(mail) => {
                // Never sent by us (that attempt stopped before the send): it is not ours to
                // continue.
                tracing::info!(
                    provider = PROVIDER,
                    "message {draft} of an earlier attempt is in state \"{}\"; starting afresh",
                    shown_state(&mail)
                );
                Ok(Start::Afresh)
            }
            Err(e) if committed => Err(maybe_sent(
                e.kind(),
                format!(
                    "message {draft} of an earlier attempt, which may have sent it, cannot be read ({}); look for it among the sent messages in Kiteworks before sending again",
                    e.message()
                ),
            )),
            Err(e) if e.is_not_found() => {
                // A failed attempt deletes its draft; a later one finds it gone and begins anew.
                tracing::info!(
                    provider = PROVIDER,
                    "the draft {draft} of an earlier attempt is gone; starting afresh"
                );
                Ok(Start::Afresh)
            }
            Err(e) => {
                let message = format!(
                    "cannot learn what became of the draft {draft} of an earlier attempt ({}); nothing was sent, try again",
                    e.message()
                );
                Err(e
                    .with_message(message)
                    .or_provider(PROVIDER)
                    .or_operation("send")
                    .not_sent())
            }
        }
    }
}

//! `securesend inbox`.

use std::fmt::Write as _;

use securesend::{InboxQuery, Provider};
use serde_json::json;

use super::{Failure, Outcome, human_size};
use crate::args::InboxArgs;

pub async fn run(provider: &Provider, args: InboxArgs) -> Result<Outcome, Failure> {
    let mut query = InboxQuery::all();
    if let Some(k) = args.keyword {
        query = query.with_keyword(k);
    }
    if let Some(s) = args.sort {
        query = query.sorted_by(s, args.desc);
    }
    if let Some(l) = args.limit {
        query = query.with_limit(l);
    }
    let messages = provider.inbox(query).await?;
    let mut text = String::new();
    if messages.is_empty() {
        text.push_str("the inbox is empty\n");
    }
    for m in &messages {
        let _ = writeln!(
            text,
            "{}  {}  {}  {}",
            m.id,
            m.received.map(|t| t.date().to_string()).unwrap_or_default(),
            m.from.as_deref().unwrap_or("-"),
            m.subject.as_deref().unwrap_or("(no subject)")
        );
        for f in &m.files {
            let size = f.size.map(human_size).unwrap_or_else(|| "?".to_owned());
            let _ = writeln!(text, "    {}  {}  ({size})", f.id, f.name);
        }
    }
    Ok(Outcome::ok(
        json!({ "provider": provider.name(), "messages": messages }),
        text,
    ))
}

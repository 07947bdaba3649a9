//! `securesend ls` and `securesend mkdir`.

use std::fmt::Write as _;

use securesend::{EntryKind, ListRequest, Provider};
use serde_json::json;

use super::{Failure, Outcome, human_size};
use crate::args::{LsArgs, MkdirArgs};

pub async fn ls(provider: &Provider, args: LsArgs) -> Result<Outcome, Failure> {
    let mut req = match &args.location {
        Some(l) => ListRequest::at(l.clone()),
        None => ListRequest::top(),
    };
    if let Some(n) = args.page_size {
        req = req.page_size(n);
    }
    let entries = provider.list(req).await?;
    let mut text = String::new();
    if entries.is_empty() {
        text.push_str("(empty)\n");
    }
    let width = entries
        .iter()
        .map(|e| e.id.chars().count())
        .max()
        .unwrap_or(0);
    for e in &entries {
        let (kind, size) = match e.kind {
            EntryKind::Folder => ("dir ", String::new()),
            EntryKind::File => ("file", e.size.map(human_size).unwrap_or_default()),
        };
        let modified = e
            .modified
            .map(|t| format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute()))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "{kind}  {size:>10}  {modified:16}  {:width$}  {}",
            e.id, e.name
        );
    }
    Ok(Outcome::ok(
        json!({ "provider": provider.name(), "location": args.location, "entries": entries }),
        text,
    ))
}

pub async fn mkdir(provider: &Provider, args: MkdirArgs) -> Result<Outcome, Failure> {
    let entry = provider.create_folder(&args.path, args.parents).await?;
    let text = format!("folder {} (id {})\n", args.path, entry.id);
    Ok(Outcome::done(
        format!("folder {} was created", args.path),
        json!({ "provider": provider.name(), "folder": entry }),
        text,
    ))
}

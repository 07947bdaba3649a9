//! `securesend upload`.

use std::fmt::Write as _;

use securesend::{Attachment, Provider, UploadRequest};
use serde_json::json;

use super::{Failure, Outcome, human_size};
use crate::args::UploadArgs;
use crate::progress::Bars;

pub async fn run(
    provider: &Provider,
    args: UploadArgs,
    bars: Option<&Bars>,
) -> Result<Outcome, Failure> {
    // Every file is checked before the first one is uploaded.
    let mut requests = Vec::new();
    for (i, path) in args.files.into_iter().enumerate() {
        let mut b = UploadRequest::builder(Attachment::from_path(path))
            .create_parents(args.parents)
            .overwrite(args.overwrite)
            .resume(args.resume);
        if let Some(folder) = &args.to_folder {
            b = b.folder(folder.clone());
        }
        if let Some(bars) = bars {
            b = b.progress(bars.callback(i));
        }
        let req = b.build()?;
        provider
            .capabilities()
            .check_upload(provider.name(), &req)?;
        requests.push(req);
    }
    let mut files = Vec::new();
    let mut text = String::new();
    for req in requests {
        match provider.upload(req).await {
            Ok(file) => {
                let _ = writeln!(
                    text,
                    "uploaded {} ({}) as id {} sha256 {}",
                    file.name,
                    human_size(file.size.unwrap_or(0)),
                    file.id,
                    file.checksums.sha256.as_deref().unwrap_or("unknown")
                );
                files.push(file);
            }
            Err(error) => {
                return Err(Failure {
                    error,
                    completed: Some(json!({ "provider": provider.name(), "files": files })),
                });
            }
        }
    }
    Ok(Outcome::ok(
        json!({ "provider": provider.name(), "files": files }),
        text,
    ))
}

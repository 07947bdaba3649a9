//! `securesend upload`.

use securesend::{Attachment, Cancel, Provider, UploadRequest};
use serde_json::json;

use super::batch::Batch;
use super::{Failure, Outcome, human_size};
use crate::args::UploadArgs;
use crate::progress::Bars;

pub async fn run(
    provider: &Provider,
    args: UploadArgs,
    bars: Option<&Bars>,
    cancel: &Cancel,
) -> Result<Outcome, Failure> {
    // Every file is checked before the first one is uploaded.
    let mut requests = Vec::new();
    for (i, path) in args.files.into_iter().enumerate() {
        let shown = path.display().to_string();
        let mut b = UploadRequest::builder(Attachment::from_path(path))
            .create_parents(args.parents)
            .overwrite(args.overwrite)
            .resume(args.resume)
            .cancel_on(cancel.clone());
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
        requests.push((shown, req));
    }
    let mut batch = Batch::new("uploaded", args.keep_going);
    for (shown, req) in requests {
        if !batch.goes_on(cancel) {
            batch.skipped(shown);
            continue;
        }
        match provider.upload(req).await {
            Ok(file) => {
                let line = format!(
                    "uploaded {} ({}) as id {} sha256 {}",
                    file.name,
                    human_size(file.size.unwrap_or(0)),
                    file.id,
                    file.checksums.sha256.as_deref().unwrap_or("unknown")
                );
                batch.done(json!(file), line);
            }
            Err(error) => {
                let error = if error.is_not_found()
                    && !args.parents
                    && args.to_folder.is_some()
                    && !error.message().contains("--parents")
                {
                    let hint = format!("{}; add --parents to create it", error.message());
                    error.with_message(hint)
                } else {
                    error
                };
                batch.failed(shown, error);
            }
        }
    }
    batch.finish(provider.name())
}

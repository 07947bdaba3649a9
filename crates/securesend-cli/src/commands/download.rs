//! `securesend download`.

use std::fmt::Write as _;

use securesend::{DownloadRequest, Error, Provider};
use serde_json::json;

use super::{Failure, Outcome, human_size};
use crate::args::DownloadArgs;
use crate::progress::Bars;

pub async fn run(
    provider: &Provider,
    args: DownloadArgs,
    bars: Option<&Bars>,
) -> Result<Outcome, Failure> {
    if !args.output.is_dir() {
        return Err(Error::invalid_input(format!(
            "-o {}: not an existing directory; create it first",
            args.output.display()
        ))
        .into());
    }
    let mut requests = Vec::new();
    for (i, id) in args.ids.iter().enumerate() {
        let mut req = DownloadRequest::new(id.clone());
        if let Some(bars) = bars {
            req = req.with_progress(bars.callback(i));
        }
        provider
            .capabilities()
            .check_download(provider.name(), &req)?;
        requests.push(req);
    }
    let mut saved = Vec::new();
    let mut text = String::new();
    for req in requests {
        let id = req.id().to_owned();
        let result = async {
            let download = provider.download(req).await?;
            if args.overwrite {
                download.save_replacing(&args.output).await
            } else {
                download.save_to(&args.output).await.map_err(|e| {
                    if e.is_conflict() {
                        Error::invalid_input(format!(
                            "{}; pass --overwrite to replace it",
                            e.message()
                        ))
                    } else {
                        e
                    }
                })
            }
        }
        .await;
        match result {
            Ok(file) => {
                // No digest is computed when the profile switches integrity checks off.
                let sha256 = file.checksums.sha256.clone();
                let _ = writeln!(
                    text,
                    "saved {} to {} ({}{})",
                    id,
                    file.path.display(),
                    human_size(file.size),
                    sha256
                        .as_deref()
                        .map(|h| format!(", sha256 {h}"))
                        .unwrap_or_default()
                );
                saved.push(json!({
                    "id": id,
                    "path": file.path,
                    "size": file.size,
                    "sha256": sha256,
                }));
            }
            Err(error) => {
                return Err(Failure {
                    error,
                    completed: Some(json!({ "provider": provider.name(), "files": saved })),
                });
            }
        }
    }
    Ok(Outcome::ok(
        json!({ "provider": provider.name(), "files": saved }),
        text,
    ))
}

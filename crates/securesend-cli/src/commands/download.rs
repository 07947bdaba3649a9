//! `securesend download`.

use std::path::{Path, PathBuf};

use securesend::{Cancel, Download, DownloadRequest, Error, Provider, SavedFile};
use serde_json::json;

use super::batch::Batch;
use super::{Failure, Outcome, human_size};
use crate::args::DownloadArgs;
use crate::progress::Bars;

/// Where `-o` puts the files.
enum Target {
    /// A directory (the files go inside under their sanitised names) or, for one id, a file.
    Path(PathBuf),
    /// Standard output.
    Stdout,
}

impl Target {
    fn of(args: &DownloadArgs, json: bool) -> Result<Target, Error> {
        let out = &args.output;
        let one = args.ids.len() == 1;
        if out == Path::new("-") {
            if !one {
                return Err(Error::invalid_input(
                    "-o - writes one file to standard output; give one id, or a directory for several",
                ));
            }
            if json {
                return Err(Error::invalid_input(
                    "-o - and --json would both write to standard output; drop one of them",
                ));
            }
            return Ok(Target::Stdout);
        }
        if out.is_dir() {
            return Ok(Target::Path(out.clone()));
        }
        let shown = out.display();
        if !one {
            return Err(Error::invalid_input(format!(
                "-o {shown}: not an existing directory; with several ids give a directory (create it first)"
            )));
        }
        if out.as_os_str().to_string_lossy().ends_with('/') {
            return Err(Error::invalid_input(format!(
                "-o {shown}: the directory does not exist; create it first"
            )));
        }
        match out.parent() {
            Some(p) if !p.as_os_str().is_empty() && !p.is_dir() => {
                Err(Error::invalid_input(format!(
                    "-o {shown}: directory {} does not exist; create it first",
                    p.display()
                )))
            }
            _ => Ok(Target::Path(out.clone())),
        }
    }
}

pub async fn run(
    provider: &Provider,
    args: DownloadArgs,
    bars: Option<&Bars>,
    cancel: &Cancel,
    json: bool,
) -> Result<Outcome, Failure> {
    let target = Target::of(&args, json)?;
    let mut requests = Vec::new();
    for (i, id) in args.ids.iter().enumerate() {
        let mut req = DownloadRequest::new(id.clone());
        if let (Some(bars), false) = (bars, matches!(target, Target::Stdout)) {
            req = req.with_progress(bars.callback(i));
        }
        provider
            .capabilities()
            .check_download(provider.name(), &req)?;
        requests.push(req);
    }
    let place = match &target {
        Target::Path(p) => p,
        Target::Stdout => match requests.pop() {
            Some(req) => return to_stdout(provider, req, cancel).await,
            None => return Err(Error::invalid_input("give the id of the file to download").into()),
        },
    };
    let mut batch = Batch::new("saved", args.keep_going);
    for req in requests {
        let id = req.id().to_owned();
        if !batch.goes_on(cancel) {
            batch.skipped(id);
            continue;
        }
        let work = async {
            let download = provider.download(req).await?;
            save(download, place, args.overwrite).await
        };
        // Dropping the save removes its temporary file: an interrupted download leaves nothing.
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(Error::cancelled(format!(
                "interrupted while downloading {id}; its partial file was removed"
            ))),
            r = work => r,
        };
        match result {
            Ok(file) => {
                // No digest is computed when the profile switches integrity checks off.
                let sha256 = file.checksums.sha256.clone();
                let line = format!(
                    "saved {} to {} ({}{})",
                    id,
                    file.path.display(),
                    human_size(file.size),
                    sha256
                        .as_deref()
                        .map(|h| format!(", sha256 {h}"))
                        .unwrap_or_default()
                );
                let record = json!({
                    "id": id,
                    "path": file.path,
                    "size": file.size,
                    "sha256": sha256,
                });
                batch.done(record, line);
            }
            Err(error) => batch.failed(id, error),
        }
    }
    batch.finish(provider.name())
}

async fn save(download: Download, path: &Path, overwrite: bool) -> Result<SavedFile, Error> {
    if overwrite {
        return download.save_replacing(path).await;
    }
    download.save_to(path).await.map_err(|e| {
        if e.is_conflict() {
            // The caller's choice of place, not the service's: bad input, exit 2.
            Error::invalid_input(format!("{}; pass --overwrite to replace it", e.message()))
        } else {
            e
        }
    })
}

/// `-o -`: the bytes go to standard output as they arrive, verified on the way.
async fn to_stdout(
    provider: &Provider,
    req: DownloadRequest,
    cancel: &Cancel,
) -> Result<Outcome, Failure> {
    let id = req.id().to_owned();
    let work = async {
        let download = provider.download(req).await?;
        let mut out = tokio::io::stdout();
        download.write_to(&mut out).await
    };
    let written = tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Error::cancelled(format!(
            "interrupted while writing {id} to standard output; what was written is incomplete"
        ))),
        r = work => r,
    }?;
    let json = json!({ "provider": provider.name(), "id": id, "size": written.size, "sha256": written.checksums.sha256 });
    Ok(Outcome::done(
        format!("{id} was written to standard output"),
        json,
        String::new(),
    ))
}

//! Bad input: every case is refused with a one-line error and leaves no trace on the service.

use std::future::Future;
use std::pin::Pin;

use securesend::{
    Attachment, Delivery, DownloadRequest, Error, ErrorKind, Expiry, Priority, Result,
    SecureMessage, UploadRequest,
};

use crate::{Target, TestFiles};

type Case<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;
/// An option: its name, whether the provider has it, and a message using it.
type OptionCase = (&'static str, bool, fn() -> Result<SecureMessage>);

fn message_case<'a>(
    target: &'a Target,
    build: impl FnOnce() -> Result<SecureMessage> + Send + 'a,
) -> Case<'a> {
    Box::pin(async move {
        let msg = build()?;
        target.provider.send(msg).await.map(|_| ())
    })
}

fn upload_case<'a>(
    target: &'a Target,
    build: impl FnOnce() -> Result<UploadRequest> + Send + 'a,
) -> Case<'a> {
    Box::pin(async move {
        let req = build()?;
        target.provider.upload(req).await.map(|_| ())
    })
}

fn to_one() -> securesend::MessageBuilder {
    SecureMessage::builder()
        .to("ada@example.com")
        .subject("bad input")
}

/// Runs the bad-input matrix: each case must fail with the expected kind, say so on one line,
/// and leave the service's records unchanged.
pub async fn bad_input_matrix(target: &Target) {
    let caps = target.provider.capabilities().clone();
    let dir = TestFiles::new();
    let good = dir.create("good.txt", 10);
    let empty = dir.create("empty.txt", 0);
    let sub = dir.subdir("a-directory");
    let missing = dir.path().join("missing.pdf");

    let mut cases: Vec<(&str, ErrorKind, Case<'_>)> = vec![
        (
            "no recipients",
            ErrorKind::InvalidInput,
            message_case(target, || SecureMessage::builder().subject("x").build()),
        ),
        (
            "malformed address",
            ErrorKind::InvalidInput,
            message_case(target, || {
                SecureMessage::builder().to("not-an-address").build()
            }),
        ),
        (
            "CR/LF in address",
            ErrorKind::InvalidInput,
            message_case(target, || {
                SecureMessage::builder()
                    .to("a@example.com\r\nBcc: eve@example.com")
                    .build()
            }),
        ),
        (
            "CR/LF in subject",
            ErrorKind::InvalidInput,
            message_case(target, || {
                to_one().subject("hi\r\nBcc: eve@example.com").build()
            }),
        ),
        (
            "missing file",
            ErrorKind::InvalidInput,
            message_case(target, || {
                to_one().attach(Attachment::from_path(&missing)).build()
            }),
        ),
        (
            "directory as file",
            ErrorKind::InvalidInput,
            message_case(target, || {
                to_one().attach(Attachment::from_path(&sub)).build()
            }),
        ),
        (
            "slash in name",
            ErrorKind::InvalidInput,
            message_case(target, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("a/b.txt"))
                    .build()
            }),
        ),
        (
            "dot-dot name",
            ErrorKind::InvalidInput,
            message_case(target, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name(".."))
                    .build()
            }),
        ),
        (
            "NUL in name",
            ErrorKind::InvalidInput,
            message_case(target, || {
                to_one()
                    .attach(Attachment::from_path(&good).with_name("a\0b.txt"))
                    .build()
            }),
        ),
        (
            "CR/LF in content type",
            ErrorKind::InvalidInput,
            message_case(target, || {
                to_one()
                    .attach(
                        Attachment::from_path(&good).with_content_type("text/plain\r\nX-Evil: 1"),
                    )
                    .build()
            }),
        ),
        (
            "zero-day expiry",
            ErrorKind::InvalidInput,
            message_case(target, || to_one().expires(Expiry::Days(0)).build()),
        ),
        (
            "upload of missing file",
            ErrorKind::InvalidInput,
            upload_case(target, || {
                UploadRequest::builder(Attachment::from_path(&missing)).build()
            }),
        ),
        (
            "upload of directory",
            ErrorKind::InvalidInput,
            upload_case(target, || {
                UploadRequest::builder(Attachment::from_path(&sub)).build()
            }),
        ),
        (
            "upload to ../ folder",
            ErrorKind::InvalidInput,
            upload_case(target, || {
                UploadRequest::builder(Attachment::from_path(&good))
                    .folder("../up")
                    .build()
            }),
        ),
        (
            "download of blank id",
            ErrorKind::InvalidInput,
            Box::pin(async {
                target
                    .provider
                    .download(DownloadRequest::new(" "))
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "download of id with newline",
            ErrorKind::InvalidInput,
            Box::pin(async {
                target
                    .provider
                    .download(DownloadRequest::new("a\nb"))
                    .await
                    .map(|_| ())
            }),
        ),
    ];

    if !caps.empty_files {
        // A provider that cannot send at all refuses the message for that first.
        let kind = if caps.send {
            ErrorKind::InvalidInput
        } else {
            ErrorKind::Unsupported
        };
        cases.push((
            "zero-byte file",
            kind,
            message_case(target, || {
                to_one().attach(Attachment::from_path(&empty)).build()
            }),
        ));
    }
    if let Some(max) = caps.max_file_size {
        let big = dir.create("too-big.bin", max + 1);
        cases.push((
            "oversize file",
            ErrorKind::InvalidInput,
            upload_case(target, move || {
                UploadRequest::builder(Attachment::from_path(&big)).build()
            }),
        ));
    }
    // Options the provider lacks are refused as unsupported, also before any request.
    let unsupported: Vec<OptionCase> = vec![
        ("cc", caps.cc, || to_one().cc("c@example.com").build()),
        ("bcc", caps.bcc, || to_one().bcc("b@example.com").build()),
        ("reply-to", caps.reply_to, || {
            to_one().reply_to("r@example.com").build()
        }),
        ("html", caps.html_body, || to_one().html("<p>x</p>").build()),
        ("expiry", caps.expiry, || {
            to_one().expires(Expiry::Days(1)).build()
        }),
        ("password", caps.password, || {
            to_one().password("pw").build()
        }),
        ("link delivery", caps.link_delivery, || {
            to_one().delivery(Delivery::Link).build()
        }),
        ("download receipt", caps.download_receipt, || {
            to_one().download_receipt(true).build()
        }),
        ("require login", caps.require_login, || {
            to_one().require_login(true).build()
        }),
        ("priority", caps.priority, || {
            to_one().priority(Priority::High).build()
        }),
    ];
    for (name, supported, build) in unsupported {
        if !supported {
            cases.push((name, ErrorKind::Unsupported, message_case(target, build)));
        }
    }

    for (name, kind, case) in cases {
        let before = target.observer.fingerprint().await;
        let err: Error = match case.await {
            Ok(()) => panic!(
                "{}: bad input `{name}` was accepted",
                target.provider.name()
            ),
            Err(e) => e,
        };
        assert_eq!(err.kind(), kind, "{name}: {err}");
        let line = err.to_string();
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "{name}: multi-line error {line:?}"
        );
        let after = target.observer.fingerprint().await;
        assert_eq!(before, after, "{name}: the service recorded something");
    }
}

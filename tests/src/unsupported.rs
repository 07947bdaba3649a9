//! Options a provider lacks are refused before any request, naming the provider and option.

use securesend::{
    Attachment, Capabilities, Delivery, DownloadRequest, Error, ErrorKind, Expiry, ListRequest,
    Priority, Result, SecureMessage, UploadRequest,
};

use crate::{Target, TestFiles};

/// What a case does once its request is built.
enum Call {
    Send(fn(&TestFiles) -> Result<SecureMessage>),
    Upload(fn(&TestFiles) -> Result<UploadRequest>),
    Download,
    List,
    CreateFolder,
}

/// One option: whether the provider has it (by its capabilities), the words the refusal must
/// contain to name the option, and the call that asks for it.
struct OptionCase {
    option: &'static str,
    supported: bool,
    names: &'static str,
    call: Call,
}

fn base(_: &TestFiles) -> securesend::MessageBuilder {
    SecureMessage::builder()
        .to("ada@example.com")
        .subject("unsupported option")
}

fn with_file(files: &TestFiles) -> securesend::MessageBuilder {
    base(files).attach(Attachment::from_path(files.path().join("one.txt")))
}

fn upload(files: &TestFiles) -> securesend::UploadBuilder {
    UploadRequest::builder(Attachment::from_path(files.path().join("one.txt")))
}

fn cases(caps: &Capabilities) -> Vec<OptionCase> {
    use Call::*;
    let case = |option, supported, names, call| OptionCase {
        option,
        supported,
        names,
        call,
    };
    vec![
        case(
            "send",
            caps.send,
            "cannot send messages",
            Send(|f| with_file(f).build()),
        ),
        case(
            "from",
            caps.choose_sender,
            "with a chosen sender",
            Send(|f| with_file(f).from("sender@example.com").build()),
        ),
        case(
            "cc",
            caps.cc,
            "with cc recipients",
            Send(|f| with_file(f).cc("c@example.com").build()),
        ),
        case(
            "bcc",
            caps.bcc,
            "with bcc recipients",
            Send(|f| with_file(f).bcc("b@example.com").build()),
        ),
        case(
            "reply-to",
            caps.reply_to,
            "with reply-to",
            Send(|f| with_file(f).reply_to("r@example.com").build()),
        ),
        case(
            "html body",
            caps.html_body,
            "cannot send an HTML body",
            Send(|f| with_file(f).html("<p>x</p>").build()),
        ),
        case(
            "attachments",
            caps.attachments,
            "cannot send attachments",
            Send(|f| with_file(f).build()),
        ),
        case(
            "attach delivery",
            caps.attach_delivery,
            "cannot send files as attachments",
            Send(|f| with_file(f).delivery(Delivery::Attach).build()),
        ),
        case(
            "link delivery",
            caps.link_delivery,
            "cannot send files as links",
            Send(|f| with_file(f).delivery(Delivery::Link).build()),
        ),
        case(
            "expiry",
            caps.expiry,
            "with an expiry",
            Send(|f| with_file(f).expires(Expiry::Days(1)).build()),
        ),
        case(
            "password",
            caps.password,
            "with a file password",
            Send(|f| with_file(f).password("pw-for-the-files").build()),
        ),
        case(
            "download receipt",
            caps.download_receipt,
            "with download receipts",
            Send(|f| with_file(f).download_receipt(true).build()),
        ),
        case(
            "require login",
            caps.require_login,
            "with require-login",
            Send(|f| with_file(f).require_login(true).build()),
        ),
        case(
            "priority",
            caps.priority,
            "with a priority",
            Send(|f| with_file(f).priority(Priority::High).build()),
        ),
        case(
            "upload",
            caps.upload,
            "cannot upload files",
            Upload(|f| upload(f).build()),
        ),
        case(
            "upload to folder",
            caps.upload_to_folder,
            "cannot upload into a named folder",
            Upload(|f| upload(f).folder("reports").build()),
        ),
        case(
            "create folders",
            caps.create_folders,
            "cannot upload creating folders",
            Upload(|f| upload(f).folder("reports").create_parents(true).build()),
        ),
        case(
            "overwrite",
            caps.overwrite,
            "cannot upload over an existing file",
            Upload(|f| upload(f).overwrite(true).build()),
        ),
        case(
            "resume",
            caps.resumable_upload,
            "cannot upload by resuming",
            Upload(|f| upload(f).resume(true).build()),
        ),
        case("download", caps.download, "cannot download", Download),
        case("browse", caps.browse, "cannot list folders", List),
        case(
            "create folder",
            caps.browse && caps.create_folders,
            "cannot create folders",
            CreateFolder,
        ),
    ]
}

/// For each option the provider's capabilities say it lacks, asking for it fails with
/// `Unsupported` naming the provider and the option, and the service records nothing. An option
/// the provider lacks only because a whole role is missing (Privasfer cannot send, so it has no
/// cc either) is refused for the role: the error then names the role. Returns how many options
/// were refused, so a provider's test can pin it.
pub async fn unsupported_options(target: &Target) -> usize {
    let caps = target.provider.capabilities().clone();
    let provider = target.provider.name().to_owned();
    let files = TestFiles::new();
    files.create("one.txt", 1024);
    let mut refused = 0;
    for OptionCase {
        option,
        supported,
        names,
        call,
    } in cases(&caps)
    {
        if supported {
            continue;
        }
        // Without the role, the role is what the refusal names.
        let names = match &call {
            Call::Send(_) if !caps.send => "cannot send messages",
            Call::Upload(_) if !caps.upload => "cannot upload files",
            _ => names,
        };
        let before = target.observer.fingerprint().await;
        let outcome: Result<()> = match call {
            Call::Send(build) => match build(&files) {
                Ok(msg) => target.provider.send(msg).await.map(|_| ()),
                Err(e) => Err(e),
            },
            Call::Upload(build) => match build(&files) {
                Ok(req) => target.provider.upload(req).await.map(|_| ()),
                Err(e) => Err(e),
            },
            Call::Download => target
                .provider
                .download(DownloadRequest::new("some-file-id"))
                .await
                .map(|_| ()),
            Call::List => target.provider.list(ListRequest::top()).await.map(|_| ()),
            Call::CreateFolder => target
                .provider
                .create_folder("reports", false)
                .await
                .map(|_| ()),
        };
        let err: Error = match outcome {
            Ok(()) => panic!("{provider}: `{option}` is not a capability, yet it was accepted"),
            Err(e) => e,
        };
        let line = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{option}: {line}");
        assert_eq!(err.provider(), Some(provider.as_str()), "{option}: {line}");
        assert!(
            line.contains(&provider) && line.contains(names),
            "{option}: {line:?} does not name {provider} and {names:?}"
        );
        assert!(!line.contains('\n'), "{option}: multi-line error {line:?}");
        assert_eq!(
            before,
            target.observer.fingerprint().await,
            "{provider}: `{option}` reached the service"
        );
        refused += 1;
    }
    eprintln!("{provider}: {refused} unsupported options refused before any request");
    refused
}

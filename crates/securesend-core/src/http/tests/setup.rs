//! Building a client: bad settings name their key; extra CA roots make a private CA work.

use super::server::{testdata, tls_server};
use crate::http::{Call, HttpClient, HttpSettings, Repeat, read_bytes_capped};

fn build(s: &HttpSettings, base: &std::path::Path) -> crate::Error {
    HttpClient::new("test", s, base).unwrap_err()
}

#[test]
fn a_ca_file_that_is_not_pem_is_a_configuration_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "just some text\n").unwrap();
    std::fs::write(
        dir.path().join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let mut s = HttpSettings::default();
    for (file, needle) in [
        ("notes.txt", "holds no PEM certificate"),
        ("broken.pem", "not usable as a root"),
        ("missing.pem", "does not exist"),
    ] {
        s.ca_files = vec![file.into()];
        let e = build(&s, dir.path());
        assert!(e.is_configuration(), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("`http.ca_files`") && text.contains(file),
            "{text}"
        );
        assert!(text.contains(needle), "{text}");
        assert_eq!(e.provider(), Some("test"));
    }
}

#[test]
fn a_ca_file_is_read_under_a_cap_and_never_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    // Sparse: 5 MiB reported, nothing written; read whole it would only say "no PEM".
    std::fs::File::create(dir.path().join("huge.pem"))
        .unwrap()
        .set_len(crate::file::MAX_CA_FILE + (1 << 20))
        .unwrap();
    // Nobody ever writes to it: reading it unbounded would wait for ever.
    nix::unistd::mkfifo(
        &dir.path().join("fifo.pem"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let mut s = HttpSettings::default();
    for (file, needle) in [
        (
            "huge.pem",
            "is 5 MiB; the limit for a CA certificate file is 4 MiB",
        ),
        ("fifo.pem", "is a FIFO (named pipe), not a regular file"),
        ("/dev/zero", "is a character device, not a regular file"),
    ] {
        s.ca_files = vec![file.into()];
        let e = build(&s, dir.path());
        assert!(e.is_configuration(), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("`http.ca_files`: CA certificate file") && text.contains(file),
            "{text}"
        );
        assert!(text.contains(needle), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

#[test]
fn bad_settings_name_their_key_and_hide_secrets() {
    let base = std::path::Path::new(".");
    let s = HttpSettings {
        max_attempts: 0,
        ..HttpSettings::default()
    };
    assert!(build(&s, base).to_string().contains("`http.max_attempts`"));

    let s = HttpSettings {
        read_timeout_secs: 0,
        ..HttpSettings::default()
    };
    assert!(
        build(&s, base)
            .to_string()
            .contains("`http.read_timeout_secs`")
    );

    let s = HttpSettings {
        proxy: Some("http://ann:canary-pw@proxy.example:3128".into()),
        ..HttpSettings::default()
    };
    let e = build(&s, base);
    assert!(
        e.is_configuration() && e.to_string().contains("`http.proxy_username`"),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains("canary"));

    let s = HttpSettings {
        proxy: Some("ftp://proxy.example".into()),
        ..HttpSettings::default()
    };
    assert!(build(&s, base).to_string().contains("`http.proxy`"));

    let s = HttpSettings {
        proxy_username: Some("ann".into()),
        ..HttpSettings::default()
    };
    assert!(build(&s, base).to_string().contains("`http.proxy`"));

    let s = HttpSettings {
        user_agent_suffix: Some("evil\r\nX-Injected: 1".into()),
        ..HttpSettings::default()
    };
    assert!(
        build(&s, base)
            .to_string()
            .contains("`http.user_agent_suffix`")
    );
}

#[tokio::test]
async fn a_private_ca_is_refused_until_listed_in_ca_files() {
    let addr = tls_server();
    let url = url::Url::parse(&format!("https://{addr}/x?token=canary-tls")).unwrap();

    let http = HttpClient::new("test", &HttpSettings::default(), &testdata()).unwrap();
    let e = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap_err();
    assert!(e.is_configuration(), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("`http.ca_files`") && !text.contains("canary"),
        "{text}"
    );

    // Relative to the base directory, as written in a configuration file.
    let s = HttpSettings {
        ca_files: vec!["ca.pem".into()],
        ..HttpSettings::default()
    };
    let http = HttpClient::new("test", &s, &testdata()).unwrap();
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(&read_bytes_capped(resp, 100).await.unwrap()[..], b"tls ok");
}

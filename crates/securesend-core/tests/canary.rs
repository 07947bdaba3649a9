//! A canary secret never appears in Display or Debug of errors and configuration values.

use serde::Deserialize;

use securesend_core::config::{ConfigFile, ProfileConfig};
use securesend_core::{Error, ErrorKind, SecretRef};

const CANARY: &str = "CANARY-s3cr3t-9f27";

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Fields {
    base_url: String,
    password: SecretRef,
    #[serde(default)]
    pin: Option<SecretRef>,
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "{what} leaks the canary: {text}");
    assert!(
        !text.contains("s3cr3t"),
        "{what} leaks part of the canary: {text}"
    );
}

fn profile(body: &str) -> securesend_core::Result<ProfileConfig> {
    let text = format!("[profiles.p]\nprovider = \"x\"\n{body}\n");
    ConfigFile::parse(&text, ".")?.profile(Some("p"))
}

#[test]
fn configuration_errors_hide_secrets() {
    let bad_files = [
        format!("base_url = \"https://a.example\"\npassword = \"{CANARY}"),
        format!("base_url = \"https://a.example\"\npassword = \"{CANARY}\" extra"),
        format!("base_url = \"https://a.example\"\npassword = [\"{CANARY}\"]"),
        format!("base_url = \"https://a.example\"\npassword = {{ env = [\"{CANARY}\"] }}"),
        format!("base_url = \"https://a.example\"\npassword = {{ envv = \"{CANARY}\" }}"),
        format!(
            "base_url = \"https://a.example\"\npassword = \"{CANARY}\"\npassword2 = \"{CANARY}\""
        ),
        format!("base_url = \"https://a.example\"\npassword = \"{CANARY}\"\npin = 1.5"),
        format!("base_url = 7\npassword = \"{CANARY}\""),
    ];
    for body in &bad_files {
        let err: Error = match profile(body).and_then(|p| p.parse::<Fields>().map(|_| ())) {
            Ok(()) => panic!("accepted: {body}"),
            Err(e) => e,
        };
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert_clean("error Display", &err.to_string());
        assert_clean("error Debug", &format!("{err:?}"));
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

#[test]
fn parsed_configuration_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), CANARY).unwrap();
    let text = format!(
        "default = \"p\"\n[profiles.p]\nprovider = \"x\"\nbase_url = \"https://a.example\"\npassword = \"{CANARY}\"\npin = {{ file = \"pw\" }}\n"
    );
    let file = ConfigFile::parse(&text, dir.path()).unwrap();
    let p = file.profile(None).unwrap();
    let fields: Fields = p.parse().unwrap();
    let resolved = fields.password.resolve("password", dir.path()).unwrap();
    let from_file = fields
        .pin
        .as_ref()
        .unwrap()
        .resolve("pin", dir.path())
        .unwrap();
    assert_eq!(resolved.expose(), CANARY);
    assert_eq!(from_file.expose(), CANARY);
    for (what, shown) in [
        ("ConfigFile", format!("{file:?}")),
        ("ProfileConfig", format!("{p:?}")),
        ("fields", format!("{fields:?}")),
        ("Secret", format!("{resolved:?}")),
        ("Secret from file", format!("{from_file:?}")),
    ] {
        assert_clean(what, &shown);
    }
}

#[test]
fn numeric_pins_are_secrets_too() {
    let p = profile("base_url = \"https://a.example\"\npassword = 918273\n").unwrap();
    let f: Fields = p.parse().unwrap();
    assert_eq!(
        f.password
            .resolve("password", ".".as_ref())
            .unwrap()
            .expose(),
        "918273"
    );
    assert!(!format!("{f:?}").contains("918273"));
}

//! Configuration errors: a profile that cannot work is refused when it is connected, with one
//! line naming the key to fix, and nothing reaches the service.

use securesend::config::{ProfileConfig, Table};
use securesend::{Error, ErrorKind};

use crate::Observer;

/// A profile that connects, and which of its fields hold a secret and the service URL.
#[derive(Debug, Clone)]
pub struct GoodProfile {
    /// The provider key.
    pub provider: &'static str,
    /// Fields that connect (without `provider`).
    pub fields: Table,
    /// A required field holding a secret, if the provider has one.
    pub secret: Option<&'static str>,
    /// The service URL field, if the provider has one.
    pub url: Option<&'static str>,
    /// A required field that is not a secret.
    pub required: &'static str,
}

fn env_ref(var: &str) -> toml::Value {
    let mut t = Table::new();
    t.insert("env".into(), var.into());
    t.into()
}

fn file_ref(path: &str) -> toml::Value {
    let mut t = Table::new();
    t.insert("file".into(), path.into());
    t.into()
}

/// Connects each broken variant of `good` and checks the refusal: a configuration error on one
/// line naming the key (and the variable or file), and an unchanged `observer`. Returns how
/// many variants ran.
pub async fn bad_config(good: &GoodProfile, observer: &dyn Observer) -> usize {
    let before = observer.fingerprint().await;
    let connect = |provider: &str, fields: Table| {
        securesend::connect(&ProfileConfig::new("conformance", provider, fields, "."))
    };
    // The good profile connects: the variants below fail for their one change.
    connect(good.provider, good.fields.clone())
        .unwrap_or_else(|e| panic!("{}: the good profile connects: {e}", good.provider));

    let with = |key: &str, value: toml::Value| {
        let mut f = good.fields.clone();
        f.insert(key.to_owned(), value);
        f
    };
    let without = |key: &str| {
        let mut f = good.fields.clone();
        assert!(f.remove(key).is_some(), "{key} is in the good profile");
        f
    };
    let unset = "SECURESEND_CONFORMANCE_SURELY_UNSET";
    let mut cases: Vec<(&str, &str, Table, Vec<String>)> = vec![
        (
            "unknown key",
            good.provider,
            with("colour", "red".into()),
            vec!["colour".into()],
        ),
        (
            "misspelt provider",
            "dropbox",
            good.fields.clone(),
            vec!["unknown provider `dropbox`".into()],
        ),
        (
            "missing required field",
            good.provider,
            without(good.required),
            vec![good.required.into()],
        ),
    ];
    if let Some(secret) = good.secret {
        cases.push((
            "secret from an unset variable",
            good.provider,
            with(secret, env_ref(unset)),
            vec![secret.into(), unset.into()],
        ));
        cases.push((
            "secret from a missing file",
            good.provider,
            with(secret, file_ref("/nonexistent/securesend-secret.txt")),
            vec![secret.into(), "securesend-secret.txt".into()],
        ));
        cases.push((
            "missing secret",
            good.provider,
            without(secret),
            vec![secret.into()],
        ));
    }
    if let Some(url) = good.url {
        cases.push((
            "plain http to another host",
            good.provider,
            with(url, "http://files.example.com/".into()),
            vec![url.into(), "https".into()],
        ));
        cases.push((
            "URL that is not one",
            good.provider,
            with(url, "files example com".into()),
            vec![url.into()],
        ));
    }
    let count = cases.len();
    for (name, provider, fields, names) in cases {
        let err: Error = match connect(provider, fields) {
            Ok(_) => panic!("{}: bad configuration `{name}` connected", good.provider),
            Err(e) => e,
        };
        let line = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Configuration, "{name}: {line}");
        assert!(!line.contains('\n'), "{name}: multi-line error {line:?}");
        for n in &names {
            assert!(
                line.contains(n.as_str()),
                "{name}: {line:?} does not name {n:?}"
            );
        }
    }
    assert_eq!(
        before,
        observer.fingerprint().await,
        "{}: a bad configuration reached the service",
        good.provider
    );
    eprintln!("{}: {count} configuration errors refused", good.provider);
    count
}

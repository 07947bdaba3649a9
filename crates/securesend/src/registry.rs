//! Which providers this build contains, and connecting one by its key.

use securesend_core::config::ProfileConfig;
use securesend_core::{Capabilities, Error, Provider, Result};

type Connect = fn(&ProfileConfig) -> Result<Provider>;

/// A provider this library knows, compiled in or not.
#[derive(Clone, Copy, Debug)]
pub struct ProviderInfo {
    /// The key used in `provider = "…"`.
    pub key: &'static str,
    /// The service it talks to.
    pub service: &'static str,
    /// The Cargo feature of the `securesend` crate that builds it in.
    pub feature: &'static str,
    connect: Option<Connect>,
    capabilities: Option<fn() -> Capabilities>,
}

impl ProviderInfo {
    /// Whether this build contains the provider.
    pub fn is_compiled(&self) -> bool {
        self.connect.is_some()
    }

    /// Its capabilities, when compiled in (a service may narrow them once connected).
    pub fn capabilities(&self) -> Option<Capabilities> {
        self.capabilities.map(|f| f())
    }
}

/// One registry entry; the adapter crate is referred to only when its feature is on.
macro_rules! provider {
    ($key:literal, $feature:literal, $adapter:ident, $service:literal) => {
        ProviderInfo {
            key: $key,
            service: $service,
            feature: $feature,
            #[cfg(feature = $feature)]
            connect: Some($adapter::connect),
            #[cfg(not(feature = $feature))]
            connect: None,
            #[cfg(feature = $feature)]
            capabilities: Some($adapter::capabilities),
            #[cfg(not(feature = $feature))]
            capabilities: None,
        }
    };
}

/// Every provider this library knows, in display order.
pub fn providers() -> Vec<ProviderInfo> {
    vec![
        provider!(
            "local",
            "local",
            securesend_local,
            "a directory on this machine (the embedded default)"
        ),
        provider!(
            "kiteworks",
            "kiteworks",
            securesend_kiteworks,
            "Kiteworks (REST API v28)"
        ),
        provider!(
            "egroupware",
            "egroupware",
            securesend_egroupware,
            "EGroupware mail REST API and WebDAV"
        ),
        provider!(
            "privasfer",
            "privasfer",
            securesend_privasfer,
            "Privasfer download links (PIN-protected keys), inbox and files"
        ),
        provider!(
            "tuyu",
            "tuyu",
            securesend_tuyu,
            "Tuyu / FileGenius file_send API (HMAC-signed)"
        ),
    ]
}

/// Connects the provider a profile names. No network traffic happens here: fields are checked
/// and secrets resolved, and the first request goes out with the first operation.
pub fn connect(profile: &ProfileConfig) -> Result<Provider> {
    let all = providers();
    let key = profile.provider();
    let Some(info) = all.iter().find(|p| p.key == key) else {
        let keys: Vec<_> = all.iter().map(|p| format!("`{}`", p.key)).collect();
        return Err(Error::config(format!(
            "profile `{}`: unknown provider `{key}`; available: {}",
            profile.name(),
            keys.join(", ")
        )));
    };
    let Some(connect) = info.connect else {
        return Err(Error::config(format!(
            "profile `{}`: provider `{key}` is not built into this program; rebuild with the `{}` feature of the securesend crate",
            profile.name(),
            info.feature
        )));
    };
    connect(profile).map_err(|e| e.or_provider(info.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(provider: &str) -> ProfileConfig {
        let mut t = toml::Table::new();
        t.insert("root".into(), "x".into());
        ProfileConfig::new("p", provider, t, ".")
    }

    #[test]
    fn unknown_provider_lists_available() {
        let e = connect(&profile("dropbox")).unwrap_err();
        assert!(e.is_configuration());
        assert!(e.to_string().contains("`local`"), "{e}");
    }

    #[cfg(not(feature = "local"))]
    #[test]
    fn disabled_feature_is_named() {
        let e = connect(&profile("local")).unwrap_err();
        assert!(e.to_string().contains("`local` feature"), "{e}");
    }

    #[cfg(feature = "local")]
    #[test]
    fn local_connects_and_rejects_unknown_keys() {
        assert_eq!(connect(&profile("local")).unwrap().name(), "local");
        let mut t = toml::Table::new();
        t.insert("root".into(), "x".into());
        t.insert("rooot".into(), "y".into());
        let e = connect(&ProfileConfig::new("p", "local", t, ".")).unwrap_err();
        assert!(e.to_string().contains("profiles.p.rooot"), "{e}");
    }
}

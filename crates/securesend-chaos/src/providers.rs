//! Which providers the soak can drive, and starting each one against its own fresh sandbox.

use std::path::Path;

use securesend::config::ProfileConfig;
use securesend::{Capabilities, Provider};
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::kiteworks::{KiteworksInspector, KiteworksService};
use securesend_sandbox::privasfer::Privasfer;
use securesend_sandbox::tuyu::Tuyu;
use securesend_sandbox::{Sandbox, SandboxOptions, Service};

/// Every provider key, in the order `--provider all` runs them.
pub const ALL: [&str; 5] = ["kiteworks", "egroupware", "tuyu", "privasfer", "local"];

/// A provider connected to a running sandbox.
pub struct Subject {
    /// The emulated service; its outbox, store and journal are what the tally reads.
    pub sandbox: Sandbox,
    /// The library's provider, connected through the sandbox's generated profile.
    pub provider: Provider,
    /// Kiteworks only: the view of drafts and open upload sessions left behind.
    pub kiteworks: Option<KiteworksInspector>,
}

/// What `start` found.
pub enum Started {
    /// Ready to drive.
    Ready(Box<Subject>),
    /// Nothing to drive, and why.
    Skipped(String),
}

/// The provider key `name` stands for, if any.
pub fn key_of(name: &str) -> Option<&'static str> {
    ALL.iter().copied().find(|k| k.eq_ignore_ascii_case(name))
}

/// Starts `key`'s sandbox with `options` and connects the provider to it; `state_dir` holds
/// what the adapter keeps on disk (Kiteworks tokens and upload sessions).
pub async fn start(
    key: &'static str,
    options: SandboxOptions,
    state_dir: &Path,
) -> Result<Started, String> {
    let mut kiteworks = None;
    let service: Box<dyn Service> = match key {
        "kiteworks" => {
            let service = KiteworksService::default();
            kiteworks = Some(service.inspector());
            Box::new(service)
        }
        "egroupware" => Box::new(Egroupware::new()),
        "tuyu" => Box::new(Tuyu::default()),
        "privasfer" => Box::new(Privasfer),
        // The local provider writes to a directory: no wire, so no fault can be injected.
        "local" => {
            return Ok(Started::Skipped(
                "no service on the wire, so no fault can be injected".into(),
            ));
        }
        other => return Err(format!("unknown provider `{other}`")),
    };
    let sandbox = Sandbox::start(service.as_ref(), options)
        .await
        .map_err(|e| format!("{key}: the sandbox did not start: {e}"))?;
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    if key == "kiteworks" {
        fields.insert("state_dir".into(), state_dir.display().to_string().into());
    }
    let profile = ProfileConfig::new("chaos", key, fields, state_dir);
    let provider = securesend::connect(&profile)
        .map_err(|e| format!("{key}: the sandbox profile does not connect: {e}"))?;
    if let Some(reason) = nothing_to_drive(provider.capabilities()) {
        sandbox.shutdown().await;
        return Ok(Started::Skipped(reason));
    }
    Ok(Started::Ready(Box::new(Subject {
        sandbox,
        provider,
        kiteworks,
    })))
}

/// Why a provider with these capabilities has nothing for the soak, if it has not.
fn nothing_to_drive(caps: &Capabilities) -> Option<String> {
    (!caps.send && !caps.upload)
        .then(|| "the provider can neither send nor upload (it downloads only)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_keys() {
        assert_eq!(key_of("Kiteworks"), Some("kiteworks"));
        assert_eq!(key_of("tuyu"), Some("tuyu"));
        assert_eq!(key_of("all"), None);
        assert_eq!(key_of("dropbox"), None);
    }

    #[test]
    fn download_only_providers_are_skipped_with_a_reason() {
        let mut caps = Capabilities::default();
        assert!(nothing_to_drive(&caps).is_some());
        caps.upload = true;
        assert!(nothing_to_drive(&caps).is_none());
    }
}

//! Shared set-up of the flow tests: a Kiteworks sandbox and a provider profile pointing at it.
#![allow(dead_code)]

use std::path::Path;

use securesend_core::config::{ProfileConfig, Table};
use securesend_kiteworks::KiteworksProvider;
use securesend_sandbox::kiteworks::{KiteworksInspector, KiteworksOptions, KiteworksService};
use securesend_sandbox::{RateLimitSetting, Sandbox, SandboxOptions};

/// A running sandbox, a way to look inside it, and a temporary state directory.
pub struct Kit {
    pub sandbox: Sandbox,
    pub inspect: KiteworksInspector,
    pub options: KiteworksOptions,
    pub dir: tempfile::TempDir,
}

/// Small chunks so that "three chunks plus one byte" stays small.
pub const CHUNK: u64 = 64 << 10;

pub async fn start(options: KiteworksOptions, sandbox: SandboxOptions) -> Kit {
    let service = KiteworksService::new(options.clone());
    let inspect = service.inspector();
    let sandbox = Sandbox::start(&service, sandbox)
        .await
        .expect("sandbox starts");
    Kit {
        sandbox,
        inspect,
        options,
        dir: tempfile::tempdir().unwrap(),
    }
}

/// A sandbox with 64 KiB chunks, no fingerprint delay worth waiting for, no rate limit.
pub async fn kit() -> Kit {
    let o = KiteworksOptions {
        fingerprint_delay: std::time::Duration::from_millis(50),
        ..KiteworksOptions::default()
    };
    start(
        o,
        SandboxOptions::default()
            .chunk_max(CHUNK)
            .rate_limit(RateLimitSetting::Off),
    )
    .await
}

impl Kit {
    /// Profile fields for the password grant, state in the kit's directory.
    pub fn fields(&self) -> Table {
        let o = &self.options;
        let mut t = Table::new();
        t.insert("base_url".into(), self.sandbox.base_url().into());
        t.insert("client_id".into(), o.client_id.as_str().into());
        t.insert("client_secret".into(), o.client_secret.as_str().into());
        t.insert("grant".into(), "password".into());
        t.insert("username".into(), o.user_email.as_str().into());
        t.insert("password".into(), o.password.as_str().into());
        t.insert(
            "state_dir".into(),
            self.dir.path().join("state").display().to_string().into(),
        );
        t.insert("fingerprint_wait_secs".into(), 10.into());
        let mut http = Table::new();
        http.insert("max_retry_secs".into(), 20.into());
        t.insert("http".into(), http.into());
        t
    }

    /// Fields for another grant: the password fields are replaced.
    pub fn fields_for(&self, grant: &str) -> Table {
        if grant == "password" {
            return self.fields();
        }
        let mut t = self.fields();
        t.remove("username");
        t.remove("password");
        t.insert("grant".into(), grant.into());
        let o = &self.options;
        match grant {
            "signature" => {
                t.insert("user".into(), o.user_email.as_str().into());
                t.insert("signature_key".into(), o.signature_key.as_str().into());
                t.insert(
                    "redirect_uri".into(),
                    "http://127.0.0.1/securesend/callback".into(),
                );
            }
            "jwt" => {
                let key = self.dir.path().join("jwt.pem");
                std::fs::write(
                    &key,
                    securesend_sandbox::kiteworks::TEST_JWT_PRIVATE_KEY_PEM,
                )
                .unwrap();
                t.insert("user".into(), o.user_email.as_str().into());
                t.insert(
                    "jwt_private_key_file".into(),
                    key.display().to_string().into(),
                );
            }
            _ => {}
        }
        t
    }

    pub fn profile(&self, fields: Table) -> ProfileConfig {
        ProfileConfig::new("test", "kiteworks", fields, self.dir.path())
    }

    pub fn provider(&self) -> KiteworksProvider {
        KiteworksProvider::from_profile(&self.profile(self.fields())).expect("provider builds")
    }

    pub fn provider_with(&self, fields: Table) -> KiteworksProvider {
        KiteworksProvider::from_profile(&self.profile(fields)).expect("provider builds")
    }

    /// Requests with `method` whose path contains `contains`.
    pub fn count(&self, method: &str, contains: &str) -> usize {
        self.sandbox
            .journal()
            .snapshot()
            .iter()
            .filter(|e| e.method == method && e.path.contains(contains))
            .count()
    }
}

/// Writes `size` deterministic bytes to `dir/name`.
pub fn file(dir: &Path, name: &str, size: usize) -> std::path::PathBuf {
    let p = dir.join(name);
    let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&p, data).unwrap();
    p
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

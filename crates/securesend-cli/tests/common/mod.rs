//! Running the `securesend` binary in an isolated directory.

#![allow(dead_code)]

pub mod held_chunk;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use securesend_sandbox::{RateLimitSetting, Sandbox as ServiceSandbox, SandboxOptions, Service};

/// A scratch directory used as working directory and as HOME, so no user configuration leaks in.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_securesend"));
        c.current_dir(self.dir.path())
            .env_remove("SECURESEND_CONFIG")
            .env_remove("RUST_LOG")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join(".config"));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("securesend-data")
    }
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn sha256_hex(data: &[u8]) -> String {
    securesend::checksum::sha256_hex(data)
}

/// A running sandbox with the runtime that serves it; the CLI runs as a child process meanwhile.
pub struct Running {
    sandbox: Option<ServiceSandbox>,
    rt: tokio::runtime::Runtime,
}

impl Running {
    pub fn start(service: &dyn Service) -> Running {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let options = SandboxOptions::default()
            .rate_limit(RateLimitSetting::Off)
            .chunk_max(64 << 10);
        let sandbox = rt
            .block_on(ServiceSandbox::start(service, options))
            .expect("sandbox starts");
        Running {
            sandbox: Some(sandbox),
            rt,
        }
    }

    pub fn sandbox(&self) -> &ServiceSandbox {
        self.sandbox.as_ref().unwrap()
    }

    /// Writes `dir/securesend.toml` with this sandbox's generated profile as the default.
    pub fn write_config(&self, dir: &Path) -> PathBuf {
        let table =
            securesend_sandbox::generated::config_table(std::slice::from_ref(self.sandbox()), None);
        let path = dir.join("securesend.toml");
        securesend_sandbox::generated::write_config(&path, &table).unwrap();
        path
    }

    /// What the sandbox handed out or was shown: issued tokens and every `Authorization`
    /// value (bearer tokens, Basic credentials) it received.
    pub fn issued_secrets(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for t in self.sandbox().tokens().issued() {
            out.push(("sandbox-issued token".to_owned(), t));
        }
        let mut seen = BTreeSet::new();
        for e in self.sandbox().journal().snapshot() {
            if let Some(auth) = e.header("authorization") {
                if seen.insert(auth.to_owned()) {
                    let value = auth.split_once(' ').map_or(auth, |(_, v)| v);
                    out.push(("Authorization header value".to_owned(), value.to_owned()));
                }
            }
        }
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

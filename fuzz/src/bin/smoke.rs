//! Runs the fuzz targets on stable Rust, without libFuzzer: each target gets its seeds
//! (`seeds/<target>/`, plus `corpus/<target>/` when cargo fuzz has grown one) and then
//! random mutations of them for the given time. A panic is reported with the input, which is
//! written to `artifacts/<target>/`.
//!
//! `cargo run --release --no-default-features --bin smoke -- [SECONDS_PER_TARGET] [TARGET…]`

use std::panic;
use std::path::Path;
use std::time::{Duration, Instant};

use securesend_fuzz::TARGETS;

/// xorshift64*: fast, seedable, and enough for choosing mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the formats under test, inserted more often than random ones.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"\\u0000",
    b"<",
    b">",
    b"</",
    b"/>",
    b"<![CDATA[",
    b"]]>",
    b"&amp;",
    b"&#0;",
    b"xmlns:d=\"DAV:\"",
    b"d:href",
    b"=",
    b"\n",
    b"\r",
    b"\0",
    b"..",
    b"/",
    b"%",
    b"%2F",
    b"%00",
    b"@",
    b"<>",
    b"\xff",
    b"\xc3\xa9",
    b"\xf0\x9f\x98\x80",
    b"[profiles.a]",
    b"provider = \"kiteworks\"",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                input.drain(a..b);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, t.iter().copied());
            }
            4 if len > 0 => {
                // Duplicate a slice: deep nesting, repeated elements.
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let piece = input[a..b].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, piece);
            }
            5 if !pool.is_empty() => {
                // Splice in part of another input.
                let other = &pool[rng.below(pool.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(128)).min(other.len());
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ => {
                let at = rng.below(len + 1);
                input.insert(at, rng.next() as u8);
            }
        }
    }
    input.truncate(64 << 10);
}

fn load(dir: &Path, into: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if let Ok(bytes) = std::fs::read(e.path()) {
            into.push(bytes);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args
        .next()
        .map_or(10, |s| s.parse().expect("seconds per target"));
    let only: Vec<String> = args.collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Panics are expected findings; report them ourselves, once.
    panic::set_hook(Box::new(|_| {}));
    let mut failed = 0;
    for (name, target) in TARGETS {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let mut pool = Vec::new();
        load(&root.join("seeds").join(name), &mut pool);
        load(&root.join("corpus").join(name), &mut pool);
        if pool.is_empty() {
            pool.push(Vec::new());
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64 ^ secs);
        let started = Instant::now();
        let mut runs = 0u64;
        let mut crash = None;
        let mut i = 0;
        while started.elapsed() < Duration::from_secs(secs) || i < pool.len() {
            let input = if i < pool.len() {
                pool[i].clone()
            } else {
                let mut m = pool[rng.below(pool.len())].clone();
                mutate(&mut rng, &mut m, &pool);
                m
            };
            i += 1;
            runs += 1;
            if let Err(e) = panic::catch_unwind(|| target(&input)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                crash = Some((input, msg));
                break;
            }
        }
        match crash {
            None => println!(
                "{name}: {runs} inputs in {:.0?}, no panic",
                started.elapsed()
            ),
            Some((input, msg)) => {
                failed += 1;
                let dir = root.join("artifacts").join(name);
                std::fs::create_dir_all(&dir).expect("artifacts directory");
                let path = dir.join(format!("crash-smoke-{runs}"));
                std::fs::write(&path, &input).expect("write the crashing input");
                println!(
                    "{name}: PANIC after {runs} inputs: {msg}\n  input ({} bytes) in {}: {:?}",
                    input.len(),
                    path.display(),
                    String::from_utf8_lossy(&input[..input.len().min(300)])
                );
            }
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}

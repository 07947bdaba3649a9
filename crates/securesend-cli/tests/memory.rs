//! Memory stays bounded while sending a 1 GiB attachment through the local provider.
//!
//! This is a measurement with a generous bound, not a timing: peak resident memory of the
//! child process, as the kernel reports it.

mod common;

use common::Sandbox;

#[test]
fn sending_one_gib_stays_under_64_mib() {
    let sb = Sandbox::new();
    let big = sb.path().join("one-gib.bin");
    // Sparse: costs no disk to create, reads back as zeros.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let out = sb.run(&["--json", "send", "--to", "a@example.com", "one-gib.bin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let peak_kib = usage.max_rss();
    println!("peak RSS sending 1 GiB: {} MiB", peak_kib / 1024);
    assert!(peak_kib < 64 * 1024, "peak RSS {} KiB", peak_kib);
    let doc = common::json(&out);
    assert_eq!(doc["receipt"]["attachments"][0]["size"], 1u64 << 30);
    assert_eq!(
        doc["receipt"]["attachments"][0]["checksums"]["sha256"],
        "49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14"
    );
}

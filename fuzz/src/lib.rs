//! The fuzz targets, as plain functions: `fuzz_targets/*.rs` hand them to libFuzzer (nightly,
//! `cargo fuzz run <name>`), and `src/bin/smoke.rs` runs them on stable over the seeds plus
//! mutated inputs. A target panics only when it found a bug: a crash in the code under test or
//! a broken property checked here.

use securesend_core::config::ConfigFile;
use securesend_core::names::{sanitize_file_name, validate_file_name};
use securesend_core::{Address, Secret};
use securesend_tuyu::{Encoding, HexCase, Signer, Space, Stamp};

/// Every target with its name, for the stable driver.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("config", config),
    ("address", address),
    ("kiteworks_json", kiteworks_json),
    ("egroupware_multistatus", egroupware_multistatus),
    ("egroupware_mail_json", egroupware_mail_json),
    ("privasfer_json", privasfer_json),
    ("tuyu_answer", tuyu_answer),
    ("tuyu_canonical", tuyu_canonical),
];

/// A configuration file, then each profile as its provider's configuration.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = match ConfigFile::parse(text, "/nonexistent/securesend-fuzz") {
        Ok(f) => f,
        Err(e) => {
            // Errors never quote the file (a secret may be on that line); a message longer
            // than the input plus the fixed wording would mean it does.
            let shown = e.to_string();
            assert!(!shown.contains('\n') || shown.len() < 2_000);
            return;
        }
    };
    let _ = file.profile(None).map(|p| p.provider().to_owned());
    let names: Vec<String> = file.profile_names().map(str::to_owned).collect();
    for name in names {
        let Ok(p) = file.profile(Some(&name)) else {
            continue;
        };
        // Parsing only: resolving would read secret files and create state directories.
        let _ = securesend_kiteworks::KiteworksConfig::from_profile(&p).map(|c| format!("{c:?}"));
        let _ = securesend_egroupware::EgroupwareConfig::from_profile(&p).map(|c| format!("{c:?}"));
        let _ = securesend_privasfer::PrivasferConfig::from_profile(&p).map(|c| format!("{c:?}"));
        let _ = securesend_tuyu::TuyuConfig::from_profile(&p).map(|c| format!("{c:?}"));
        let _ = securesend_local::LocalConfig::from_profile(&p).map(|c| format!("{c:?}"));
    }
}

/// Address parsing, and the file-name rules that guard what reaches a disk or a service.
pub fn address(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = Address::parse(text) {
        // What we print must parse back to the same address.
        let shown = a.to_string();
        let again = Address::parse(&shown)
            .unwrap_or_else(|e| panic!("{text:?} parsed, its form {shown:?} does not: {e}"));
        assert_eq!(again.email(), a.email(), "{text:?}");
        assert_eq!(again.name(), a.name(), "{text:?}");
        assert!(a.domain().len() < a.email().len());
    }
    // A sanitised server name is always a name we would accept for sending.
    let safe = sanitize_file_name(text);
    if let Err(e) = validate_file_name(&safe) {
        panic!("sanitize_file_name({text:?}) = {safe:?}, which is refused: {e}");
    }
}

/// Kiteworks JSON entities and error answers.
pub fn kiteworks_json(data: &[u8]) {
    securesend_kiteworks::fuzzing::decode_answer(data);
}

/// EGroupware WebDAV `PROPFIND` answers.
pub fn egroupware_multistatus(data: &[u8]) {
    securesend_egroupware::fuzzing::decode_multistatus(data);
}

/// EGroupware mail REST answers.
pub fn egroupware_mail_json(data: &[u8]) {
    securesend_egroupware::fuzzing::decode_mail_json(data);
}

/// Privasfer answers.
pub fn privasfer_json(data: &[u8]) {
    securesend_privasfer::fuzzing::decode_answer(data);
}

/// Tuyu answers (JSON or XML).
pub fn tuyu_answer(data: &[u8]) {
    securesend_tuyu::fuzzing::decode_answer(data);
}

/// The Tuyu canonicaliser: whatever the parameters, the signed query must decode back to
/// exactly them plus the authentication fields, and only the signature may follow them.
pub fn tuyu_canonical(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let encoding = Encoding {
        space: if flags & 1 == 0 {
            Space::Plus
        } else {
            Space::Percent
        },
        hex_case: if flags & 2 == 0 {
            HexCase::Upper
        } else {
            HexCase::Lower
        },
        encode_tilde: flags & 4 == 0,
    };
    // Fields separated by NUL: name, value, name, value, …
    let fields: Vec<&str> = text.split('\0').collect();
    let params: Vec<(&str, String)> = fields
        .chunks(2)
        .map(|kv| (kv[0], kv.get(1).copied().unwrap_or("").to_owned()))
        .collect();
    for (_, v) in &params {
        let encoded = encoding.encode(v);
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~%+".contains(&b)),
            "{v:?} -> {encoded:?}"
        );
        assert_eq!(&decode(&encoded), v, "{encoded:?}");
    }
    let auth_code = Secret::new("fuzz-auth-code");
    let signer = Signer::new(
        Secret::new("fuzz-api-key"),
        &Secret::new("fuzz-api-secret"),
        "https://acme.filetransfers.net/",
        encoding,
    );
    let stamp = Stamp {
        timestamp: i64::from(flags) * 1_000_003,
        auth_code: (flags & 8 != 0).then_some(&auth_code),
    };
    let query = signer.get_query("api/file_list", &params, stamp);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{kv:?} in {query:?}"));
            (decode(k), decode(v))
        })
        .collect();
    let (last, signed) = pairs.split_last().expect("at least the signature");
    assert_eq!(last.0, "signature", "{query:?}");
    assert!(last.1.len() >= 40 && last.1.bytes().all(|b| b.is_ascii_hexdigit()));
    let mut expected: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    expected.push(("api_key".into(), "fuzz-api-key".into()));
    expected.push(("timestamp".into(), stamp.timestamp.to_string()));
    if stamp.auth_code.is_some() {
        expected.push(("auth_code".into(), "fuzz-auth-code".into()));
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(signed, expected.as_slice(), "{query:?}");
}

fn decode(s: &str) -> String {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .expect("the encoding of UTF-8 decodes to UTF-8")
        .into_owned()
}

//! `securesend providers`.

use std::fmt::Write as _;

use serde_json::json;

use super::Outcome;

pub fn run() -> Outcome {
    let all = securesend::providers();
    let mut text = String::from("Providers:\n");
    for p in &all {
        let state = if p.is_compiled() {
            "built in".to_owned()
        } else {
            format!("not built in (feature `{}`)", p.feature)
        };
        let _ = writeln!(text, "  {:<12} {:<16} {}", p.key, state, p.service);
    }
    let compiled: Vec<_> = all
        .iter()
        .filter_map(|p| p.capabilities().map(|c| (p.key, c)))
        .collect();
    if let Some((_, first)) = compiled.first() {
        text.push_str("\nCapabilities:\n");
        let _ = write!(text, "  {:<20}", "");
        for (key, _) in &compiled {
            let _ = write!(text, " {key:<12}");
        }
        text.push('\n');
        let columns: Vec<_> = compiled.iter().map(|(_, c)| c.rows()).collect();
        for (row, (label, _)) in first.rows().iter().enumerate() {
            let _ = write!(text, "  {label:<20}");
            for col in &columns {
                let _ = write!(text, " {:<12}", col[row].1);
            }
            text.push('\n');
        }
    }
    let json = json!({
        "providers": all.iter().map(|p| json!({
            "key": p.key,
            "service": p.service,
            "feature": p.feature,
            "compiled": p.is_compiled(),
            "capabilities": p.capabilities(),
        })).collect::<Vec<_>>()
    });
    Outcome::ok(json, text)
}

//! The results: a markdown table for people and one JSON line for scripts.

use serde_json::{Map, Value};

/// One line of the table.
#[derive(Debug, Default)]
pub struct Row {
    pub id: &'static str,
    pub what: String,
    pub securesend: String,
    pub reference: String,
    pub ratio: Option<f64>,
    pub target: String,
    pub met: Option<bool>,
}

impl Row {
    /// The row's ratio, its target and its verdict, all from one threshold: met at `min` or
    /// above.
    pub fn at_least(self, ratio: f64, min: f64) -> Row {
        self.judged(ratio, format!("≥ {min:.2}"), ratio >= min)
    }

    /// Met at `max` or below.
    pub fn at_most(self, ratio: f64, max: f64) -> Row {
        self.judged(ratio, format!("≤ {max:.2}"), ratio <= max)
    }

    fn judged(self, ratio: f64, target: String, met: bool) -> Row {
        Row {
            ratio: Some(ratio),
            target,
            met: Some(met),
            ..self
        }
    }
}

/// Everything measured so far.
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<Row>,
    figures: Map<String, Value>,
    notes: Vec<String>,
}

impl Report {
    /// Records a figure for the JSON line.
    pub fn figure(&mut self, key: &str, value: impl Into<Value>) {
        self.figures.insert(key.to_owned(), value.into());
    }

    /// Adds a table row; its ratio and verdict also go into the JSON line.
    pub fn row(&mut self, row: Row) {
        if let Some(r) = row.ratio {
            self.figure(&format!("{}_ratio", row.id), round(r, 3));
        }
        if let Some(m) = row.met {
            self.figure(&format!("{}_met", row.id), m);
        }
        self.rows.push(row);
    }

    /// A line printed under the table (how a figure was derived).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// The markdown table, its notes, then the JSON line.
    pub fn print(&self) {
        println!();
        println!("| # | measurement | securesend | reference | ratio | target | met |");
        println!("|---|---|---|---|---|---|---|");
        for r in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.id,
                r.what,
                r.securesend,
                r.reference,
                r.ratio.map(|x| format!("{x:.2}")).unwrap_or_default(),
                r.target,
                match r.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                }
            );
        }
        if !self.notes.is_empty() {
            println!();
            for n in &self.notes {
                println!("- {n}");
            }
        }
        println!();
        println!("{}", Value::Object(self.figures.clone()));
    }
}

/// Rounds for display and JSON (measurement noise is far above 3 decimals).
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

//! Queues three payslips and drains the queue with a worker, through the `local` provider.
//!
//! `cargo run -p securesend-examples --example queue_send` keeps the queue in
//! `./securesend-data/queue/queue.sqlite3` and the sent messages in `./securesend-data`.
//! Run it twice: the idempotency keys make the second run queue nothing new.

use securesend::queue::{self, EnqueueOptions, Stage, Worker, WorkerOptions};
use securesend::{Attachment, Cancel, Client, SecureMessage};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // No configuration file: the embedded default (`local` in ./securesend-data).
    let client = Client::discover(None)?;
    let profile = queue::default_profile(&client)?;
    let provider = client.connect(None)?;
    let q = queue::open(&client, None).await?;

    for (who, net) in [
        ("ada", "3120.00"),
        ("grace", "3305.50"),
        ("alan", "2990.75"),
    ] {
        let message = SecureMessage::builder()
            .to(format!("{who}@example.com"))
            .subject("Your payslip for November 2026")
            .text("Your payslip is attached.\n")
            .attach(Attachment::from_bytes(
                format!("payslip-{who}.csv"),
                format!("month,net\n2026-11,{net}\n"),
            ))
            .build()?;
        let options = EnqueueOptions {
            // The same key again returns the job already queued and stores nothing.
            idempotency_key: Some(format!("payslip-2026-11-{who}")),
            ..EnqueueOptions::default()
        };
        let job = q
            .enqueue(&profile, &provider, message, &options, Stage::Copy)
            .await?;
        println!(
            "{who}: job {} ({})",
            job.id(),
            if matches!(job, queue::Inserted::Created(_)) {
                "queued"
            } else {
                "already queued"
            }
        );
    }

    let options = WorkerOptions {
        drain: true,
        ..WorkerOptions::default()
    };
    let summary = Worker::new(q.clone(), queue::connector(&client), options)
        .on_report(std::sync::Arc::new(|r: &queue::JobReport| {
            println!(
                "job {} {}: {}",
                r.job,
                r.outcome,
                r.message_id.as_deref().unwrap_or("-")
            );
        }))
        .run(Cancel::new())
        .await?;
    println!("worker done: {:?}", summary.outcomes);
    Ok(())
}

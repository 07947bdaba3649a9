//! Uploads a file, downloads it by the returned id and checks it arrived intact.
//!
//! Uses the provider of your configuration (or the embedded `local` default):
//! `cargo run -p securesend-examples --example round_trip [PROFILE]`.

use securesend::{Attachment, Client, DownloadRequest, UploadRequest};

#[tokio::main]
async fn main() -> securesend::Result<()> {
    let profile = std::env::args().nth(1);
    let provider = Client::discover(None)?.connect(profile.as_deref())?;

    let contents: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let request =
        UploadRequest::builder(Attachment::from_bytes("round-trip.bin", contents.clone()))
            .folder("examples")
            .create_parents(true)
            .overwrite(true)
            .build()?;
    let uploaded = provider.upload(request).await?;
    securesend_examples::print_file("uploaded", &uploaded);

    // `into_bytes` verifies the size and every checksum the service reported.
    let bytes = provider
        .download(DownloadRequest::new(&uploaded.id))
        .await?
        .into_bytes(16 << 20)
        .await?;
    assert_eq!(bytes.as_ref(), contents.as_slice());
    println!("downloaded {} bytes back, identical", bytes.len());
    Ok(())
}

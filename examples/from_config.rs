//! Connects whatever provider the configuration names and says what it can do.
//!
//! `cargo run -p securesend-examples --example from_config [CONFIG_FILE] [PROFILE]`

use securesend::Client;

fn main() -> securesend::Result<()> {
    let mut args = std::env::args().skip(1);
    let config = args.next().map(std::path::PathBuf::from);
    let profile = args.next();
    let client = Client::discover(config.as_deref())?;
    let chosen = client.profile(profile.as_deref())?;
    let provider = securesend::connect(&chosen)?;
    println!(
        "profile `{}` uses provider `{}`",
        chosen.name(),
        provider.name()
    );
    for (capability, value) in provider.capabilities().rows() {
        println!("  {capability:<20} {value}");
    }
    Ok(())
}

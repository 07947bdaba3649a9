//! HTTP plumbing shared by the adapters (being built: see the foundation issue).

//! HTTP plumbing shared by the adapters.
//!
//! | need | item |
//! |---|---|
//! | tokens | [`TokenCache`], [`TokenSource`], [`Token`] |

mod token;

pub use token::{DEFAULT_REFRESH_MARGIN, Token, TokenCache, TokenSource};

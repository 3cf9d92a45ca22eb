//! The `token` commands: `show` reads the active user's token, `list` every CoreWeave token
//! the files hold, `rotate` replaces one, and `source` brings in the new token and checks it;
//! `store` moves it into the OS keyring (and back) and `credential` is the exec plugin that
//! reads it from there.

pub mod credential;
pub mod diff;
pub mod list;
pub mod rotate;
pub mod show;
pub mod source;
pub mod store;
pub mod terminal;
pub mod verify;

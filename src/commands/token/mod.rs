//! The `token` commands: `show` reads the active user's token, `list` every CoreWeave token
//! the files hold, `rotate` replaces one, and `source` brings in the new token and checks it;
//! `store` moves it into the OS keyring (and back) and `credential` is the exec plugin that
//! reads it from there. `holders` is what rotate, store and import share: which entries
//! hold a token, their credentials and the servers they send it to.

pub mod credential;
pub mod diff;
pub mod holders;
pub mod list;
pub mod rotate;
pub mod show;
pub mod source;
pub mod store;
pub mod terminal;
pub mod verify;

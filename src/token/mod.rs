//! The `token` commands: `show` reads the active user's token, `rotate` replaces it, and
//! `source` brings in the new token and checks it.

pub mod diff;
pub mod rotate;
pub mod show;
pub mod source;
pub mod terminal;
pub mod verify;

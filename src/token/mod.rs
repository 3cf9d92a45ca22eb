//! The `token` commands: `show` reads the active user's token, `list` every CoreWeave token
//! the files hold, `rotate` replaces one, and `source` brings in the new token and checks it.

pub mod diff;
pub mod list;
pub mod rotate;
pub mod show;
pub mod source;
pub mod verify;

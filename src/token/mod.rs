//! The `token` commands: `show` reads the active user's token, `rotate` replaces it.

pub mod show;

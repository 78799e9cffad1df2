//! lobby-kiosk: a self-service visitor check-in kiosk.
//!
//! The crate is layered so that the rules of a visit can be tested without any device:
//!
//! * [`domain`] is pure: invite tokens and short codes, the visit state machine, walk-in
//!   validation and automatic check-out. No I/O, no clocks read, no database.
//! * [`config`] turns `kiosk.toml` into typed settings with errors that point at the file,
//!   line, column and key.
//! * [`store`] is the local SQLite cache: migrations, visits, events, the outbox for the hub.
//! * [`qr`] renders QR codes to PNG for minted invites.
//! * [`kiosk`] holds the use cases (scan a code, register a walk-in, upkeep) on top of the
//!   store; [`keys`] finds the keys invites are verified with.

pub mod config;
pub mod domain;
pub mod keys;
pub mod kiosk;
pub mod print;
pub mod qr;
pub mod scan;
pub mod store;
pub mod text;

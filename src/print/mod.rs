//! Badge printing on ESC/POS thermal printers.
//!
//! ```text
//!   visit + [badge] ─▶ layout (pure) ─▶ ESC/POS bytes ─▶ transport (usb, serial, tcp, file)
//!                                         │                   └─ status (DLE EOT)
//!                                         └─▶ renderer ─▶ PNG (preview printer, tests)
//! ```
//! Print jobs live in the store's queue; a failed job stays there for staff to reprint and
//! the visit is recorded whatever the printer does.

pub mod escpos;
pub mod font;
pub mod layout;
pub mod queue;
pub mod render;
pub mod status;
pub mod transport;

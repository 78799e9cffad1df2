//! The pure core: everything here is plain data and functions, with no I/O and no clock reads.
//! Callers pass the current time in, so every rule can be tested at any moment.

pub mod admit;
pub mod checkout;
pub mod invite;
pub mod shortcode;
pub mod visit;
pub mod walkin;

/// All moments are UTC; local time only appears when rendering or when applying a
/// time-of-day rule with the site's time zone.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

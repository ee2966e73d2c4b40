//! Keyway's pure core: the site model, the one model of power and locks, the scenarios and the
//! life-safety checker.
//!
//! Architecture invariant: nothing here does I/O, spawns a thread or reads a clock. Time comes
//! in as an argument ([`physics::Millis`]), text comes in as a string, and reports go out as
//! values and strings for the binary to print.

pub mod analysis;
pub mod check;
pub mod controller;
pub mod credentials;
pub mod emergency;
pub mod load;
pub mod people;
pub mod physics;
pub mod replay;
pub mod report;
pub mod rules;
pub mod scenario;
pub mod schedule;
pub mod site;

pub use load::{SiteError, SiteErrors, parse_site};
pub use site::Site;

//! Keyway's hardware adapters. Each turns what a device does into inputs for the controller,
//! or the controller's commands into what a device does, and holds no policy of its own.
//!
//! - [`card`]: card data (bits) to the credential numbers the controller knows.
//! - [`wiegand`]: a Wiegand decoder from edge timestamps, sans-IO.

pub mod card;
pub mod wiegand;

//! Keyway's hardware adapters. Each turns what a device does into inputs for the controller,
//! or the controller's commands into what a device does, and holds no policy of its own.
//!
//! - [`card`]: card data (bits) to the credential numbers the controller knows.
//! - [`wiegand`]: a Wiegand decoder from edge timestamps, sans-IO.
//! - [`gpio`]: relay outputs and debounced inputs on the Linux GPIO character device, with
//!   fakes beside the real driver.

pub mod card;
pub mod gpio;
pub mod osdp;
pub mod wiegand;

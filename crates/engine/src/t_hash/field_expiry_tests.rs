//! Field expiry tests.

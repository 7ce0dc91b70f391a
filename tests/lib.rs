//! End-to-end tests of casegrid; see `e2e/main.rs`.

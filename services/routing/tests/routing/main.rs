//! Routing in-process against a real `nats-server` (the test kit's), with the injected
//! clock moved by hand: no sleeps decide a deadline.
//!
//! - `harness`: routing running in-process; a desk that appends as intake would.
//! - `escalation`: the configured ladder, recorded by level id; a reloaded ladder.
//! - `lagging`: a replica behind the leader answers direct gets; every filing is dispatched.
//! - `stall`: leftover deadline rows can never stop the district's timers; a refused
//!   row is removed.

mod escalation;
mod harness;
mod lagging;
mod stall;

//! The web console in a real browser: Debian's headless `chromium` driven over W3C
//! WebDriver (`chromedriver`) against the built binaries as separate processes (the
//! end-to-end kit). `scripts/test` installs chromium and chromium-driver when missing
//! and builds the binaries first.
//!
//! - `webdriver`: a thin WebDriver client (sessions, keys, scripts, screenshots).
//! - `walkthrough`: three roles through one case — the operator files it by keys
//!   alone; the department sees it arrive without reloading, signs and replies; the
//!   operator records a satisfied callback; the supervisor sees the figures change and
//!   the timeline with a verified hash chain. Also: labels and focus order, scope, CSRF,
//!   the patrol form at 390×844, English. Screenshots go to `target/console-screenshots/`.
//!   And a street's case: sign, whistle, the summoned department reports in, the street
//!   rates it and asks for an extension, the supervisor grants it and issues a 督办.

#[allow(dead_code)]
#[path = "../e2e/kit.rs"]
mod kit;
mod walkthrough;
mod webdriver;

//! The clock services read time from, injected so deadline logic is tested by
//! moving time rather than sleeping.

use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// Wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().expect("clock lock") += by;
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().expect("clock lock") = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.0
            .lock()
            .expect("clock lock")
            .to_offset(time::UtcOffset::UTC)
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// A clock that reads the current instant (RFC 3339) from a file on every call, so a
/// test can move the time of services running as separate processes. Test only:
/// selected by `[clock] file`; an unreadable file falls back to system time.
#[derive(Debug, Clone)]
pub struct FileClock(std::path::PathBuf);

impl FileClock {
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        Self(path.into())
    }

    /// Writes `at` for every process reading this clock.
    pub fn set(&self, at: OffsetDateTime) -> std::io::Result<()> {
        let text = at
            .format(&time::format_description::well_known::Rfc3339)
            .expect("RFC 3339 formats every instant");
        let tmp = self.0.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(tmp, &self.0)
    }
}

impl Clock for FileClock {
    fn now(&self) -> OffsetDateTime {
        std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|t| {
                OffsetDateTime::parse(t.trim(), &time::format_description::well_known::Rfc3339).ok()
            })
            .map(|t| t.to_offset(time::UtcOffset::UTC))
            .unwrap_or_else(OffsetDateTime::now_utc)
    }
}

/// The process's clock: system time, or a [`FileClock`] when `[clock] file` is set.
pub fn from_settings(settings: &crate::settings::ClockSettings) -> SharedClock {
    match &settings.file {
        Some(path) => {
            tracing::warn!(path = %path.display(), "time comes from a clock file (testing only)");
            Arc::new(FileClock::new(path))
        }
        None => Arc::new(SystemClock),
    }
}

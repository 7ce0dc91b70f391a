//! One progress display for long work (`rebuild`, `audit verify`, `bench`): on a
//! terminal a bar with events/s and the time left (`indicatif`, on stderr); otherwise
//! (a log, CI) a plain line every [`PLAIN_EVERY`], so stdout keeps only the results.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the plain display writes a line.
pub(crate) const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Progress {
    what: String,
    /// What is counted: `events`, `rows`.
    unit: &'static str,
    bar: ProgressBar,
    /// Without a terminal: when the work started, when the last line was written.
    plain: Option<Mutex<(Instant, Option<Instant>)>>,
}

impl Progress {
    /// `total` events to go (it may still change: [`Self::set`] takes it each time).
    pub(crate) fn new(what: impl Into<String>, total: u64) -> Self {
        Self::counting(what, "events", total)
    }

    /// Like [`Self::new`], counting `unit` (`rows`) instead of events.
    pub(crate) fn counting(what: impl Into<String>, unit: &'static str, total: u64) -> Self {
        let what = what.into();
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit}, {{per_sec}}, {{eta}} left"
                ))
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_message(what.clone());
            Self {
                what,
                unit,
                bar,
                plain: None,
            }
        } else {
            Self {
                what,
                unit,
                bar: ProgressBar::hidden(),
                plain: Some(Mutex::new((Instant::now(), None))),
            }
        }
    }

    /// `done` of `total` events.
    pub(crate) fn set(&self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
        if let Some(plain) = &self.plain {
            let mut plain = plain.lock().unwrap_or_else(|e| e.into_inner());
            let (started, last) = *plain;
            let now = Instant::now();
            if now.duration_since(last.unwrap_or(started)) >= PLAIN_EVERY {
                eprintln!(
                    "{}",
                    line(&self.what, self.unit, done, total, now - started)
                );
                plain.1 = Some(now);
            }
        }
    }

    /// Takes the bar away; without a terminal, a last line where any was written.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
        if let Some(plain) = &self.plain {
            let (started, last) = *plain.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some() {
                eprintln!(
                    "{}: done, {} {} in {:.1} s",
                    self.what,
                    self.bar.position(),
                    self.unit,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
}

/// `casegrid_readmodel::rebuild` with its progress shown as `what`.
pub(crate) async fn rebuild(
    what: &str,
    log: &casegrid_eventlog::EventLog,
    into: &casegrid_readmodel::ReadModel,
) -> casegrid_readmodel::Result<u64> {
    let progress = Progress::new(what, 0);
    let applied =
        casegrid_readmodel::rebuild_with_progress(log, into, &|d, t| progress.set(d, t)).await;
    progress.finish();
    applied
}

/// The plain display's line: `rebuild: 120000/1000000 events (12%), 85000 events/s,
/// 11 s left`.
pub(crate) fn line(what: &str, unit: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
    let percent = done.saturating_mul(100).checked_div(total).unwrap_or(100);
    let left = if rate > 0.0 {
        format!("{:.0} s left", total.saturating_sub(done) as f64 / rate)
    } else {
        "time left unknown".to_owned()
    };
    format!("{what}: {done}/{total} {unit} ({percent}%), {rate:.0} {unit}/s, {left}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_line_tells_rate_and_time_left() {
        assert_eq!(
            line(
                "rebuild",
                "events",
                100_000,
                1_000_000,
                Duration::from_secs(2)
            ),
            "rebuild: 100000/1000000 events (10%), 50000 events/s, 18 s left"
        );
        assert_eq!(
            line("audit verify", "events", 0, 10, Duration::ZERO),
            "audit verify: 0/10 events (0%), 0 events/s, time left unknown"
        );
        assert!(line("x", "rows", 5, 0, Duration::from_secs(1)).contains("(100%)"));
    }

    #[test]
    fn without_a_terminal_the_bar_is_hidden_and_counts() {
        let progress = Progress::new("test", 10);
        progress.set(4, 10);
        assert_eq!(progress.bar.position(), 4);
        assert_eq!(progress.bar.length(), Some(10));
        progress.finish();
    }
}

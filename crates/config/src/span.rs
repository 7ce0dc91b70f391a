//! A deadline span as the configuration writes it: `30m`, `2h`, `5d`, `1d4h`.
//!
//! A span keeps days apart from hours and minutes because what a day is depends on
//! how the deadline runs: in working time a day is the working hours of one day
//! (1 working day = 7 hours in the demo calendar); around the clock it is 24 hours.

use std::fmt;
use std::str::FromStr;
use time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub days: u32,
    pub minutes: u32,
}

impl Span {
    /// Reads `<n>d`, `<n>h`, `<n>m` or a combination in that order (`1d4h30m`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a duration like 30m, 2h, 5d or 1d4h");
        let mut span = Span::default();
        let mut rest = s.trim();
        // Units must come once each, largest first.
        let mut allowed: &[char] = &['d', 'h', 'm'];
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 6 {
                return Err(bad());
            }
            let n: u32 = rest[..digits].parse().map_err(|_| bad())?;
            let unit = rest[digits..].chars().next().ok_or_else(bad)?;
            let at = allowed.iter().position(|u| *u == unit).ok_or_else(bad)?;
            allowed = &allowed[at + 1..];
            match unit {
                'd' => span.days = n,
                'h' => span.minutes += n * 60,
                _ => span.minutes += n,
            }
            rest = &rest[digits + 1..];
        }
        Ok(span)
    }

    pub fn is_zero(&self) -> bool {
        self.days == 0 && self.minutes == 0
    }

    /// The span as a duration when one day lasts `day`.
    pub fn with_day(&self, day: Duration) -> Duration {
        day * self.days + Duration::minutes(self.minutes.into())
    }
}

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0m");
        }
        let (h, m) = (self.minutes / 60, self.minutes % 60);
        if self.days > 0 {
            write!(f, "{}d", self.days)?;
        }
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_and_print() {
        for (text, days, minutes, shown) in [
            ("30m", 0, 30, "30m"),
            ("2h", 0, 120, "2h"),
            ("5d", 5, 0, "5d"),
            ("1d4h30m", 1, 270, "1d4h30m"),
            ("90m", 0, 90, "1h30m"),
        ] {
            let span = Span::parse(text).unwrap();
            assert_eq!((span.days, span.minutes), (days, minutes), "{text}");
            assert_eq!(span.to_string(), shown);
        }
        for bad in ["", "2", "h", "2x", "2h1d", "1h1h", "-1h", "1.5h", "2 h"] {
            assert!(Span::parse(bad).is_err(), "{bad:?} should not parse");
        }
        let day = Duration::hours(7);
        assert_eq!(
            Span::parse("1d2h").unwrap().with_day(day),
            Duration::hours(9)
        );
    }
}

//! The working calendar (`calendar.toml`): working hours in the city's offset,
//! weekends, public holidays and make-up working days (调休), and deadline arithmetic
//! in working time.
//!
//! A working instant lies inside one of the day's working windows on a working day.
//! A day is a working day when it is a make-up day, or when it is neither a holiday
//! nor a weekend day.

use crate::Problems;
use serde::Deserialize;
use std::collections::BTreeMap;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

const DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");
const CLOCK: &[BorrowedFormatItem<'static>] = format_description!("[hour]:[minute]");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// The city's offset from UTC; working hours are read in it.
    pub offset: UtcOffset,
    /// Working windows of a working day, `[start, end)`, sorted and disjoint.
    pub hours: Vec<(Time, Time)>,
    pub weekend: Vec<Weekday>,
    /// Public holidays, each with the festival's name.
    pub holidays: BTreeMap<Date, String>,
    /// Weekend days that are working days (调休), each with the festival it serves.
    pub makeup_days: BTreeMap<Date, String>,
}

impl Calendar {
    pub fn is_working_day(&self, day: Date) -> bool {
        if self.holidays.contains_key(&day) {
            return false;
        }
        self.makeup_days.contains_key(&day) || !self.weekend.contains(&day.weekday())
    }

    /// The working hours of one working day: what `1d` means in working time.
    pub fn working_day(&self) -> Duration {
        self.hours.iter().map(|(s, e)| *e - *s).sum()
    }

    /// The instant `duration` of working time after `start`. A start outside working
    /// hours begins at the next working instant; a deadline that uses up a window
    /// exactly ends at the window's end (12:00, not 13:30).
    pub fn add_working(&self, start: OffsetDateTime, duration: Duration) -> OffsetDateTime {
        let mut left = duration.max(Duration::ZERO);
        let local = start.to_offset(self.offset);
        let mut day = local.date();
        let mut from = local.time();
        loop {
            if self.is_working_day(day) {
                for &(open, close) in &self.hours {
                    let begin = open.max(from);
                    if begin >= close {
                        continue;
                    }
                    let available = close - begin;
                    if left <= available {
                        return self.at(day, begin) + left;
                    }
                    left -= available;
                }
            }
            // A validated calendar has working days every week, so this ends long
            // before the end of the representable dates.
            match day.next_day() {
                Some(next) => day = next,
                None => return self.at(day, Time::MIDNIGHT) + left,
            }
            from = Time::MIDNIGHT;
        }
    }

    /// The latest instant from which `duration` of working time remains until `end`
    /// (the inverse of [`Self::add_working`], to the minute).
    pub fn sub_working(&self, end: OffsetDateTime, duration: Duration) -> OffsetDateTime {
        if duration <= Duration::ZERO {
            return end;
        }
        // Search back far enough, then narrow down: working_between is monotonic.
        let mut lo = end - Duration::days(7);
        while self.working_between(lo, end) < duration {
            lo -= Duration::days(7);
        }
        let mut hi = end;
        while hi - lo > Duration::MINUTE {
            let mid = lo + (hi - lo) / 2;
            if self.working_between(mid, end) >= duration {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The working time between `a` and `b` (zero when `b` is not after `a`): what is
    /// used of a deadline when a case is suspended at `b` after it started at `a`.
    pub fn working_between(&self, a: OffsetDateTime, b: OffsetDateTime) -> Duration {
        let mut total = Duration::ZERO;
        if b <= a {
            return total;
        }
        let (a, b) = (a.to_offset(self.offset), b.to_offset(self.offset));
        let mut day = a.date();
        loop {
            if self.is_working_day(day) {
                for &(open, close) in &self.hours {
                    let begin = self.at(day, open).max(a);
                    let end = self.at(day, close).min(b);
                    if end > begin {
                        total += end - begin;
                    }
                }
            }
            match day.next_day() {
                Some(next) if next <= b.date() => day = next,
                _ => return total,
            }
        }
    }

    fn at(&self, day: Date, t: Time) -> OffsetDateTime {
        PrimitiveDateTime::new(day, t).assume_offset(self.offset)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CalendarFile {
    offset: String,
    weekend: Vec<String>,
    hours: Vec<String>,
    #[serde(default)]
    holiday: Vec<HolidayEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    name: String,
    dates: Vec<String>,
    #[serde(default)]
    makeup: Vec<String>,
}

/// `2026-10-01` or an inclusive range `2026-10-01..2026-10-07`.
fn parse_dates(s: &str) -> Result<Vec<Date>, String> {
    let one = |d: &str| {
        Date::parse(d.trim(), DATE).map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))
    };
    let (first, last) = match s.split_once("..") {
        Some((a, b)) => (one(a)?, one(b)?),
        None => {
            let d = one(s)?;
            (d, d)
        }
    };
    if last < first || last - first > Duration::days(31) {
        return Err(format!(
            "{s:?} is not a range of at most a month, first date first"
        ));
    }
    let mut days = vec![first];
    while let Some(next) = days
        .last()
        .and_then(|d| d.next_day())
        .filter(|d| *d <= last)
    {
        days.push(next);
    }
    Ok(days)
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

impl CalendarFile {
    /// Checks every entry; `None` when the calendar cannot be used.
    pub(crate) fn validate(self, problems: &mut Problems<'_>) -> Option<Calendar> {
        let before = problems.count();
        let offset = UtcOffset::parse(
            &self.offset,
            format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .map_err(|_| {
            problems.add(
                "offset",
                format!("{:?} is not an offset like +08:00", self.offset),
            )
        })
        .unwrap_or(UtcOffset::UTC);
        let mut weekend = Vec::new();
        for w in &self.weekend {
            match parse_weekday(w) {
                Some(d) if weekend.contains(&d) => {
                    problems.add("weekend", format!("{w} is listed twice"))
                }
                Some(d) => weekend.push(d),
                None => problems.add("weekend", format!("{w:?} is not a weekday like saturday")),
            }
        }
        if weekend.len() >= 7 {
            problems.add("weekend", "every day is a weekend day");
        }
        let mut hours = Vec::new();
        for h in &self.hours {
            let window = h.split_once('-').and_then(|(a, b)| {
                Some((
                    Time::parse(a.trim(), CLOCK).ok()?,
                    Time::parse(b.trim(), CLOCK).ok()?,
                ))
            });
            match window {
                Some((open, close)) if open < close => hours.push((open, close)),
                _ => problems.add(
                    format!("hours {h}"),
                    "not a working window like 09:00-12:00 (start before end)",
                ),
            }
        }
        hours.sort();
        if hours.is_empty() {
            problems.add("hours", "no working hours");
        }
        for pair in hours.windows(2) {
            if pair[1].0 < pair[0].1 {
                problems.add("hours", "working windows overlap");
            }
        }
        let mut holidays = BTreeMap::new();
        let mut makeup_days = BTreeMap::new();
        for h in self.holiday {
            let entry = format!("holiday {}", h.name);
            for s in &h.dates {
                let Ok(days) = parse_dates(s).map_err(|m| problems.add(entry.as_str(), m)) else {
                    continue;
                };
                for day in days {
                    if let Some(other) = holidays.insert(day, h.name.clone()) {
                        problems.add(
                            entry.as_str(),
                            format!("{day} is already a holiday of {other}"),
                        );
                    }
                }
            }
            for s in &h.makeup {
                let Ok(days) = parse_dates(s).map_err(|m| problems.add(entry.as_str(), m)) else {
                    continue;
                };
                for day in days {
                    if !weekend.contains(&day.weekday()) {
                        problems.add(
                            entry.as_str(),
                            format!(
                                "make-up day {day} is a {}, not a weekend day",
                                day.weekday()
                            ),
                        );
                    }
                    if makeup_days.insert(day, h.name.clone()).is_some() {
                        problems.add(entry.as_str(), format!("make-up day {day} is listed twice"));
                    }
                }
            }
        }
        for day in makeup_days.keys() {
            if let Some(name) = holidays.get(day) {
                problems.add(
                    format!("holiday {name}"),
                    format!("{day} is both a holiday and a make-up day"),
                );
            }
        }
        (problems.count() == before).then_some(Calendar {
            offset,
            hours,
            weekend,
            holidays,
            makeup_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// The demo calendar's shape with the part of 2026 the tests need (the demo
    /// file itself is checked against the same answers in the crate's tests).
    fn calendar() -> Calendar {
        let mut problems = Vec::new();
        let file: CalendarFile = toml::from_str(
            r#"
            offset = "+08:00"
            weekend = ["saturday", "sunday"]
            hours = ["13:30-17:30", "09:00-12:00"]
            [[holiday]]
            name = "劳动节"
            dates = ["2026-05-01..2026-05-05"]
            makeup = ["2026-05-09"]
            "#,
        )
        .unwrap();
        let cal = file
            .validate(&mut Problems::new(std::path::Path::new("c"), &mut problems))
            .unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        cal
    }

    #[test]
    fn working_time_skips_lunch_nights_weekends_and_holidays() {
        let c = calendar();
        assert_eq!(c.working_day(), Duration::hours(7));
        // Inside a window.
        assert_eq!(
            c.add_working(datetime!(2026-04-14 10:00 +08:00), Duration::hours(2)),
            datetime!(2026-04-14 12:00 +08:00)
        );
        // Over lunch.
        assert_eq!(
            c.add_working(datetime!(2026-04-14 11:00 +08:00), Duration::hours(2)),
            datetime!(2026-04-14 14:30 +08:00)
        );
        // Before opening, given in UTC: 00:30Z is 08:30 local.
        assert_eq!(
            c.add_working(datetime!(2026-04-14 00:30 UTC), Duration::minutes(30)),
            datetime!(2026-04-14 09:30 +08:00)
        );
        // Friday evening → Monday.
        assert_eq!(
            c.add_working(datetime!(2026-04-17 16:30 +08:00), Duration::hours(2)),
            datetime!(2026-04-20 10:00 +08:00)
        );
        // Zero from outside hours is the next working instant.
        assert_eq!(
            c.add_working(datetime!(2026-04-18 03:00 +08:00), Duration::ZERO),
            datetime!(2026-04-20 09:00 +08:00)
        );
        // 劳动节: Thu 30 Apr 16:00 + 1 working day (7h): 1.5h on Thursday, then the
        // holiday 1–5 May, then Wed 6 May 09:00 + 5.5h = 16:00.
        assert_eq!(
            c.add_working(datetime!(2026-04-30 16:00 +08:00), Duration::hours(7)),
            datetime!(2026-05-06 16:00 +08:00)
        );
        // The make-up Saturday 9 May counts: Fri 8 May 15:00 + 5h = 2.5h Friday,
        // then Saturday 09:00 + 2.5h = 11:30.
        assert_eq!(
            c.add_working(datetime!(2026-05-08 15:00 +08:00), Duration::hours(5)),
            datetime!(2026-05-09 11:30 +08:00)
        );
    }

    #[test]
    fn working_between_is_the_inverse_of_add_working() {
        let c = calendar();
        let a = datetime!(2026-04-30 16:00 +08:00);
        let b = datetime!(2026-05-06 16:00 +08:00);
        assert_eq!(c.working_between(a, b), Duration::hours(7));
        assert_eq!(c.working_between(b, a), Duration::ZERO);
        // Across a night, in mixed offsets.
        assert_eq!(
            c.working_between(
                datetime!(2026-04-14 17:00 +08:00),
                datetime!(2026-04-15 02:00 UTC)
            ),
            Duration::minutes(90)
        );
        for minutes in [0, 1, 59, 180, 421, 2000, 9000] {
            let d = Duration::minutes(minutes);
            let end = c.add_working(a, d);
            assert_eq!(c.working_between(a, end), d, "{minutes} minutes");
        }
    }

    #[test]
    fn dates_and_ranges() {
        assert_eq!(parse_dates("2026-10-01..2026-10-07").unwrap().len(), 7);
        assert_eq!(parse_dates("2026-10-01").unwrap().len(), 1);
        assert!(parse_dates("2026-02-30").is_err());
        assert!(parse_dates("2026-10-07..2026-10-01").is_err());
        assert!(parse_dates("National Day").is_err());
    }
}

//! Weekly schedule spans such as `"Mon-Fri 08:00-18:00"`.
//!
//! A span names days (a day, a range of days that may wrap past Sunday, or a comma-separated
//! list of both) and a local time range `[start, end)`. An end earlier than the start runs
//! past midnight into the next day; `24:00` is accepted as an end.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::physics::Millis;
use crate::site::Schedule;

/// One parsed weekly span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeeklySpan {
    /// Bit 0 is Monday, bit 6 is Sunday: the days on which the span starts.
    pub days: u8,
    /// Minutes after local midnight.
    pub start_minute: u16,
    /// Minutes after local midnight; at most 1440. Below `start_minute`: ends the next day.
    pub end_minute: u16,
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl WeeklySpan {
    /// Parses a span, or says what is wrong with it in words a person can act on.
    pub fn parse(text: &str) -> Result<WeeklySpan, String> {
        let (days_text, times_text) = text.trim().split_once(' ').ok_or_else(|| {
            "expected days and a time range, like \"Mon-Fri 08:00-18:00\"".to_string()
        })?;
        let mut days = 0u8;
        for item in days_text.split(',') {
            let (first, last) = match item.split_once('-') {
                Some((first, last)) => (parse_day(first)?, parse_day(last)?),
                None => (parse_day(item)?, parse_day(item)?),
            };
            let mut day = first;
            loop {
                days |= 1 << day;
                if day == last {
                    break;
                }
                day = (day + 1) % 7;
            }
        }
        let (start, end) = times_text.trim().split_once('-').ok_or_else(|| {
            format!("expected a time range like \"08:00-18:00\", found {times_text:?}")
        })?;
        let start_minute = parse_time(start)?;
        let end_minute = parse_time(end)?;
        if start_minute == 1440 {
            return Err("a span cannot start at 24:00".to_string());
        }
        if start_minute == end_minute {
            return Err(format!(
                "the span {times_text:?} is empty: its start equals its end"
            ));
        }
        Ok(WeeklySpan {
            days,
            start_minute,
            end_minute,
        })
    }

    /// Whether local time `minute` on weekday `day` (0 = Monday) falls in the span.
    pub fn contains(&self, day: u8, minute: u16) -> bool {
        let starts_on = |d: u8| self.days & (1 << d) != 0;
        if self.start_minute < self.end_minute {
            starts_on(day) && (self.start_minute..self.end_minute).contains(&minute)
        } else {
            // An overnight span: the evening part on its own days, the morning part the day after.
            let yesterday = (day + 6) % 7;
            (starts_on(day) && minute >= self.start_minute)
                || (starts_on(yesterday) && minute < self.end_minute)
        }
    }
}

impl std::fmt::Display for WeeklySpan {
    /// As the site file writes it: `Mon-Fri 08:00-18:00` (days in runs, from Monday).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut runs = Vec::new();
        let mut day = 0u8;
        while day < 7 {
            if self.days & (1 << day) == 0 {
                day += 1;
                continue;
            }
            let first = day;
            while day + 1 < 7 && self.days & (1 << (day + 1)) != 0 {
                day += 1;
            }
            runs.push(if first == day {
                DAY_NAMES[first as usize].to_string()
            } else {
                format!("{}-{}", DAY_NAMES[first as usize], DAY_NAMES[day as usize])
            });
            day += 1;
        }
        let time = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(
            f,
            "{} {}-{}",
            runs.join(","),
            time(self.start_minute),
            time(self.end_minute)
        )
    }
}

/// A holiday as the site file writes it: `YYYY-MM-DD`, nothing else.
pub fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    if text.len() != 10 {
        return None;
    }
    text.parse::<jiff::civil::Date>().ok()
}

/// A schedule from its text, checked as the site file's loader checks one: the id, each
/// weekly span and each holiday, every problem said with the value it is about.
pub fn schedule_from_text(
    id: &str,
    weekly: &[String],
    holidays: &[String],
) -> Result<Schedule, Vec<String>> {
    let mut problems = Vec::new();
    if !crate::site::is_valid_id(id) {
        problems.push(format!("id {id:?}: {}", crate::site::ID_RULE));
    }
    let mut spans = Vec::new();
    for text in weekly {
        match WeeklySpan::parse(text) {
            Ok(span) => spans.push(span),
            Err(problem) => problems.push(format!("weekly {text:?}: {problem}")),
        }
    }
    let mut dates = Vec::new();
    for text in holidays {
        match parse_date(text) {
            Some(date) => dates.push(date),
            None => problems.push(format!("holidays {text:?}: expected a date as YYYY-MM-DD")),
        }
    }
    dates.sort();
    dates.dedup();
    if problems.is_empty() {
        Ok(Schedule {
            id: id.to_string(),
            weekly: spans,
            holidays: dates,
        })
    } else {
        Err(problems)
    }
}

fn parse_day(text: &str) -> Result<u8, String> {
    DAY_NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text.trim()))
        .map(|i| i as u8)
        .ok_or_else(|| {
            format!("unknown day {text:?}: expected one of Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        })
}

fn parse_time(text: &str) -> Result<u16, String> {
    let bad = || format!("bad time {text:?}: expected HH:MM from 00:00 to 24:00");
    let (hours, minutes) = text.trim().split_once(':').ok_or_else(bad)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: u16 = hours.parse().map_err(|_| bad())?;
    let minutes: u16 = minutes.parse().map_err(|_| bad())?;
    if hours > 24 || minutes > 59 || (hours == 24 && minutes != 0) {
        return Err(bad());
    }
    Ok(hours * 60 + minutes)
}

/// Whether a schedule is active at an instant, in the site's time zone.
///
/// A span is `[start, end)` in local wall-clock time, so daylight saving changes move the
/// instants, not the hours. A holiday makes the schedule inactive for the whole local date,
/// including the morning part of an overnight span that started the evening before.
pub fn is_active(schedule: &Schedule, zone: &TimeZone, now: Millis) -> bool {
    let Ok(timestamp) = Timestamp::from_millisecond(now) else {
        return false;
    };
    let local = timestamp.to_zoned_datetime(zone.clone());
    if schedule.holidays.contains(&local.date()) {
        return false;
    }
    let day = local.weekday().to_monday_zero_offset() as u8;
    let minute = local.hour() as u16 * 60 + local.minute() as u16;
    schedule
        .weekly
        .iter()
        .any(|span| span.contains(day, minute))
}

/// The next instant after `now` at which the schedule may change state: a span's start or
/// end, or a local midnight when the schedule has holidays. `None` for a schedule with no
/// spans (never active). Local times that fall in a daylight-saving gap move forward, as a
/// wall clock would.
pub fn next_boundary(schedule: &Schedule, zone: &TimeZone, now: Millis) -> Option<Millis> {
    if schedule.weekly.is_empty() {
        return None;
    }
    let today = Timestamp::from_millisecond(now)
        .ok()?
        .to_zoned_datetime(zone.clone())
        .date();
    let mut best: Option<Millis> = None;
    let mut consider = |date: Date, minute: u16| {
        let (date, minute) = if minute >= 1440 {
            (date.tomorrow().ok(), minute - 1440)
        } else {
            (Some(date), minute)
        };
        let Some(date) = date else { return };
        let local = date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
        if let Ok(zoned) = local.to_zoned_datetime(zone.clone()) {
            let at = zoned.timestamp().as_millisecond();
            if at > now && best.is_none_or(|b| at < b) {
                best = Some(at);
            }
        }
    };
    // A week and a day covers every weekly span's next start and end.
    let mut date = today.yesterday().ok()?;
    for _ in 0..9 {
        let weekday = date.weekday().to_monday_zero_offset() as u8;
        for span in &schedule.weekly {
            if span.days & (1 << weekday) != 0 {
                consider(date, span.start_minute);
                let end = if span.end_minute > span.start_minute {
                    span.end_minute
                } else {
                    span.end_minute + 1440
                };
                consider(date, end);
            }
        }
        if !schedule.holidays.is_empty() {
            consider(date, 0);
        }
        date = date.tomorrow().ok()?;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_business_hours() {
        let span = WeeklySpan::parse("Mon-Fri 08:00-18:00").unwrap();
        assert_eq!(span.days, 0b0011111);
        assert!(span.contains(0, 8 * 60));
        assert!(!span.contains(0, 18 * 60));
        assert!(!span.contains(5, 9 * 60));
    }

    #[test]
    fn overnight_span_continues_into_the_next_day() {
        let span = WeeklySpan::parse("Fri 22:00-06:00").unwrap();
        assert!(span.contains(4, 23 * 60));
        assert!(span.contains(5, 5 * 60));
        assert!(!span.contains(5, 6 * 60));
        assert!(!span.contains(4, 5 * 60));
    }

    #[test]
    fn wrapping_day_range_and_lists() {
        let span = WeeklySpan::parse("Sat-Sun,Wed 00:00-24:00").unwrap();
        assert_eq!(span.days, 0b1100100);
    }

    fn business_hours(holidays: &[&str]) -> Schedule {
        Schedule {
            id: "hours".to_string(),
            weekly: vec![WeeklySpan::parse("Mon-Fri 08:00-18:00").unwrap()],
            holidays: holidays.iter().map(|d| d.parse().unwrap()).collect(),
        }
    }

    fn at(zone: &TimeZone, local: &str) -> Millis {
        let datetime: jiff::civil::DateTime = local.parse().unwrap();
        datetime
            .to_zoned_datetime(zone.clone())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn active_in_local_time_across_a_daylight_saving_change() {
        let chicago = TimeZone::get("America/Chicago").unwrap();
        let schedule = business_hours(&[]);
        // 2026-11-02 is the Monday after the autumn change; 2026-10-30 the Friday before.
        for day in ["2026-10-30", "2026-11-02"] {
            assert!(!is_active(
                &schedule,
                &chicago,
                at(&chicago, &format!("{day}T07:59:59"))
            ));
            assert!(is_active(
                &schedule,
                &chicago,
                at(&chicago, &format!("{day}T08:00:00"))
            ));
            assert!(!is_active(
                &schedule,
                &chicago,
                at(&chicago, &format!("{day}T18:00:00"))
            ));
        }
        // Same wall-clock hour, one more hour of UTC offset after the change.
        let before = at(&chicago, "2026-10-30T08:00:00");
        let after = at(&chicago, "2026-11-02T08:00:00");
        assert_eq!(after - before, (3 * 24 + 1) * 3_600_000);
    }

    #[test]
    fn holidays_are_inactive_all_day() {
        let zone = TimeZone::UTC;
        let schedule = business_hours(&["2026-12-25"]);
        assert!(!is_active(
            &schedule,
            &zone,
            at(&zone, "2026-12-25T10:00:00")
        ));
        assert!(is_active(
            &schedule,
            &zone,
            at(&zone, "2026-12-24T10:00:00")
        ));
    }

    #[test]
    fn next_boundary_finds_the_next_start_or_end() {
        let chicago = TimeZone::get("America/Chicago").unwrap();
        let schedule = business_hours(&[]);
        let friday_evening = at(&chicago, "2026-10-30T18:00:00");
        assert_eq!(
            next_boundary(&schedule, &chicago, at(&chicago, "2026-10-30T09:00:00")),
            Some(friday_evening)
        );
        // Over the weekend and the clock change, to Monday 08:00 local.
        assert_eq!(
            next_boundary(&schedule, &chicago, friday_evening),
            Some(at(&chicago, "2026-11-02T08:00:00"))
        );
        let with_holiday = business_hours(&["2026-12-25"]);
        assert_eq!(
            next_boundary(
                &with_holiday,
                &TimeZone::UTC,
                at(&TimeZone::UTC, "2026-12-24T19:00:00")
            ),
            Some(at(&TimeZone::UTC, "2026-12-25T00:00:00"))
        );
    }

    #[test]
    fn bad_spans_say_what_is_wrong() {
        assert!(
            WeeklySpan::parse("Mon-Fry 08:00-18:00")
                .unwrap_err()
                .contains("Fry")
        );
        assert!(
            WeeklySpan::parse("Mon 8:00-18:00")
                .unwrap_err()
                .contains("HH:MM")
        );
        assert!(
            WeeklySpan::parse("Mon 08:00-08:00")
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            WeeklySpan::parse("08:00-18:00")
                .unwrap_err()
                .contains("days")
        );
    }

    #[test]
    fn a_span_is_written_back_as_the_site_file_writes_it() {
        for text in [
            "Mon-Fri 08:00-18:00",
            "Sat 09:00-13:00",
            "Mon,Wed,Fri-Sun 22:00-06:00",
            "Mon-Sun 00:00-24:00",
        ] {
            let span = WeeklySpan::parse(text).unwrap();
            assert_eq!(span.to_string(), text);
            assert_eq!(WeeklySpan::parse(&span.to_string()).unwrap(), span);
        }
        // Written from Monday: the same days, in another order.
        assert_eq!(
            WeeklySpan::parse("Sat-Mon 10:00-12:00")
                .unwrap()
                .to_string(),
            "Mon,Sat-Sun 10:00-12:00"
        );
    }

    #[test]
    fn a_schedule_from_text_is_checked_as_the_file_is() {
        let problems = schedule_from_text(
            "Office",
            &[
                "Mon-Fri 08:00-18:00".to_string(),
                "Mon-Fry 08:00-18:00".to_string(),
            ],
            &["2026-12-25".to_string(), "25/12/2026".to_string()],
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("id \"Office\": bad id"));
        assert!(problems[1].starts_with("weekly \"Mon-Fry 08:00-18:00\": unknown day \"Fry\""));
        assert_eq!(
            problems[2],
            "holidays \"25/12/2026\": expected a date as YYYY-MM-DD"
        );
        let schedule = schedule_from_text(
            "office",
            &["Mon-Fri 08:00-18:00".to_string()],
            &[
                "2026-12-25".to_string(),
                "2026-12-24".to_string(),
                "2026-12-25".to_string(),
            ],
        )
        .unwrap();
        assert_eq!(schedule.holidays.len(), 2, "sorted and once each");
        assert_eq!(schedule.holidays[0].to_string(), "2026-12-24");
    }
}

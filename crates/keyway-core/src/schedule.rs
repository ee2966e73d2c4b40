//! Weekly schedule spans such as `"Mon-Fri 08:00-18:00"`.
//!
//! A span names days (a day, a range of days that may wrap past Sunday, or a comma-separated
//! list of both) and a local time range `[start, end)`. An end earlier than the start runs
//! past midnight into the next day; `24:00` is accepted as an end.

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
}

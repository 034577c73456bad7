//! Brazilian national business days: not a Saturday, a Sunday or a national holiday of
//! the financial calendar (`holidays.txt`, kept as data; the moveable feasts computed from
//! Easter). State and municipal holidays are not known here (see the README).

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use std::sync::OnceLock;

/// One line of `holidays.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Fixed { month: u32, day: u32, since: Option<i32> },
    FromEaster(i64),
}

const DATA: &str = include_str!("holidays.txt");

/// Why a line of the holiday data does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("holidays.txt line {line}: {reason}")]
pub struct DataError {
    line: usize,
    reason: &'static str,
}

fn parse(data: &str) -> Result<Vec<Rule>, DataError> {
    let mut rules = Vec::new();
    for (i, raw) in data.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason| DataError { line: i + 1, reason };
        let (when, rest) = line.split_once(' ').ok_or_else(|| err("a date and a name"))?;
        if rest.trim().is_empty() {
            return Err(err("a date and a name"));
        }
        if let Some(offset) = when.strip_prefix("easter") {
            let days: i64 = offset.parse().map_err(|_| err("easter+N or easter-N"))?;
            rules.push(Rule::FromEaster(days));
            continue;
        }
        let (month, day) = when.split_once('-').ok_or_else(|| err("MM-DD"))?;
        let (month, day): (u32, u32) = (month.parse().map_err(|_| err("MM"))?, day.parse().map_err(|_| err("DD"))?);
        // A leap year, so 02-29 would pass: the date must exist in some year.
        NaiveDate::from_ymd_opt(2024, month, day).ok_or_else(|| err("no such day"))?;
        let since = match rest.rsplit_once(" since ") {
            Some((_, year)) => Some(year.trim().parse().map_err(|_| err("since YYYY"))?),
            None => None,
        };
        rules.push(Rule::Fixed { month, day, since });
    }
    Ok(rules)
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    // The data is compiled in and a test parses it: it cannot fail at run time.
    RULES.get_or_init(|| parse(DATA).unwrap_or_default())
}

/// Easter Sunday of `year` (Gregorian; the anonymous algorithm, Meeus/Jones/Butcher).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

/// The date in Brasília at `at` (the date charges' due dates and payments are counted in).
pub fn brasilia_date(at: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    at.with_timezone(&crate::domain::transfer::brasilia()).date_naive()
}

/// A national holiday of the financial calendar.
pub fn is_holiday(date: NaiveDate) -> bool {
    let easter = easter(date.year());
    rules().iter().any(|rule| match *rule {
        Rule::Fixed { month, day, since } => {
            date.month() == month && date.day() == day && since.is_none_or(|y| date.year() >= y)
        }
        Rule::FromEaster(days) => easter.checked_add_signed(Duration::days(days)) == Some(date),
    })
}

pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(date)
}

/// `date` itself when it is a business day, else the next one.
pub fn business_day_on_or_after(date: NaiveDate) -> NaiveDate {
    let mut d = date;
    // A run of non-business days is at most a few days long (Carnival with its weekend).
    while !is_business_day(d) {
        d = d.succ_opt().unwrap_or(d);
        if d == NaiveDate::MAX {
            break;
        }
    }
    d
}

/// How many business days fall after `from` up to and including `to` (0 when `to` is not
/// after `from`).
pub fn business_days_after(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut count = 0;
    let mut d = from;
    while d < to {
        d = match d.succ_opt() {
            Some(next) => next,
            None => break,
        };
        if is_business_day(d) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_holiday_data_parses_line_by_line() {
        let rules = parse(DATA).unwrap();
        assert_eq!(rules.len(), 13);
        assert!(rules.contains(&Rule::Fixed { month: 11, day: 20, since: Some(2024) }));
        assert!(rules.contains(&Rule::FromEaster(60)));
        assert_eq!(parse("13-01 Nowhere").unwrap_err().reason, "no such day");
        assert_eq!(parse("easter+x Feast").unwrap_err().reason, "easter+N or easter-N");
        assert_eq!(parse("01-01").unwrap_err().reason, "a date and a name");
    }

    #[test]
    fn easter_falls_where_the_church_calendar_puts_it() {
        for (year, date) in [
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2000, "2000-04-23"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"),
        ] {
            assert_eq!(easter(year), day(date), "{year}");
        }
    }

    #[test]
    fn the_moveable_feasts_of_2026_follow_easter() {
        // Easter 2026 is 5 April: Carnival 16-17 February, Good Friday 3 April, Corpus
        // Christi 4 June.
        for holiday in ["2026-02-16", "2026-02-17", "2026-04-03", "2026-06-04"] {
            assert!(is_holiday(day(holiday)), "{holiday}");
        }
        assert!(!is_holiday(day("2026-02-18")), "Ash Wednesday is a (late-opening) business day");
    }

    #[test]
    fn every_date_chrono_can_hold_is_a_business_day_or_not_without_panicking() {
        for d in [NaiveDate::MIN, NaiveDate::MAX, NaiveDate::from_ymd_opt(-993, 6, 15).unwrap()] {
            let _ = is_business_day(d);
            let _ = business_day_on_or_after(d);
        }
    }

    #[test]
    fn black_consciousness_day_is_a_national_holiday_from_2024() {
        assert!(is_holiday(day("2024-11-20")));
        assert!(is_holiday(day("2026-11-20")));
        assert!(!is_holiday(day("2023-11-20")));
    }

    #[test]
    fn weekends_and_holidays_are_skipped_to_the_next_business_day() {
        // Saturday 5 September 2026, Sunday 6, Monday 7 (Independence Day): Tuesday 8.
        assert_eq!(business_day_on_or_after(day("2026-09-05")), day("2026-09-08"));
        assert_eq!(business_day_on_or_after(day("2026-09-08")), day("2026-09-08"));
        // Carnival 2026: Saturday 14 to Tuesday 17 February; Wednesday 18.
        assert_eq!(business_day_on_or_after(day("2026-02-14")), day("2026-02-18"));
    }

    #[test]
    fn business_days_are_counted_after_the_first_date_up_to_the_second() {
        // Friday 4 September 2026 to Wednesday 9: Tuesday 8 and Wednesday 9 (the weekend
        // and Independence Day on Monday 7 do not count).
        assert_eq!(business_days_after(day("2026-09-04"), day("2026-09-09")), 2);
        assert_eq!(business_days_after(day("2026-09-09"), day("2026-09-04")), 0);
        assert_eq!(business_days_after(day("2026-09-09"), day("2026-09-09")), 0);
    }
}

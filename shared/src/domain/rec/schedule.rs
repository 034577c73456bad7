//! A recurrence's calendar: its periodicity, the cycle a date falls in (one live charge per
//! cycle), and the day a charge settles.

use crate::domain::cobv::calendar;
use chrono::{Months, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Periodicidade {
    Semanal,
    Mensal,
    Trimestral,
    Semestral,
    Anual,
}

impl Periodicidade {
    pub const ALL: [Periodicidade; 5] = [
        Periodicidade::Semanal,
        Periodicidade::Mensal,
        Periodicidade::Trimestral,
        Periodicidade::Semestral,
        Periodicidade::Anual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Periodicidade::Semanal => "SEMANAL",
            Periodicidade::Mensal => "MENSAL",
            Periodicidade::Trimestral => "TRIMESTRAL",
            Periodicidade::Semestral => "SEMESTRAL",
            Periodicidade::Anual => "ANUAL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    fn months(self) -> u32 {
        match self {
            Periodicidade::Semanal => 0,
            Periodicidade::Mensal => 1,
            Periodicidade::Trimestral => 3,
            Periodicidade::Semestral => 6,
            Periodicidade::Anual => 12,
        }
    }

    /// The first day of cycle `n` of a recurrence starting on `start` (a month-based
    /// cycle that would start on a day its month lacks starts on the month's last day).
    pub fn cycle_start(self, start: NaiveDate, n: u32) -> Option<NaiveDate> {
        match self {
            Periodicidade::Semanal => start.checked_add_days(chrono::Days::new(7 * u64::from(n))),
            p => start.checked_add_months(Months::new(p.months().checked_mul(n)?)),
        }
    }

    /// The cycle (from 0) that `date` falls in, None before `start`.
    pub fn cycle_of(self, start: NaiveDate, date: NaiveDate) -> Option<u32> {
        if date < start {
            return None;
        }
        let guess = match self {
            Periodicidade::Semanal => (date - start).num_days() / 7,
            p => {
                let months = i64::from(date.year_ce().1) * 12 + i64::from(date.month0())
                    - (i64::from(start.year_ce().1) * 12 + i64::from(start.month0()));
                months / i64::from(p.months())
            }
        };
        let mut n = u32::try_from(guess).ok()?;
        // A month-based guess can be one cycle ahead (the day of month not reached yet).
        while n > 0 && self.cycle_start(start, n)? > date {
            n -= 1;
        }
        Some(n)
    }
}

use chrono::Datelike;

/// The day a charge due on `due` settles: the next business day when `adjust` and `due` is
/// not one (Bacen's `ajusteDiaUtil`).
pub fn settlement_date(due: NaiveDate, adjust: bool) -> NaiveDate {
    if adjust {
        calendar::business_day_on_or_after(due)
    } else {
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_monthly_recurrence_has_one_cycle_per_month_from_its_first_day() {
        let p = Periodicidade::Mensal;
        let start = d(2027, 1, 10);
        assert_eq!(p.cycle_of(start, d(2027, 1, 9)), None);
        assert_eq!(p.cycle_of(start, d(2027, 1, 10)), Some(0));
        assert_eq!(p.cycle_of(start, d(2027, 2, 9)), Some(0));
        assert_eq!(p.cycle_of(start, d(2027, 2, 10)), Some(1));
        assert_eq!(p.cycle_of(start, d(2027, 12, 31)), Some(11));
    }

    #[test]
    fn a_cycle_starting_on_a_missing_day_starts_on_the_months_last_day() {
        let p = Periodicidade::Mensal;
        let start = d(2027, 1, 31);
        assert_eq!(p.cycle_start(start, 1), Some(d(2027, 2, 28)));
        assert_eq!(p.cycle_of(start, d(2027, 2, 27)), Some(0));
        assert_eq!(p.cycle_of(start, d(2027, 2, 28)), Some(1));
    }

    #[test]
    fn weekly_quarterly_and_yearly_cycles() {
        let start = d(2027, 1, 4);
        assert_eq!(Periodicidade::Semanal.cycle_of(start, d(2027, 1, 17)), Some(1));
        assert_eq!(Periodicidade::Trimestral.cycle_of(start, d(2027, 7, 3)), Some(1));
        assert_eq!(Periodicidade::Semestral.cycle_of(start, d(2027, 7, 4)), Some(1));
        assert_eq!(Periodicidade::Anual.cycle_of(start, d(2028, 1, 3)), Some(0));
    }

    #[test]
    fn a_charge_due_on_a_holiday_settles_on_the_next_business_day_when_adjusted() {
        // 2027-01-01 is a Friday and a national holiday.
        assert_eq!(settlement_date(d(2027, 1, 1), true), d(2027, 1, 4));
        assert_eq!(settlement_date(d(2027, 1, 1), false), d(2027, 1, 1));
    }
}

//! The amount a charge with a due date asks on a payment date: a pure function of its
//! terms, in integer centavos.
//!
//! The Bacen manual's order, every component rounded to the centavo on its own:
//!   1. rebate (`abatimento`): fixed, or a percentage of the original;
//!   2. late (paid after the first business day on or after the due date): a fine
//!      (`multa`, once: fixed, or a percentage of the original less the rebate) and
//!      interest (`juros`: per day of lateness, counted from the due date itself);
//!   3. early or on the due date: a discount (`desconto`: fixed or a percentage until up
//!      to three dates, or per day of anticipation).
//!
//! Final = original − rebate − discount + fine + interest, never below zero (a discount
//! never takes more than what the rebate leaves). A due date or a discount date that is not
//! a business day runs to the next one; so does the last payable day.
//!
//! Percentages are of the original less the rebate (the manual's `Vo − Va`) except the
//! rebate's own, of the original. Interest at a rate per month or year divides by 30 or
//! 365 (calendar days) or by 21 or 252 (business days), per the manual. Rounding: half up
//! (0.5 centavo goes up), as the values are non-negative. Business days: `calendar`.

use super::calendar;
use crate::domain::money::Amount;
use chrono::NaiveDate;

/// A Bacen `valorPerc` read as a percentage: hundredths of a percent (`"2.50"` is 250).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Percent(pub i64);

/// Fine (`multa`): modalidade 1 fixed, 2 percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multa {
    Fixed(Amount),
    Percent(Percent),
}

/// Rebate (`abatimento`): modalidade 1 fixed, 2 percentage of the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abatimento {
    Fixed(Amount),
    Percent(Percent),
}

/// How lateness or anticipation is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    Calendar,
    Business,
}

/// The period an interest rate is quoted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Month,
    Year,
}

/// Interest (`juros`), modalidades 1–8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Juros {
    /// 1 (calendar days), 5 (business days): a value per day late.
    ValuePerDay(Amount, Days),
    /// 2–4 (calendar days), 6–8 (business days): a rate per day, month or year.
    Rate(Percent, Period, Days),
}

impl Juros {
    /// The Bacen modalidade (1–8) and its `valorPerc` as hundredths.
    pub fn from_modalidade(modalidade: i64, value: i64) -> Option<Self> {
        let days = if modalidade <= 4 { Days::Calendar } else { Days::Business };
        Some(match modalidade {
            1 | 5 => Juros::ValuePerDay(Amount::from_centavos(value).ok()?, days),
            2 | 6 => Juros::Rate(Percent(value), Period::Day, days),
            3 | 7 => Juros::Rate(Percent(value), Period::Month, days),
            4 | 8 => Juros::Rate(Percent(value), Period::Year, days),
            _ => return None,
        })
    }

    pub fn modalidade(self) -> i64 {
        let base = match self {
            Juros::ValuePerDay(..) => 1,
            Juros::Rate(_, Period::Day, _) => 2,
            Juros::Rate(_, Period::Month, _) => 3,
            Juros::Rate(_, Period::Year, _) => 4,
        };
        match self {
            Juros::ValuePerDay(_, Days::Business) | Juros::Rate(_, _, Days::Business) => base + 4,
            _ => base,
        }
    }
}

impl Multa {
    /// The Bacen modalidade and `valorPerc` (hundredths).
    pub fn parts(self) -> (i16, i64) {
        match self {
            Multa::Fixed(a) => (1, a.centavos()),
            Multa::Percent(p) => (2, p.0),
        }
    }

    pub fn from_parts(modalidade: i16, value: i64) -> Option<Self> {
        match modalidade {
            1 => Amount::from_centavos(value).ok().map(Multa::Fixed),
            2 => Some(Multa::Percent(Percent(value))),
            _ => None,
        }
    }
}

impl Abatimento {
    /// The Bacen modalidade and `valorPerc` (hundredths).
    pub fn parts(self) -> (i16, i64) {
        match self {
            Abatimento::Fixed(a) => (1, a.centavos()),
            Abatimento::Percent(p) => (2, p.0),
        }
    }

    pub fn from_parts(modalidade: i16, value: i64) -> Option<Self> {
        match modalidade {
            1 => Amount::from_centavos(value).ok().map(Abatimento::Fixed),
            2 => Some(Abatimento::Percent(Percent(value))),
            _ => None,
        }
    }
}

impl Juros {
    /// The `valorPerc` (hundredths).
    pub fn value(self) -> i64 {
        match self {
            Juros::ValuePerDay(a, _) => a.centavos(),
            Juros::Rate(p, _, _) => p.0,
        }
    }
}

/// Discount (`desconto`), modalidades 1–6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Desconto {
    /// 1: a fixed value, 2: a percentage, each until its date (up to three, the dates on or
    /// before the due date): paid on or before a date, the first such date's applies.
    UntilDates { percent: bool, tiers: Vec<(NaiveDate, i64)> },
    /// 3 (calendar), 4 (business): a value per day paid before the due date.
    ValuePerDay(Amount, Days),
    /// 5 (calendar), 6 (business): a percentage per day paid before the due date.
    PercentPerDay(Percent, Days),
}

impl Desconto {
    /// The Bacen modalidade (1–6).
    pub fn modalidade(&self) -> i16 {
        match self {
            Desconto::UntilDates { percent: false, .. } => 1,
            Desconto::UntilDates { percent: true, .. } => 2,
            Desconto::ValuePerDay(_, Days::Calendar) => 3,
            Desconto::ValuePerDay(_, Days::Business) => 4,
            Desconto::PercentPerDay(_, Days::Calendar) => 5,
            Desconto::PercentPerDay(_, Days::Business) => 6,
        }
    }

    /// The per-day `valorPerc` (hundredths), for modalidades 3–6.
    pub fn per_day(&self) -> Option<i64> {
        match self {
            Desconto::UntilDates { .. } => None,
            Desconto::ValuePerDay(a, _) => Some(a.centavos()),
            Desconto::PercentPerDay(p, _) => Some(p.0),
        }
    }

    /// The dates and values (hundredths), for modalidades 1 and 2.
    pub fn tiers(&self) -> Option<&[(NaiveDate, i64)]> {
        match self {
            Desconto::UntilDates { tiers, .. } => Some(tiers),
            _ => None,
        }
    }

    /// From its modalidade and either its per-day value or its dated values.
    pub fn from_parts(modalidade: i16, per_day: Option<i64>, tiers: Option<Vec<(NaiveDate, i64)>>) -> Option<Self> {
        let days = if modalidade == 4 || modalidade == 6 { Days::Business } else { Days::Calendar };
        match (modalidade, per_day, tiers) {
            (1 | 2, None, Some(tiers)) if !tiers.is_empty() => {
                Some(Desconto::UntilDates { percent: modalidade == 2, tiers })
            }
            (3 | 4, Some(v), None) => Amount::from_centavos(v).ok().map(|a| Desconto::ValuePerDay(a, days)),
            (5 | 6, Some(v), None) => Some(Desconto::PercentPerDay(Percent(v), days)),
            _ => None,
        }
    }
}

/// A charge's price terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTerms {
    pub original: Amount,
    pub vencimento: NaiveDate,
    /// Calendar days after the due date during which it can still be paid (Bacen default
    /// 30).
    pub validade_apos_vencimento: u32,
    pub multa: Option<Multa>,
    pub juros: Option<Juros>,
    pub abatimento: Option<Abatimento>,
    pub desconto: Option<Desconto>,
}

/// What a payment on a date owes, part by part (the payload's `valor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmountDue {
    pub original: Amount,
    pub abatimento: Amount,
    pub desconto: Amount,
    pub multa: Amount,
    pub juros: Amount,
    pub final_: Amount,
}

/// Why a charge cannot be paid on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotPayable {
    #[error("the charge's validity after its due date has ended")]
    Expired,
}

/// `num / den` rounded half up, for non-negative values.
fn round_half_up(num: i128, den: i128) -> i64 {
    i64::try_from((num + den / 2) / den).unwrap_or(i64::MAX)
}

/// `pct` of `base` centavos.
fn percent_of(base: i64, pct: Percent) -> i64 {
    round_half_up(i128::from(base) * i128::from(pct.0), 10_000)
}

fn cents(a: Amount) -> i64 {
    a.centavos()
}

fn amount(c: i64) -> Amount {
    Amount::from_centavos(c.clamp(0, 999_999_999_999)).unwrap_or(Amount::ZERO)
}

impl PriceTerms {
    /// The last day it can be paid: the due date moved to a business day, the validity
    /// added, and that moved to a business day too (Bacen's `validadeAposVencimento`).
    pub fn last_day(&self) -> NaiveDate {
        let due = calendar::business_day_on_or_after(self.vencimento);
        calendar::business_day_on_or_after(due + chrono::Duration::days(i64::from(self.validade_apos_vencimento)))
    }

    /// Whether every day from `today` to the last day leaves something to pay. A discount
    /// only shrinks with time between its dates, so today and its dates are the days to
    /// look at.
    pub fn payable_every_day_from(&self, today: NaiveDate) -> bool {
        let dates = self.desconto.as_ref().and_then(Desconto::tiers).unwrap_or(&[]).iter().map(|(d, _)| *d);
        std::iter::once(today).chain(dates.filter(|d| *d >= today)).all(|d| match self.amount_due(d) {
            Ok(due) => !due.final_.is_zero(),
            // Not payable that day at all: nothing to check.
            Err(NotPayable::Expired) => true,
        })
    }

    /// Whether what it can come to stays within what an amount can be (9,999,999,999.99):
    /// its fine and interest are largest on its last day. Beyond, the parts would be capped
    /// and no longer add up.
    pub fn within_the_limit(&self) -> bool {
        self.parts(self.last_day()).is_ok_and(|p| p.iter().all(|c| (0..=999_999_999_999).contains(c)))
    }

    /// What a payment on `date` owes.
    pub fn amount_due(&self, date: NaiveDate) -> Result<AmountDue, NotPayable> {
        let [abatimento, desconto, multa, juros, final_] = self.parts(date)?;
        let c = |v: i128| amount(i64::try_from(v).unwrap_or(i64::MAX));
        Ok(AmountDue {
            original: self.original,
            abatimento: c(abatimento),
            desconto: c(desconto),
            multa: c(multa),
            juros: c(juros),
            final_: c(final_),
        })
    }

    /// [`amount_due`](Self::amount_due)'s parts in centavos, uncapped: rebate, discount,
    /// fine, interest, final.
    fn parts(&self, date: NaiveDate) -> Result<[i128; 5], NotPayable> {
        if date > self.last_day() {
            return Err(NotPayable::Expired);
        }
        let original = cents(self.original);
        let abatimento = match self.abatimento {
            None => 0,
            Some(Abatimento::Fixed(a)) => cents(a),
            Some(Abatimento::Percent(p)) => percent_of(original, p),
        }
        .min(original);
        let base = original - abatimento;

        // Late from the first business day after the adjusted due date (the due date moved
        // to a business day) on, and counted from the adjusted date: the spec has juros, multa
        // and desconto "assume the extension" of a due date that falls on a non-business day
        // (validadeAposVencimento); Bacen's maintainers say interest and fine start on the
        // next business day after the adjusted date and are not charged for a non-business
        // day (bacen/pix-api issues 109, 167, 297; Lei 7.089/83): paid on the Saturday after
        // a Friday due date, nothing is late; on the Monday, three calendar days are.
        let late = self.is_late(date);
        let (mut multa, mut juros) = (0, 0);
        if late {
            multa = match self.multa {
                None => 0,
                Some(Multa::Fixed(a)) => cents(a),
                Some(Multa::Percent(p)) => percent_of(base, p),
            };
            juros = match self.juros {
                None => 0,
                Some(Juros::ValuePerDay(a, days)) => cents(a).saturating_mul(self.days_late(date, days)),
                Some(Juros::Rate(p, period, days)) => {
                    let n: i128 = match (period, days) {
                        (Period::Day, _) => 1,
                        (Period::Month, Days::Calendar) => 30,
                        (Period::Year, Days::Calendar) => 365,
                        (Period::Month, Days::Business) => 21,
                        (Period::Year, Days::Business) => 252,
                    };
                    let late_days = i128::from(self.days_late(date, days));
                    round_half_up(i128::from(base) * i128::from(p.0) * late_days, 10_000 * n)
                }
            };
        }

        // A discount's date, like the due date, runs to the next business day.
        let desconto = if !late {
            match &self.desconto {
                None => 0,
                Some(Desconto::UntilDates { percent, tiers }) => {
                    let tier = tiers
                        .iter()
                        .filter(|(until, _)| date <= calendar::business_day_on_or_after(*until))
                        .min_by_key(|(until, _)| *until);
                    match tier {
                        None => 0,
                        Some((_, v)) if *percent => percent_of(base, Percent(*v)),
                        Some((_, v)) => *v,
                    }
                }
                Some(Desconto::ValuePerDay(a, days)) => cents(*a).saturating_mul(self.days_early(date, *days)),
                Some(Desconto::PercentPerDay(p, days)) => {
                    let early = i128::from(self.days_early(date, *days));
                    round_half_up(i128::from(base) * i128::from(p.0) * early, 10_000)
                }
            }
        } else {
            0
        }
        .min(base);

        // In i128: a fine and interest at extreme rates may exceed any amount.
        let final_ = i128::from(base) - i128::from(desconto) + i128::from(multa) + i128::from(juros);
        Ok([i128::from(abatimento), i128::from(desconto), i128::from(multa), i128::from(juros), final_])
    }

    /// The due date as payments count it: moved to the next business day.
    fn adjusted_due(&self) -> NaiveDate {
        calendar::business_day_on_or_after(self.vencimento)
    }

    /// Whether a payment on `date` is late: on or after the first business day after the
    /// adjusted due date.
    fn is_late(&self, date: NaiveDate) -> bool {
        let due = self.adjusted_due();
        due.succ_opt().is_some_and(|next| date >= calendar::business_day_on_or_after(next))
    }

    fn days_late(&self, date: NaiveDate, days: Days) -> i64 {
        let due = self.adjusted_due();
        match days {
            Days::Calendar => (date - due).num_days().max(0),
            Days::Business => calendar::business_days_after(due, date),
        }
    }

    fn days_early(&self, date: NaiveDate, days: Days) -> i64 {
        let due = self.adjusted_due();
        match days {
            Days::Calendar => (due - date).num_days().max(0),
            Days::Business => calendar::business_days_after(date, due),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn reais(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    /// R$ 100.00 due Thursday 10 September 2026, payable 30 days after.
    fn hundred() -> PriceTerms {
        PriceTerms {
            original: reais("100.00"),
            vencimento: day("2026-09-10"),
            validade_apos_vencimento: 30,
            multa: None,
            juros: None,
            abatimento: None,
            desconto: None,
        }
    }

    fn final_on(terms: &PriceTerms, date: &str) -> String {
        terms.amount_due(day(date)).unwrap().final_.to_string()
    }

    #[test]
    fn on_the_due_date_without_rebate_or_discount_the_original_is_due() {
        let terms = PriceTerms {
            multa: Some(Multa::Fixed(reais("2.00"))),
            juros: Some(Juros::Rate(Percent(100), Period::Month, Days::Calendar)),
            ..hundred()
        };
        assert_eq!(final_on(&terms, "2026-09-10"), "100.00");
    }

    #[test]
    fn multa_modalidade_1_is_a_fixed_value_once_late() {
        // Paid Friday 11th, a day after a business-day due date: 100.00 + 2.00.
        let terms = PriceTerms { multa: Some(Multa::Fixed(reais("2.00"))), ..hundred() };
        assert_eq!(final_on(&terms, "2026-09-11"), "102.00");
        assert_eq!(final_on(&terms, "2026-10-01"), "102.00", "once, however late");
    }

    #[test]
    fn multa_modalidade_2_is_a_percentage_of_the_original_less_the_rebate() {
        // 2.00% of (100.00 − 10.00) = 1.80; 90.00 + 1.80 = 91.80.
        let terms = PriceTerms {
            multa: Some(Multa::Percent(Percent(200))),
            abatimento: Some(Abatimento::Fixed(reais("10.00"))),
            ..hundred()
        };
        assert_eq!(final_on(&terms, "2026-09-11"), "91.80");
    }

    #[test]
    fn juros_modalidades_1_to_4_count_calendar_days_from_the_due_date() {
        // Paid Monday 14th: 4 calendar days late (11, 12, 13, 14).
        let with = |juros| PriceTerms { juros: Some(juros), ..hundred() };
        // 1: 0.10 a day × 4 = 0.40.
        assert_eq!(final_on(&with(Juros::ValuePerDay(reais("0.10"), Days::Calendar)), "2026-09-14"), "100.40");
        // 2: 0.33% a day: 100.00 × 0.0033 × 4 = 1.32.
        assert_eq!(final_on(&with(Juros::Rate(Percent(33), Period::Day, Days::Calendar)), "2026-09-14"), "101.32");
        // 3: 1.00% a month: 100.00 × 0.01 / 30 × 4 = 0.1333… → 0.13.
        assert_eq!(final_on(&with(Juros::Rate(Percent(100), Period::Month, Days::Calendar)), "2026-09-14"), "100.13");
        // 4: 12.00% a year: 100.00 × 0.12 / 365 × 4 = 0.1315… → 0.13.
        assert_eq!(final_on(&with(Juros::Rate(Percent(1200), Period::Year, Days::Calendar)), "2026-09-14"), "100.13");
    }

    #[test]
    fn the_bacen_issue_607_example_is_ten_reais_of_interest() {
        // 30,000.00 due Wednesday 4 September 2024 at 1.00% a month, paid a day late:
        // 30,000.00 × 0.01 / 30 × 1 = 10.00 exactly (no intermediate rounding of the factor).
        let terms = PriceTerms {
            original: reais("30000.00"),
            vencimento: day("2024-09-04"),
            juros: Some(Juros::Rate(Percent(100), Period::Month, Days::Calendar)),
            ..hundred()
        };
        let due = terms.amount_due(day("2024-09-05")).unwrap();
        assert_eq!((due.juros.to_string(), due.final_.to_string()), ("10.00".into(), "30010.00".into()));
    }

    #[test]
    fn juros_modalidades_5_to_8_count_business_days_across_a_weekend_and_a_holiday() {
        // Due Friday 4 September 2026, paid Wednesday 9th: the weekend and Independence Day
        // (Monday 7th) do not count; Tuesday 8th and Wednesday 9th do: 2 business days
        // (5 calendar days).
        let terms = |juros| PriceTerms { vencimento: day("2026-09-04"), juros: Some(juros), ..hundred() };
        // 5: 0.10 a business day × 2 = 0.20.
        assert_eq!(final_on(&terms(Juros::ValuePerDay(reais("0.10"), Days::Business)), "2026-09-09"), "100.20");
        // 6: 0.50% a business day: 100.00 × 0.005 × 2 = 1.00.
        assert_eq!(final_on(&terms(Juros::Rate(Percent(50), Period::Day, Days::Business)), "2026-09-09"), "101.00");
        // 7: 2.10% a month over 21 business days: 100.00 × 0.021 / 21 × 2 = 0.20.
        assert_eq!(final_on(&terms(Juros::Rate(Percent(210), Period::Month, Days::Business)), "2026-09-09"), "100.20");
        // 8: 25.20% a year over 252 business days: 100.00 × 0.252 / 252 × 2 = 0.20.
        assert_eq!(final_on(&terms(Juros::Rate(Percent(2520), Period::Year, Days::Business)), "2026-09-09"), "100.20");
        // The same rate in calendar days would count 5: 0.50.
        assert_eq!(final_on(&terms(Juros::ValuePerDay(reais("0.10"), Days::Calendar)), "2026-09-09"), "100.50");
    }

    #[test]
    fn a_due_date_on_a_weekend_or_holiday_is_payable_without_fees_on_the_next_business_day() {
        // Due Saturday 5 September 2026; Monday 7th is Independence Day: Tuesday 8th still
        // owes the original. Wednesday 9th is late, counted from Tuesday: 1 calendar day.
        let terms = PriceTerms {
            vencimento: day("2026-09-05"),
            multa: Some(Multa::Fixed(reais("2.00"))),
            juros: Some(Juros::ValuePerDay(reais("0.10"), Days::Calendar)),
            ..hundred()
        };
        assert_eq!(final_on(&terms, "2026-09-08"), "100.00");
        // 100.00 + 2.00 + 0.10 × 1 = 102.10.
        assert_eq!(final_on(&terms, "2026-09-09"), "102.10");
    }

    #[test]
    fn the_non_business_days_right_after_a_business_due_date_owe_no_fine_nor_interest() {
        // Due Friday 4 September 2026; the weekend and Independence Day (Monday 7th) follow.
        // Paid on any of them: on time (interest and fine start on the next business day,
        // and none is charged for a non-business day). Paid Tuesday 8th: late, the fine and
        // 4 calendar days of interest (5, 6, 7, 8), or 1 business day.
        let terms = |days| PriceTerms {
            vencimento: day("2026-09-04"),
            multa: Some(Multa::Percent(Percent(200))),
            juros: Some(Juros::ValuePerDay(reais("0.10"), days)),
            ..hundred()
        };
        for on_time in ["2026-09-04", "2026-09-05", "2026-09-06", "2026-09-07"] {
            assert_eq!(final_on(&terms(Days::Calendar), on_time), "100.00", "{on_time}");
            assert_eq!(final_on(&terms(Days::Business), on_time), "100.00", "{on_time}");
        }
        // 100.00 + 2% + 0.10 × 4 = 102.40; in business days 0.10 × 1 = 102.10.
        assert_eq!(final_on(&terms(Days::Calendar), "2026-09-08"), "102.40");
        assert_eq!(final_on(&terms(Days::Business), "2026-09-08"), "102.10");
    }

    #[test]
    fn a_charge_whose_fine_and_interest_pass_the_largest_amount_is_beyond_the_limit() {
        // 9,000,000,000.00 with a 20% fine comes to 10.8 billion once late.
        let big = |multa| PriceTerms { original: reais("9000000000.00"), multa: Some(multa), ..hundred() };
        assert!(!big(Multa::Percent(Percent(2_000))).within_the_limit());
        assert!(big(Multa::Percent(Percent(1_000))).within_the_limit(), "9.9 billion");
        assert!(hundred().within_the_limit());
    }

    #[test]
    fn a_rebate_and_discount_that_take_it_all_on_some_day_leave_it_unpayable_that_day() {
        let today = day("2026-09-01");
        // 120 days of 1.00 a calendar day of early payment, on 100.00: nothing left today.
        let per_day = PriceTerms {
            vencimento: day("2026-12-30"),
            desconto: Some(Desconto::ValuePerDay(reais("1.00"), Days::Calendar)),
            ..hundred()
        };
        assert!(!per_day.payable_every_day_from(today));
        assert!(per_day.payable_every_day_from(day("2026-12-01")), "29 days of it leave 71.00");
        // A 50.00 rebate and a 60.00 discount until a date: nothing left until that date.
        let dated = PriceTerms {
            vencimento: day("2026-09-30"),
            abatimento: Some(Abatimento::Fixed(reais("50.00"))),
            desconto: Some(Desconto::UntilDates { percent: false, tiers: vec![(day("2026-09-20"), 6000)] }),
            ..hundred()
        };
        assert!(!dated.payable_every_day_from(today));
        // (Its date, a Sunday, runs to Monday 21st.)
        assert!(!dated.payable_every_day_from(day("2026-09-21")));
        assert!(dated.payable_every_day_from(day("2026-09-22")), "past its date");
    }

    #[test]
    fn days_of_early_payment_count_to_the_due_date_moved_to_a_business_day() {
        // Due Saturday 5 September 2026, moved to Tuesday 8th (Monday is a holiday), 0.50 a
        // calendar day early: paid Saturday 5th, 3 days early (5th to 8th); paid Friday
        // 4th, 4.
        let terms = PriceTerms {
            vencimento: day("2026-09-05"),
            desconto: Some(Desconto::ValuePerDay(reais("0.50"), Days::Calendar)),
            ..hundred()
        };
        assert_eq!(final_on(&terms, "2026-09-05"), "98.50");
        assert_eq!(final_on(&terms, "2026-09-04"), "98.00");
        assert_eq!(final_on(&terms, "2026-09-08"), "100.00", "on the moved due date: no longer early");
    }

    #[test]
    fn abatimento_modalidades_1_and_2_lower_the_original_whenever_paid() {
        let fixed = PriceTerms { abatimento: Some(Abatimento::Fixed(reais("5.00"))), ..hundred() };
        assert_eq!(final_on(&fixed, "2026-09-01"), "95.00");
        assert_eq!(final_on(&fixed, "2026-09-20"), "95.00");
        // 0.05% of 10.00 = 0.005 → rounds half up to 0.01: 9.99 (Bacen pix-api issue 404).
        let percent =
            PriceTerms { original: reais("10.00"), abatimento: Some(Abatimento::Percent(Percent(5))), ..hundred() };
        let due = percent.amount_due(day("2026-09-10")).unwrap();
        assert_eq!((due.abatimento.to_string(), due.final_.to_string()), ("0.01".into(), "9.99".into()));
    }

    #[test]
    fn desconto_modalidade_1_takes_the_value_of_the_first_date_not_yet_passed() {
        let tiers = vec![(day("2026-09-01"), 300), (day("2026-09-05"), 200), (day("2026-09-10"), 100)];
        let terms = PriceTerms { desconto: Some(Desconto::UntilDates { percent: false, tiers }), ..hundred() };
        assert_eq!(final_on(&terms, "2026-08-20"), "97.00", "before the first date: 3.00");
        assert_eq!(final_on(&terms, "2026-09-03"), "98.00", "after the first, before the second: 2.00");
        assert_eq!(final_on(&terms, "2026-09-10"), "99.00", "on the last date: 1.00");
        assert_eq!(final_on(&terms, "2026-09-11"), "100.00", "late: no discount");
    }

    #[test]
    fn desconto_modalidade_2_is_a_percentage_of_the_original_less_the_rebate() {
        // 10.00% of (100.00 − 10.00) = 9.00: 90.00 − 9.00 = 81.00.
        let terms = PriceTerms {
            abatimento: Some(Abatimento::Fixed(reais("10.00"))),
            desconto: Some(Desconto::UntilDates { percent: true, tiers: vec![(day("2026-09-05"), 1000)] }),
            ..hundred()
        };
        assert_eq!(final_on(&terms, "2026-09-05"), "81.00");
        // Saturday 5th runs to Tuesday 8th (Monday 7th is a holiday): Wednesday 9th has none.
        assert_eq!(final_on(&terms, "2026-09-09"), "90.00");
    }

    #[test]
    fn desconto_modalidades_3_to_6_grow_with_each_day_of_anticipation() {
        // Paid Friday 4 September 2026 for Thursday 10th: 6 calendar days early; business
        // days after the 4th up to the 10th: 8, 9, 10 = 3 (the weekend and the 7th do not
        // count).
        let terms = |desconto| PriceTerms { desconto: Some(desconto), ..hundred() };
        // 3: 0.50 a calendar day × 6 = 3.00.
        assert_eq!(final_on(&terms(Desconto::ValuePerDay(reais("0.50"), Days::Calendar)), "2026-09-04"), "97.00");
        // 4: 0.50 a business day × 3 = 1.50.
        assert_eq!(final_on(&terms(Desconto::ValuePerDay(reais("0.50"), Days::Business)), "2026-09-04"), "98.50");
        // 5: 0.10% a calendar day: 100.00 × 0.001 × 6 = 0.60.
        assert_eq!(final_on(&terms(Desconto::PercentPerDay(Percent(10), Days::Calendar)), "2026-09-04"), "99.40");
        // 6: 0.10% a business day × 3 = 0.30.
        assert_eq!(final_on(&terms(Desconto::PercentPerDay(Percent(10), Days::Business)), "2026-09-04"), "99.70");
        // On the due date there is no anticipation.
        assert_eq!(final_on(&terms(Desconto::ValuePerDay(reais("0.50"), Days::Calendar)), "2026-09-10"), "100.00");
    }

    #[test]
    fn a_discount_never_takes_more_than_the_rebate_leaves() {
        // 5.00 a day for 60 days would be 300.00: the amount stops at zero.
        let terms = PriceTerms { desconto: Some(Desconto::ValuePerDay(reais("5.00"), Days::Calendar)), ..hundred() };
        let due = terms.amount_due(day("2026-07-12")).unwrap();
        assert_eq!((due.desconto.to_string(), due.final_.to_string()), ("100.00".into(), "0.00".into()));
    }

    #[test]
    fn after_its_validity_a_charge_cannot_be_paid() {
        // Due Thursday 10 September + 30 days: Saturday 10 October, moved past the weekend
        // and Monday 12th (Our Lady of Aparecida) to Tuesday 13th, the last day.
        assert_eq!(hundred().last_day(), day("2026-10-13"));
        assert!(hundred().amount_due(day("2026-10-13")).is_ok());
        assert_eq!(hundred().amount_due(day("2026-10-14")), Err(NotPayable::Expired));
    }

    #[test]
    fn a_due_date_on_a_holiday_with_no_validity_is_payable_on_the_next_business_day() {
        // Bacen's example B: due Friday 25 December 2020 (Christmas), no days after it: the
        // charge can be paid on Monday 28th, without fees, and not on Tuesday 29th.
        let terms = PriceTerms {
            vencimento: day("2020-12-25"),
            validade_apos_vencimento: 0,
            multa: Some(Multa::Fixed(reais("2.00"))),
            ..hundred()
        };
        assert_eq!(final_on(&terms, "2020-12-28"), "100.00");
        assert_eq!(terms.amount_due(day("2020-12-29")), Err(NotPayable::Expired));
    }

    #[test]
    fn a_discount_date_on_a_weekend_runs_to_the_next_business_day() {
        // 3.00 off until Saturday 5 September 2026: still on Tuesday 8th (Monday 7th is
        // Independence Day), not on Wednesday 9th.
        let terms = PriceTerms {
            desconto: Some(Desconto::UntilDates { percent: false, tiers: vec![(day("2026-09-05"), 300)] }),
            ..hundred()
        };
        assert_eq!(final_on(&terms, "2026-09-08"), "97.00");
        assert_eq!(final_on(&terms, "2026-09-09"), "100.00");
    }

    #[test]
    fn extreme_rates_saturate_instead_of_overflowing() {
        let terms = PriceTerms {
            original: Amount::from_centavos(999_999_999_999).unwrap(),
            multa: Some(Multa::Percent(Percent(999_999_999_999))),
            juros: Some(Juros::Rate(Percent(999_999_999_999), Period::Day, Days::Calendar)),
            ..hundred()
        };
        let due = terms.amount_due(day("2026-10-09")).unwrap();
        assert_eq!(due.final_, Amount::from_centavos(999_999_999_999).unwrap(), "clamped to the largest amount");
    }

    #[test]
    fn every_term_round_trips_through_its_stored_parts() {
        for m in [Multa::Fixed(reais("1.00")), Multa::Percent(Percent(250))] {
            let (k, v) = m.parts();
            assert_eq!(Multa::from_parts(k, v), Some(m));
        }
        for a in [Abatimento::Fixed(reais("1.00")), Abatimento::Percent(Percent(250))] {
            let (k, v) = a.parts();
            assert_eq!(Abatimento::from_parts(k, v), Some(a));
        }
        let discounts = [
            Desconto::UntilDates { percent: false, tiers: vec![(day("2026-09-01"), 100)] },
            Desconto::UntilDates { percent: true, tiers: vec![(day("2026-09-01"), 100), (day("2026-09-05"), 50)] },
            Desconto::ValuePerDay(reais("0.10"), Days::Calendar),
            Desconto::ValuePerDay(reais("0.10"), Days::Business),
            Desconto::PercentPerDay(Percent(10), Days::Calendar),
            Desconto::PercentPerDay(Percent(10), Days::Business),
        ];
        for (i, d) in discounts.into_iter().enumerate() {
            assert_eq!(d.modalidade(), i as i16 + 1);
            let back = Desconto::from_parts(d.modalidade(), d.per_day(), d.tiers().map(<[_]>::to_vec));
            assert_eq!(back, Some(d));
        }
        assert_eq!(Desconto::from_parts(1, Some(10), None), None, "dated modalidades have dates");
        assert_eq!(Desconto::from_parts(3, None, Some(vec![(day("2026-09-01"), 1)])), None);
    }

    #[test]
    fn juros_modalidades_round_trip_through_their_bacen_numbers() {
        for m in 1..=8 {
            assert_eq!(Juros::from_modalidade(m, 100).map(Juros::modalidade), Some(m));
        }
        assert_eq!(Juros::from_modalidade(9, 100), None);
    }

    fn terms_strategy() -> impl Strategy<Value = PriceTerms> {
        let money = 1i64..=100_000_000;
        let pct = 0i64..=10_000;
        let days = prop_oneof![Just(Days::Calendar), Just(Days::Business)];
        let period = prop_oneof![Just(Period::Day), Just(Period::Month), Just(Period::Year)];
        let multa = prop::option::of(prop_oneof![
            (0i64..=1_000_000).prop_map(|c| Multa::Fixed(Amount::from_centavos(c).unwrap())),
            pct.clone().prop_map(|p| Multa::Percent(Percent(p))),
        ]);
        let juros = prop::option::of(prop_oneof![
            ((0i64..=100_000), days.clone())
                .prop_map(|(c, d)| Juros::ValuePerDay(Amount::from_centavos(c).unwrap(), d)),
            (pct.clone(), period, days.clone()).prop_map(|(p, t, d)| Juros::Rate(Percent(p), t, d)),
        ]);
        let abatimento = prop::option::of(prop_oneof![
            (0i64..=100_000_000).prop_map(|c| Abatimento::Fixed(Amount::from_centavos(c).unwrap())),
            pct.clone().prop_map(|p| Abatimento::Percent(Percent(p))),
        ]);
        let desconto = prop::option::of(prop_oneof![
            ((0i64..=100_000), days.clone())
                .prop_map(|(c, d)| Desconto::ValuePerDay(Amount::from_centavos(c).unwrap(), d)),
            (pct.clone(), days).prop_map(|(p, d)| Desconto::PercentPerDay(Percent(p), d)),
            (prop::bool::ANY, prop::collection::vec((0i64..=30, 0i64..=10_000), 1..=3)).prop_map(|(percent, t)| {
                let tiers =
                    t.into_iter().map(|(before, v)| (day("2026-09-10") - chrono::Duration::days(before), v)).collect();
                Desconto::UntilDates { percent, tiers }
            }),
        ]);
        (money, 0i64..=400, multa, juros, abatimento, desconto).prop_map(
            |(o, offset, multa, juros, abatimento, desconto)| PriceTerms {
                original: Amount::from_centavos(o).unwrap(),
                vencimento: day("2026-01-01") + chrono::Duration::days(offset),
                validade_apos_vencimento: 30,
                multa,
                juros,
                abatimento,
                desconto,
            },
        )
    }

    proptest! {
        #[test]
        fn the_final_amount_is_its_parts_and_a_discount_never_goes_below_zero(
            terms in terms_strategy(), shift in -60i64..=30,
        ) {
            let date = terms.vencimento + chrono::Duration::days(shift);
            let due = terms.amount_due(date).unwrap();
            let c = |a: Amount| a.centavos();
            prop_assert!(c(due.abatimento) <= c(due.original));
            prop_assert!(c(due.desconto) <= c(due.original) - c(due.abatimento));
            prop_assert_eq!(
                c(due.final_),
                c(due.original) - c(due.abatimento) - c(due.desconto) + c(due.multa) + c(due.juros)
            );
        }

        #[test]
        fn paying_later_never_costs_less_once_late(terms in terms_strategy(), a in 0i64..=30, b in 0i64..=30) {
            let (first, second) = (a.min(b), a.max(b));
            let at = |d: i64| terms.amount_due(terms.vencimento + chrono::Duration::days(d)).unwrap().final_;
            prop_assert!(at(first) <= at(second), "{} then {}", at(first), at(second));
        }

        #[test]
        fn paying_early_never_costs_more_than_the_original_less_the_rebate(terms in terms_strategy(), early in 0i64..=60) {
            let due = terms.amount_due(terms.vencimento - chrono::Duration::days(early)).unwrap();
            prop_assert!(due.final_.centavos() <= due.original.centavos() - due.abatimento.centavos());
            prop_assert_eq!((due.multa, due.juros), (Amount::ZERO, Amount::ZERO));
        }

        #[test]
        fn on_the_due_date_without_rebate_or_discount_the_original_is_always_due(terms in terms_strategy()) {
            let plain = PriceTerms { abatimento: None, desconto: None, ..terms };
            prop_assert_eq!(plain.amount_due(plain.vencimento).unwrap().final_, plain.original);
        }
    }
}

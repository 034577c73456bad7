//! Per-merchant request quotas: which routes count against which quota; the heavy lists'
//! fixed one-minute windows; and the key-lookup token bucket, which follows the DICT's own
//! anti-scan policy (`ENTRIES_READ_USER_ANTISCAN`: a bucket of 100 tokens for a person, 1,000
//! for a company, refilled 2 a minute; a key found costs 1, a key not found 20, a payment
//! order sent gives 1 back), so that no merchant can spend the participant's DICT budget or
//! enumerate keys through us.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// What a route's requests count against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Unlimited,
    /// Requests that may reveal who holds a Pix key (`GET /dict`, `PUT /envio`, `PUT
    /// /envio/{id}/qrcode`): each answer carries a name and a masked document. The key
    /// lookup itself is charged to the merchant's [`DictBucket`] (so a replay or a
    /// transfer to a bank account costs nothing); the route is only throttled tighter.
    Dict,
    /// Lists that scan many rows.
    List,
}

impl Quota {
    /// The quota's name where counters are kept.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Quota::Unlimited => None,
            Quota::Dict => Some("dict"),
            Quota::List => Some("list"),
        }
    }
}

/// The quotas' sizes (`QUOTA_DICT_TOKENS_PF`, `QUOTA_DICT_TOKENS_PJ`,
/// `QUOTA_LIST_PER_MINUTE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimits {
    /// Key-lookup bucket size for a merchant who is a person (DICT: 100).
    pub dict_tokens_individual: u32,
    /// For a company (DICT: 1,000).
    pub dict_tokens_company: u32,
    pub list_per_minute: u32,
}

impl Default for QuotaLimits {
    fn default() -> Self {
        QuotaLimits { dict_tokens_individual: 100, dict_tokens_company: 1000, list_per_minute: 120 }
    }
}

impl QuotaLimits {
    /// The key-lookup bucket of a merchant.
    pub fn dict_bucket(&self, individual: bool) -> DictBucket {
        let capacity = if individual { self.dict_tokens_individual } else { self.dict_tokens_company };
        DictBucket { capacity_milli: i64::from(capacity) * MILLI, refill_milli_per_minute: 2 * MILLI }
    }
}

/// Tokens are counted in thousandths, so that refilling by the millisecond stays exact.
pub const MILLI: i64 = 1000;

/// A token bucket: its size and how fast it refills, in thousandths of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DictBucket {
    pub capacity_milli: i64,
    pub refill_milli_per_minute: i64,
}

impl DictBucket {
    /// The tokens a bucket holding `tokens` holds `elapsed_ms` later (never above its size;
    /// a bucket in debt refills toward zero first), and how many of those milliseconds the
    /// refill used: the rest (less than one thousandth's worth) counts toward the next, so
    /// frequent calls lose nothing to rounding. A full bucket uses them all.
    pub fn refill(&self, tokens: i64, elapsed_ms: i64) -> (i64, i64) {
        let elapsed_ms = elapsed_ms.max(0);
        let rate = self.refill_milli_per_minute.max(1);
        let gained = elapsed_ms.saturating_mul(rate) / 60_000;
        let refilled = tokens.saturating_add(gained);
        if refilled >= self.capacity_milli {
            return (self.capacity_milli, elapsed_ms);
        }
        (refilled, (gained.saturating_mul(60_000).saturating_add(rate - 1) / rate).min(elapsed_ms))
    }

    /// Whole seconds (at least 1) until a bucket holding `tokens` holds one token.
    pub fn seconds_until_one(&self, tokens: i64) -> u64 {
        let missing = u64::try_from((MILLI - tokens).max(0)).unwrap_or(0);
        let rate = u64::try_from(self.refill_milli_per_minute.max(1)).unwrap_or(1);
        missing.saturating_mul(60_000).div_ceil(rate).div_ceil(1000).max(1)
    }
}

/// What a key lookup reserves before it is made: the worst case, a key not found (DICT:
/// a 404 subtracts 20). It is admitted while the bucket holds a whole token, so concurrent
/// misses cannot overdraw it by more than one lookup's worth.
pub const LOOKUP_RESERVE: i64 = 20 * MILLI;
/// A payment order sent gives one back (DICT: "ordem de pagamento enviada: adiciona 1").
pub const ORDER_SENT: i64 = MILLI;

/// How a key lookup ended, for its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupOutcome {
    Found,
    NotFound,
    /// The directory never answered: it cost nothing.
    NotAsked,
}

/// What goes back to the bucket of the reservation once the lookup ended: a key found
/// costs 1, a key not found 20, an unanswered lookup nothing.
pub fn lookup_refund(outcome: LookupOutcome) -> i64 {
    match outcome {
        LookupOutcome::Found => LOOKUP_RESERVE - MILLI,
        LookupOutcome::NotFound => 0,
        LookupOutcome::NotAsked => LOOKUP_RESERVE,
    }
}

const WINDOW: TimeDelta = TimeDelta::minutes(1);

/// The window `now` falls in: its start, and the whole seconds until the next one opens
/// (at least 1), for `Retry-After`.
pub fn window(now: DateTime<Utc>) -> (DateTime<Utc>, u64) {
    let start = now.duration_trunc(WINDOW).unwrap_or(now);
    let left = (start + WINDOW - now).num_milliseconds().max(0) as u64;
    (start, left.div_ceil(1000).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_window_is_the_minute_and_retry_after_counts_to_its_end() {
        assert_eq!(window(at("2026-12-01T10:15:00Z")), (at("2026-12-01T10:15:00Z"), 60));
        assert_eq!(window(at("2026-12-01T10:15:59.200Z")), (at("2026-12-01T10:15:00Z"), 1));
        assert_eq!(window(at("2026-12-01T10:15:20.500Z")), (at("2026-12-01T10:15:00Z"), 40));
    }

    #[test]
    fn a_company_has_ten_times_a_persons_bucket_refilled_two_tokens_a_minute() {
        let limits = QuotaLimits::default();
        let pf = limits.dict_bucket(true);
        let pj = limits.dict_bucket(false);
        assert_eq!((pf.capacity_milli, pj.capacity_milli), (100 * MILLI, 1000 * MILLI));
        // Empty, a minute later it holds two tokens; never more than its size.
        assert_eq!(pf.refill(0, 60_000), (2 * MILLI, 60_000));
        assert_eq!(pf.refill(99 * MILLI, 3_600_000), (100 * MILLI, 3_600_000));
        // In debt after a miss, it climbs back at the same pace.
        assert_eq!(pf.refill(-19 * MILLI, 60_000), (-17 * MILLI, 60_000));
        assert_eq!(pf.refill(5, -1), (5, 0), "a clock that steps back refills nothing");
    }

    #[test]
    fn frequent_refills_lose_nothing_to_rounding() {
        let pf = QuotaLimits::default().dict_bucket(true);
        // One thousandth takes 30 ms: 29 ms gain nothing and use nothing.
        assert_eq!(pf.refill(0, 29), (0, 0));
        assert_eq!(pf.refill(0, 45), (1, 30), "15 ms carry over");
        // A minute in 20 ms steps, carrying the remainder, gains what one step would.
        let (mut tokens, mut carried) = (0, 0);
        for _ in 0..3000 {
            let (t, used) = pf.refill(tokens, carried + 20);
            carried = carried + 20 - used;
            tokens = t;
        }
        assert_eq!(tokens, 2 * MILLI);
    }

    #[test]
    fn retry_after_is_the_time_until_one_whole_token() {
        let pf = QuotaLimits::default().dict_bucket(true);
        assert_eq!(pf.seconds_until_one(0), 30);
        assert_eq!(pf.seconds_until_one(999), 1);
        assert_eq!(pf.seconds_until_one(-19 * MILLI), 600);
        assert_eq!(pf.seconds_until_one(MILLI), 1);
    }

    #[test]
    fn a_hit_costs_one_a_miss_twenty_an_unanswered_lookup_nothing_and_an_order_gives_one_back() {
        let cost = |o| LOOKUP_RESERVE - lookup_refund(o);
        assert_eq!(cost(LookupOutcome::Found), MILLI);
        assert_eq!(cost(LookupOutcome::NotFound), 20 * MILLI);
        assert_eq!(cost(LookupOutcome::NotAsked), 0);
        assert_eq!(cost(LookupOutcome::Found) - ORDER_SENT, 0, "look up, then pay: free");
        assert_eq!(Quota::Unlimited.name(), None);
    }
}

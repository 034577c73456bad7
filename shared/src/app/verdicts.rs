//! Notified verdicts on the movements we send (transfers, refunds): one that would reverse
//! what was booked is booked only once the rail's status confirms it.

use crate::ports::{ConcludeOutcome, Heard, RailError, RailStatus, RailVerdict, StoreError};
use std::future::Future;

/// How many times a reversing notification's status is read while other words of the
/// rail's keep moving the movement (each read is newer than the word before it).
const STATUS_READS: usize = 3;

/// Books a notified `verdict` with `apply`. One that would reverse a decided movement is
/// checked against the rail's status (`status`): set aside if the status contradicts it,
/// otherwise booked while the movement still stands where it stood when the status was
/// read. Moved in between by another word of the rail's (newer than the read, perhaps),
/// the status is read again; a movement that keeps moving is a 503, for the rail to retry.
pub(crate) async fn conclude_notified<A, S>(
    verdict: &RailVerdict,
    mut apply: impl FnMut(Heard) -> A,
    mut status: impl FnMut() -> S,
) -> Result<ConcludeOutcome, StoreError>
where
    A: Future<Output = Result<ConcludeOutcome, StoreError>>,
    S: Future<Output = Result<RailStatus, RailError>>,
{
    let mut heard = Heard::Notified;
    let mut reads = 0;
    loop {
        match apply(heard).await? {
            ConcludeOutcome::Unconfirmed(_) if reads == STATUS_READS => {
                return Err(StoreError::Unavailable(anyhow::anyhow!(
                    "the movement kept moving while a reversing notification was confirmed"
                )));
            }
            ConcludeOutcome::Unconfirmed(stood) => {
                reads += 1;
                if !confirmed(verdict, status().await) {
                    return Ok(ConcludeOutcome::Stale);
                }
                heard = Heard::Confirmed(stood);
            }
            other => return Ok(other),
        }
    }
}

/// Whether a notified verdict that would reverse a decided movement is booked, given the
/// rail's status now, `status`. Notifications may arrive out of order: one the status
/// contradicts (it says what is booked) is an old word, set aside. One it confirms is
/// booked; so is one it cannot judge (pending, unknown, unreachable), as the rail's latest
/// word, flagged for operations like every reversal: refusing it would leave a reversal
/// that really happened to the rail's retries alone, and they end.
pub(crate) fn confirmed(notified: &RailVerdict, status: Result<RailStatus, RailError>) -> bool {
    match status {
        Ok(RailStatus::Decided(now)) => {
            let same = now.same_outcome(notified);
            if !same {
                tracing::warn!("a notification the rail's status contradicts was set aside as stale");
                crate::telemetry::metrics(&[("StaleRailVerdicts", 1.0, crate::telemetry::Unit::Count)]);
            }
            same
        }
        Ok(RailStatus::Pending | RailStatus::Unknown) => {
            tracing::warn!("the rail's status cannot judge a reversing notification; booked as its latest word");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "the rail's status is unreadable; a reversing notification is booked as its latest word");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::verdict::{Booked, Contradiction, Rejection, RejectionCode, Standing};
    use std::cell::RefCell;

    fn rejected() -> RailVerdict {
        RailVerdict::Rejected(Rejection::new(RejectionCode::Ac07))
    }

    fn settled() -> RailVerdict {
        RailVerdict::Settled { at: chrono::Utc::now(), valor: None }
    }

    fn stood(version: i64) -> Standing {
        Standing { booked: Booked::Settled, version }
    }

    /// A rejection notified for a settled transfer, over the store's answers and the rail's
    /// statuses given in order: the outcome, and how the store was asked each time.
    async fn notify_rejection(
        answers: Vec<ConcludeOutcome>,
        statuses: Vec<RailVerdict>,
    ) -> (Result<ConcludeOutcome, StoreError>, Vec<Heard>) {
        let asked = RefCell::new(vec![]);
        let answers = RefCell::new(answers.into_iter());
        let statuses = RefCell::new(statuses.into_iter());
        let outcome = conclude_notified(
            &rejected(),
            |heard| {
                asked.borrow_mut().push(heard);
                let answer = answers.borrow_mut().next().expect("asked the store once too often");
                async move { Ok(answer) }
            },
            || {
                let status = statuses.borrow_mut().next().expect("read the status once too often");
                async move { Ok(RailStatus::Decided(status)) }
            },
        )
        .await;
        (outcome, asked.into_inner())
    }

    #[tokio::test]
    async fn a_reversal_the_status_confirms_is_booked_against_the_movement_as_it_stood_when_read() {
        let flagged = || ConcludeOutcome::Flagged(Contradiction::VoidedAfterSettle);
        let (outcome, asked) =
            notify_rejection(vec![ConcludeOutcome::Unconfirmed(stood(7)), flagged()], vec![rejected()]).await;
        assert_eq!(outcome.unwrap(), flagged());
        assert_eq!(asked, [Heard::Notified, Heard::Confirmed(stood(7))]);
    }

    #[tokio::test]
    async fn a_movement_booked_again_since_its_status_was_read_has_its_status_read_again() {
        // Between the read and the booking, the rail's other words moved the transfer (and
        // back: the same state, another version); now the rail says settled.
        let (outcome, asked) = notify_rejection(
            vec![ConcludeOutcome::Unconfirmed(stood(7)), ConcludeOutcome::Unconfirmed(stood(9))],
            vec![rejected(), settled()],
        )
        .await;
        assert_eq!(outcome.unwrap(), ConcludeOutcome::Stale);
        assert_eq!(asked, [Heard::Notified, Heard::Confirmed(stood(7))]);
    }

    #[tokio::test]
    async fn a_movement_that_keeps_moving_is_left_to_the_rails_retry() {
        let moving = (1..=4).map(|v| ConcludeOutcome::Unconfirmed(stood(v))).collect();
        let (outcome, asked) = notify_rejection(moving, vec![rejected(); STATUS_READS]).await;
        assert!(matches!(outcome, Err(StoreError::Unavailable(_))), "{outcome:?}");
        assert_eq!(asked.len(), STATUS_READS + 1, "the status read {STATUS_READS} times");
    }
}

//! Notified verdicts on the movements we send (transfers, refunds): one that would reverse
//! what was booked is booked only once the rail's status confirms it, and kept for the
//! reconciler while the status cannot judge it.

use crate::ports::{ConcludeOutcome, Heard, RailError, RailStatus, RailVerdict, StoreError};
use std::future::Future;

/// How many times a reversing notification's status is read while other words of the
/// rail's keep moving the movement (each read is newer than the word before it).
const STATUS_READS: usize = 3;

/// Books a notified `verdict` with `apply`. One that would reverse a decided movement is
/// checked against the rail's status (`status`): set aside if the status contradicts it,
/// kept with `park` if the status cannot judge it (nothing booked: the reconciler judges
/// it again), otherwise booked while the movement still stands where it stood when the
/// status was read. Moved in between by another word of the rail's (newer than the read,
/// perhaps), the status is read again; a movement that keeps moving is a 503, for the
/// rail to retry.
pub(crate) async fn conclude_notified<A, S, P>(
    verdict: &RailVerdict,
    mut apply: impl FnMut(Heard) -> A,
    mut status: impl FnMut() -> S,
    park: impl FnOnce() -> P,
) -> Result<ConcludeOutcome, StoreError>
where
    A: Future<Output = Result<ConcludeOutcome, StoreError>>,
    S: Future<Output = Result<RailStatus, RailError>>,
    P: Future<Output = Result<(), StoreError>>,
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
                match judge(verdict, status().await) {
                    Judgement::Confirmed => heard = Heard::Confirmed(stood),
                    Judgement::Contradicted => return Ok(ConcludeOutcome::Stale),
                    Judgement::CannotJudge => {
                        park().await?;
                        return Ok(ConcludeOutcome::Parked);
                    }
                }
            }
            other => return Ok(other),
        }
    }
}

/// What the rail's status says of a notified verdict that would reverse a decided movement.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Judgement {
    /// The status says the same: the reversal happened.
    Confirmed,
    /// The status says what is booked: the notification is an old word, arrived late
    /// (notifications may arrive out of order).
    Contradicted,
    /// Pending, unknown or unreachable: no answer either way. Neither booked (a guess) nor
    /// refused (a reversal that really happened would be left to the rail's retries, which
    /// end): kept, and judged again on the reconciler's passes.
    CannotJudge,
}

/// Judges a notified verdict that would reverse a decided movement by the rail's status now.
pub(crate) fn judge(notified: &RailVerdict, status: Result<RailStatus, RailError>) -> Judgement {
    match status {
        Ok(RailStatus::Decided(now)) if now.same_outcome(notified) => Judgement::Confirmed,
        Ok(RailStatus::Decided(_)) => {
            tracing::warn!("a notification the rail's status contradicts was set aside as stale");
            crate::telemetry::metrics(&[("StaleRailVerdicts", 1.0, crate::telemetry::Unit::Count)]);
            Judgement::Contradicted
        }
        Ok(RailStatus::Pending | RailStatus::Unknown) => {
            tracing::warn!("the rail's status cannot judge a reversing notification; kept for the reconciler");
            Judgement::CannotJudge
        }
        Err(e) => {
            tracing::warn!(error = %e, "the rail's status is unreadable; a reversing notification is kept for the reconciler");
            Judgement::CannotJudge
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
            || async { panic!("a status that judges parks nothing") },
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

    #[tokio::test]
    async fn a_reversal_the_status_cannot_judge_is_kept_for_the_reconciler_and_nothing_is_booked() {
        for status in
            [Ok(RailStatus::Pending), Ok(RailStatus::Unknown), Err(RailError::Unavailable(anyhow::anyhow!("timeout")))]
        {
            let asked = RefCell::new(vec![]);
            let parked = RefCell::new(0);
            let status = RefCell::new(Some(status));
            let outcome = conclude_notified(
                &rejected(),
                |heard| {
                    asked.borrow_mut().push(heard);
                    async { Ok(ConcludeOutcome::Unconfirmed(stood(7))) }
                },
                || {
                    let status = status.borrow_mut().take().expect("read the status once too often");
                    async move { status }
                },
                || {
                    *parked.borrow_mut() += 1;
                    async { Ok(()) }
                },
            )
            .await;
            assert_eq!(outcome.unwrap(), ConcludeOutcome::Parked);
            assert_eq!(asked.into_inner(), [Heard::Notified], "booked nothing");
            assert_eq!(parked.into_inner(), 1);
        }
    }

    #[test]
    fn the_status_judges_a_reversal_by_its_outcome_not_its_details() {
        let later = RailVerdict::Rejected(Rejection::new(RejectionCode::Ab03));
        assert_eq!(judge(&rejected(), Ok(RailStatus::Decided(later))), Judgement::Confirmed);
        assert_eq!(judge(&rejected(), Ok(RailStatus::Decided(settled()))), Judgement::Contradicted);
    }
}

//! A batch of received Pix from the rail, booked together: the plain credits (no charge to
//! read) in one statement and one commit, the others one by one as a single notification.
//!
//! A received Pix costs the database mostly per statement (executor start-up, the ledger's
//! statement-level trigger, the commit), little per row: ten credits in one statement cost
//! about what two or three cost one by one (BENCHMARKS.md). The statement is the single
//! booking's, for many rows: the notifications claimed, the Pix recorded, their ledger
//! entries and postings (the trigger moves each account's balance once, in account order),
//! their outbox events. It books all of them or none: if any claimed notification finds
//! its end-to-end id already recorded (a Pix reported again), or anything else goes wrong,
//! the statement undoes itself and every Pix of the batch is booked alone, as it would have
//! been without the batch.

use super::documents::{self, PAGADOR};
use super::ledger::{legs, AccountDirectory};
use super::pix::{pix_reference, BOOKING_RETRY};
use super::store_error;
use crate::domain::ids::Txid;
use crate::domain::ledger::{FeePlan, JournalEntry};
use crate::domain::merchant::MerchantId;
use crate::domain::money::Amount;
use crate::domain::payment::{decide_credit, Alert, IncomingPix};
use crate::ports::{Cipher, RecordOutcome, StoreError};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};

/// Who owns each of these keys, in one round trip. (A key's owner never changes.)
async fn key_owners(
    conn: &mut PgConnection,
    chaves: &[&str],
) -> Result<HashMap<String, (MerchantId, FeePlan)>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT k.chave, m.id, m.fee_bps, m.fee_fixed FROM merchant_pix_keys k JOIN merchants m ON m.id = k.merchant_id
            WHERE k.chave = ANY($1)"#,
        chaves as &[&str]
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    rows.into_iter()
        .map(|o| Ok((o.chave, (MerchantId(o.id), super::merchants::fee_plan(o.fee_bps, o.fee_fixed)?))))
        .collect()
}

/// Whether booking this Pix reads a charge first (its owner is known and its txid could
/// name one): such a Pix is booked alone, under the rules of a single notification.
fn names_a_charge(pix: &IncomingPix, owned: bool) -> bool {
    owned && pix.txid.as_ref().is_some_and(|t| Txid::parse_for_charge(t.as_str()).is_ok())
}

/// The columns of the batch statement, one entry per Pix (legs and events flattened,
/// each keyed by its Pix's end-to-end id).
#[derive(Default)]
struct Rows {
    notification_ids: Vec<String>,
    end_to_end_ids: Vec<String>,
    merchants: Vec<Option<uuid::Uuid>>,
    chaves: Vec<String>,
    txids: Vec<Option<String>>,
    valores: Vec<i64>,
    fees: Vec<i64>,
    horarios: Vec<chrono::DateTime<chrono::Utc>>,
    doc_kinds: Vec<Option<String>>,
    doc_encs: Vec<Option<Vec<u8>>>,
    doc_indexes: Vec<Option<Vec<u8>>>,
    nomes: Vec<Option<String>>,
    infos: Vec<Option<String>>,
    alerts: Vec<Option<String>>,
    references: Vec<serde_json::Value>,
    leg_pix: Vec<String>,
    leg_accounts: Vec<i64>,
    leg_amounts: Vec<i64>,
    event_pix: Vec<String>,
    event_kinds: Vec<String>,
    event_payloads: Vec<serde_json::Value>,
}

/// One Pix of the batch as booked together: where it sits in the batch, and what a single
/// booking would have answered for it had it been recorded.
struct Member {
    index: usize,
    notification_id: String,
    merchant: Option<MerchantId>,
    alert: Option<Alert>,
}

/// Books the plain credits of `batch` together. Answers, for each Pix of the batch, its
/// outcome if it was booked here; None for those left to be booked alone (they name a
/// charge, repeat a notification or end-to-end id of the batch, or the statement undid
/// itself).
pub(super) async fn book_together(
    conn: &mut PgConnection,
    accounts: &AccountDirectory,
    cipher: &dyn Cipher,
    batch: &[(&str, &IncomingPix)],
) -> Result<Vec<Option<RecordOutcome>>, StoreError> {
    let mut outcomes: Vec<Option<RecordOutcome>> = batch.iter().map(|_| None).collect();
    let chaves: Vec<&str> = batch.iter().map(|(_, p)| p.chave.as_str()).collect();
    let owners = key_owners(conn, &chaves).await?;
    let (mut rows, mut members) = (Rows::default(), vec![]);
    let (mut ids, mut e2eids) = (HashSet::new(), HashSet::new());
    for (index, (notification_id, pix)) in batch.iter().enumerate() {
        let owner = owners.get(&pix.chave);
        let merchant = owner.map(|(m, _)| *m);
        // A repeat inside the batch is booked alone afterwards, and so judged against the
        // first as any repeat is (a duplicate, or a report that contradicts it). Every
        // item's ids are taken, those of an item booked alone too: a later item that repeats
        // them must not be booked before it.
        let new_id = ids.insert(*notification_id);
        let new_e2eid = e2eids.insert(pix.end_to_end_id.as_str());
        if names_a_charge(pix, merchant.is_some()) || !new_id || !new_e2eid {
            continue;
        }
        let fee = owner.map_or(Amount::ZERO, |(_, plan)| plan.fee(pix.valor));
        let sealed = documents::seal(cipher, pix.pagador.documento.as_ref(), merchant, PAGADOR).await?;
        let entry = JournalEntry::pix_received(pix.end_to_end_id.as_str(), merchant, pix.valor, fee);
        let (account_ids, amounts) = legs(conn, accounts, &entry).await?;
        let decision = decide_credit(pix, merchant.is_some(), None, fee);
        let e2eid = pix.end_to_end_id.as_str();
        rows.notification_ids.push((*notification_id).to_owned());
        rows.end_to_end_ids.push(e2eid.to_owned());
        rows.merchants.push(merchant.map(|m| m.0));
        rows.chaves.push(pix.chave.clone());
        rows.txids.push(pix.txid.as_ref().map(|t| t.as_str().to_owned()));
        rows.valores.push(pix.valor.centavos());
        rows.fees.push(fee.centavos());
        rows.horarios.push(pix.horario);
        rows.doc_kinds.push(sealed.as_ref().map(|d| d.kind.clone()));
        rows.doc_indexes.push(sealed.as_ref().map(|d| d.index.clone()));
        rows.doc_encs.push(sealed.map(|d| d.enc));
        rows.nomes.push(pix.pagador.nome.clone());
        rows.infos.push(pix.info_pagador.clone());
        rows.alerts.push(decision.alert.map(|a| a.as_str().to_owned()));
        rows.references.push(pix_reference(pix));
        for (account, amount) in account_ids.into_iter().zip(amounts) {
            rows.leg_pix.push(e2eid.to_owned());
            rows.leg_accounts.push(account);
            rows.leg_amounts.push(amount);
        }
        for event in decision.events {
            rows.event_pix.push(e2eid.to_owned());
            rows.event_kinds.push(event.kind.as_str().to_owned());
            rows.event_payloads.push(event.payload);
        }
        members.push(Member { index, notification_id: (*notification_id).to_owned(), merchant, alert: decision.alert });
    }
    if members.len() < 2 {
        // Nothing to share: booked alone.
        return Ok(outcomes);
    }
    // The notifications are claimed in id order and their Pix recorded in end-to-end id
    // order, so two batches that share notifications or Pix mostly wait for each other; a
    // deadlock Postgres still finds ends the statement, and the batch is booked one by one.
    // The events of the Pix booked together are written in the batch's order (those booked
    // alone afterwards come after them).
    let booked = sqlx::query!(
        r#"WITH input AS (
               SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::bigint[],
                                    $7::bigint[], $8::timestamptz[], $9::text[], $10::bytea[], $11::bytea[],
                                    $12::text[], $13::text[], $14::text[], $15::jsonb[])
                   WITH ORDINALITY
                   AS i (notification_id, end_to_end_id, merchant_id, chave, txid, valor, fee, horario, doc_kind,
                         doc_enc, doc_index, pagador_nome, info_pagador, alerta, reference, n)
           ), claim AS (
               INSERT INTO rail_notifications (id, kind)
               SELECT notification_id, 'PIX_RECEBIDO' FROM input ORDER BY notification_id
               ON CONFLICT (id) DO NOTHING
               RETURNING id
           ), pix AS (
               INSERT INTO received_pix (end_to_end_id, merchant_id, chave, txid, valor, fee, horario, pagador_doc_kind,
                                         pagador_doc_enc, pagador_doc_index, pagador_nome, info_pagador, alerta)
               SELECT i.end_to_end_id, i.merchant_id, i.chave, i.txid, i.valor, i.fee, i.horario, i.doc_kind, i.doc_enc,
                      i.doc_index, i.pagador_nome, i.info_pagador, i.alerta
                 FROM input i JOIN claim c ON c.id = i.notification_id
                ORDER BY i.end_to_end_id
               ON CONFLICT (end_to_end_id) DO NOTHING
               RETURNING id, end_to_end_id
           ), entry AS (
               INSERT INTO ledger_transactions (kind, natural_key, reference)
               SELECT 'pix_received', i.end_to_end_id, i.reference
                 FROM pix JOIN input i ON i.end_to_end_id = pix.end_to_end_id
                ORDER BY i.n
               RETURNING id, natural_key
           ), postings AS (
               INSERT INTO ledger_postings (transaction_id, account_id, amount)
               SELECT entry.id, l.account_id, l.amount
                 FROM entry JOIN unnest($16::text[], $17::bigint[], $18::bigint[]) AS l (end_to_end_id, account_id, amount)
                   ON l.end_to_end_id = entry.natural_key
                ORDER BY l.account_id
               RETURNING id
           ), events AS (
               INSERT INTO outbox_events (merchant_id, kind, payload)
               SELECT i.merchant_id, e.kind, e.payload
                 FROM pix JOIN input i ON i.end_to_end_id = pix.end_to_end_id
                 JOIN unnest($19::text[], $20::text[], $21::jsonb[]) WITH ORDINALITY AS e (end_to_end_id, kind, payload, n)
                   ON e.end_to_end_id = pix.end_to_end_id
                ORDER BY i.n, e.n
               RETURNING id
           )
           SELECT ARRAY(SELECT id FROM claim) AS "claimed!",
                  CASE WHEN (SELECT count(*) FROM pix) <> (SELECT count(*) FROM claim)
                            OR (SELECT count(*) FROM postings) <> (
                                 SELECT count(*) FROM unnest($16::text[]) AS l (end_to_end_id)
                                   JOIN input i ON i.end_to_end_id = l.end_to_end_id
                                   JOIN claim c ON c.id = i.notification_id)
                       THEN booking_retry('an end-to-end id of the batch was already recorded')
                       ELSE true END AS "checked!""#,
        &rows.notification_ids,
        &rows.end_to_end_ids,
        &rows.merchants as &[Option<uuid::Uuid>],
        &rows.chaves,
        &rows.txids as &[Option<String>],
        &rows.valores,
        &rows.fees,
        &rows.horarios,
        &rows.doc_kinds as &[Option<String>],
        &rows.doc_encs as &[Option<Vec<u8>>],
        &rows.doc_indexes as &[Option<Vec<u8>>],
        &rows.nomes as &[Option<String>],
        &rows.infos as &[Option<String>],
        &rows.alerts as &[Option<String>],
        &rows.references,
        &rows.leg_pix,
        &rows.leg_accounts,
        &rows.leg_amounts,
        &rows.event_pix,
        &rows.event_kinds,
        &rows.event_payloads,
    )
    .fetch_one(&mut *conn)
    .await;
    let claimed: HashSet<String> = match booked {
        Ok(row) => row.claimed.into_iter().collect(),
        Err(e) => {
            let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
            if code.as_deref() != Some(BOOKING_RETRY) {
                // Undone whole by its own failure (a deadlock with another batch, a
                // connection lost): each Pix is booked alone, and reports its own error.
                // (Only the SQLSTATE is logged: a database message may quote a key.)
                tracing::warn!(
                    sqlstate = code.as_deref().unwrap_or(""),
                    "a batch of received Pix was not booked together"
                );
            }
            return Ok(outcomes);
        }
    };
    for m in members {
        outcomes[m.index] = Some(if claimed.contains(&m.notification_id) {
            RecordOutcome::Recorded { merchant: m.merchant, alert: m.alert }
        } else {
            RecordOutcome::Duplicate
        });
    }
    Ok(outcomes)
}

//! Use cases of Pix transfers out: by key or bank account, by BR Code, the DICT lookup a
//! banking app shows before paying, and the rail's verdicts.

use super::AppState;
use crate::domain::brcode::{BrCode, NO_TXID};
use crate::domain::ids::{EndToEndId, Txid};
use crate::domain::merchant::Merchant;
use crate::domain::money::Amount;
use crate::domain::pix_key::PixKey;
use crate::domain::quota::{lookup_refund, LookupOutcome, QuotaLimits, LOOKUP_RESERVE, MILLI, ORDER_SENT};
use crate::domain::transfer::{DictEntry, IdEnvio, Receiver, Transfer, TransferRequest};
use crate::ports::{
    Clock, ConcludeOutcome, Heard, LocationReader, Page, PixRail, RailError, RailVerdict, RateCounter, StoreError,
    TransferOutcome, TransferQuery, TransferRejection, TransferStore, VerdictOn,
};

/// The ports the transfer use cases run with (the application state has them all).
pub trait TransferPorts {
    fn transfers(&self) -> &dyn TransferStore;
    fn rail(&self) -> &dyn PixRail;
    fn locations(&self) -> &dyn LocationReader;
    fn rate_counter(&self) -> &dyn RateCounter;
    fn clock(&self) -> &dyn Clock;
    /// The per-merchant limits (the key-lookup bucket).
    fn quotas(&self) -> &QuotaLimits;
    /// Our ISPB, the first part of the end-to-end ids we make.
    fn ispb(&self) -> &str;
}

impl TransferPorts for AppState {
    fn transfers(&self) -> &dyn TransferStore {
        self.transfers.as_ref()
    }
    fn rail(&self) -> &dyn PixRail {
        self.rail.as_ref()
    }
    fn locations(&self) -> &dyn LocationReader {
        self.locations.as_ref()
    }
    fn rate_counter(&self) -> &dyn RateCounter {
        self.rate_counter.as_ref()
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn quotas(&self) -> &QuotaLimits {
        &self.config.quotas
    }
    fn ispb(&self) -> &str {
        &self.config.ispb
    }
}

/// Why a transfer was not made.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The DICT has no entry for the key (`GET /dict/{chave}` or a transfer to a key).
    #[error("no account holds this Pix key")]
    UnknownKey,
    /// This idEnvio already names a transfer with other content (for a BR Code, another `valor`).
    #[error("the idEnvio is already used for a different transfer")]
    IdInUse,
    /// The balance or a limit refuses the transfer; nothing is reserved or sent.
    #[error(transparent)]
    Rejected(#[from] TransferRejection),
    /// The BR Code does not decode or cannot be paid as asked; carries why, shown on `pixCopiaECola`.
    #[error("the BR Code cannot be paid: {0}")]
    BadCode(String),
    /// A dynamic BR Code whose payload location could not be read.
    #[error("the BR Code's payload location could not be read: {0}")]
    LocationUnreadable(crate::domain::location::LocationFailure),
    /// No transfer with this idEnvio for this merchant.
    #[error("no transfer with this idEnvio")]
    NotFound,
    /// The DICT lookup got no answer (or an unexpected rejection); nothing is reserved. Answered 503.
    #[error("the Pix rail is unavailable")]
    RailUnavailable(#[source] anyhow::Error),
    /// The merchant's key-lookup bucket is empty for `retry_after` more seconds.
    #[error("the key-lookup quota is used up")]
    RateLimited { retry_after: u64 },
    /// The store failed: answered 503 when it is unavailable, 500 otherwise.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn rail_error(e: RailError) -> TransferError {
    match e {
        RailError::Unavailable(cause) => TransferError::RailUnavailable(cause),
        // The directory does not reject: it answers or not.
        RailError::Rejected(r) => {
            TransferError::RailUnavailable(anyhow::anyhow!("DICT lookup rejected ({})", r.code.as_str()))
        }
    }
}

/// Who holds a key, as a banking app shows it before paying (`GET /dict/{chave}`, and
/// before a transfer to a key). Charged to the merchant's key-lookup bucket as the DICT
/// charges its own: the worst case is reserved first (refused with `RateLimited` while the
/// bucket holds less than a token), what the answer did not cost goes back after.
pub async fn lookup(
    ports: &impl TransferPorts,
    merchant: &Merchant,
    chave: &PixKey,
) -> Result<DictEntry, TransferError> {
    let bucket = ports.quotas().dict_bucket(merchant.individual);
    let counters = ports.rate_counter();
    let floor = Some(MILLI - LOOKUP_RESERVE);
    let reserved = match counters.adjust_bucket(merchant.id, bucket, -LOOKUP_RESERVE, floor, ports.clock().now()).await
    {
        Ok((_, true)) => true,
        Ok((tokens, false)) => {
            return Err(TransferError::RateLimited { retry_after: bucket.seconds_until_one(tokens) })
        }
        // The counter down must not stop payments; the stage's throttling still bounds it.
        Err(e) => {
            tracing::warn!(error = %e, "key-lookup quota unavailable: admitted");
            false
        }
    };
    let answer = ports.rail().lookup_key(chave.as_str()).await;
    let outcome = match &answer {
        Ok(Some(_)) => LookupOutcome::Found,
        Ok(None) => LookupOutcome::NotFound,
        Err(_) => LookupOutcome::NotAsked,
    };
    if reserved {
        give_back(ports, merchant, lookup_refund(outcome)).await;
    }
    answer.map_err(rail_error)?.ok_or(TransferError::UnknownKey)
}

/// Returns `milli` thousandths of a token to the merchant's key-lookup bucket.
async fn give_back(ports: &impl TransferPorts, merchant: &Merchant, milli: i64) {
    if milli == 0 {
        return;
    }
    let bucket = ports.quotas().dict_bucket(merchant.individual);
    if let Err(e) = ports.rate_counter().adjust_bucket(merchant.id, bucket, milli, None, ports.clock().now()).await {
        tracing::warn!(error = %e, "returning key-lookup tokens failed");
    }
}

/// The result of a transfer request: the transfer, and whether this call created it.
pub struct TransferCreated {
    pub transfer: Transfer,
    pub created: bool,
}

/// Sends a reserved transfer's order to the rail. Only an explicit rejection (a final
/// reason code) voids it now; any other failure — unreachable, timed out, throttled, a
/// server error — leaves it EM_PROCESSAMENTO with its reservation, for the rail's
/// notification or the reconciler to finish.
pub async fn dispatch(ports: &impl TransferPorts, t: &Transfer) -> Result<(), TransferError> {
    match ports.rail().send_pix(t).await {
        Ok(()) => Ok(()),
        Err(RailError::Unavailable(e)) => {
            tracing::warn!(
                e2eid = t.end_to_end_id.as_str(),
                error = format!("{e:#}"),
                "Pix order outcome unknown: left to the reconciler"
            );
            Ok(())
        }
        Err(RailError::Rejected(rejection)) => {
            let id = format!("rejected-{}", t.end_to_end_id.as_str());
            let verdict = RailVerdict::Rejected(rejection);
            ports.transfers().conclude(&id, &t.end_to_end_id, &verdict, Heard::FromRail).await?;
            Ok(())
        }
    }
}

/// `PUT /envio/{idEnvio}` (and the BR Code variant once decoded): look the key up, check
/// limits and reserve, then order the Pix.
pub async fn send(
    ports: &impl TransferPorts,
    merchant: &Merchant,
    request: &TransferRequest,
    fingerprint: [u8; 32],
) -> Result<TransferCreated, TransferError> {
    // A repeated request answers from the store without asking the directory again.
    if let Some(existing) = ports.transfers().find(merchant.id, &request.id).await? {
        return match ports
            .transfers()
            .reserve(merchant.id, request, None, &existing.end_to_end_id, fingerprint, ports.clock().now())
            .await?
        {
            TransferOutcome::Existing { transfer, same_request: true } => {
                Ok(TransferCreated { transfer, created: false })
            }
            _ => Err(TransferError::IdInUse),
        };
    }
    let nome = match &request.favorecido {
        Receiver::Key(k) => Some(lookup(ports, merchant, k).await?.nome),
        Receiver::Account(_) => None,
    };
    let now = ports.clock().now();
    let e2eid = EndToEndId::generate(ports.ispb(), now);
    let transfer =
        match ports.transfers().reserve(merchant.id, request, nome.as_deref(), &e2eid, fingerprint, now).await? {
            TransferOutcome::Created(t) => t,
            TransferOutcome::Existing { transfer, same_request: true } => {
                return Ok(TransferCreated { transfer, created: false })
            }
            TransferOutcome::Existing { .. } => return Err(TransferError::IdInUse),
            TransferOutcome::Rejected(r) => return Err(r.into()),
        };
    dispatch(ports, &transfer).await?;
    if nome.is_some() {
        // The lookup led to a payment order: the DICT gives its token back.
        give_back(ports, merchant, ORDER_SENT).await;
    }
    let current = ports.transfers().find(merchant.id, &request.id).await?.unwrap_or(transfer);
    crate::telemetry::metrics(&[
        ("TransfersRequested", 1.0, crate::telemetry::Unit::Count),
        ("TransfersValue", current.valor.centavos() as f64, crate::telemetry::Unit::None),
    ]);
    Ok(TransferCreated { transfer: current, created: true })
}

/// The transfer a `PUT /envio/{idEnvio}/qrcode` asks for. A retry of a transfer already
/// made is answered from the stored transfer, without reading the code's location again
/// (the charge it paid is no longer ATIVA, so a second read would refuse the retry); a
/// retry asking another amount is another request.
pub async fn request_for_code(
    ports: &impl TransferPorts,
    merchant: &Merchant,
    id: IdEnvio,
    payload: &str,
    valor: Option<Amount>,
    descricao: Option<String>,
) -> Result<TransferRequest, TransferError> {
    if let Some(t) = ports.transfers().find(merchant.id, &id).await? {
        if valor.is_some_and(|v| v != t.valor) {
            return Err(TransferError::IdInUse);
        }
        return Ok(TransferRequest { id, valor: t.valor, favorecido: t.favorecido, descricao, txid: t.txid });
    }
    let terms = read_code(ports, payload, valor).await?;
    Ok(TransferRequest { id, valor: terms.valor, favorecido: Receiver::Key(terms.chave), descricao, txid: terms.txid })
}

/// What paying a BR Code needs: the key, the amount and the txid it names.
pub struct CodeTerms {
    pub chave: PixKey,
    pub valor: Amount,
    pub txid: Option<Txid>,
}

/// Reads a BR Code (and, for dynamic codes, its payload location) into transfer terms.
pub async fn read_code(
    ports: &impl TransferPorts,
    payload: &str,
    valor: Option<Amount>,
) -> Result<CodeTerms, TransferError> {
    let bad = |s: &str| TransferError::BadCode(s.to_owned());
    let code = BrCode::decode(payload.trim()).map_err(|e| TransferError::BadCode(e.to_string()))?;
    let (chave, code_valor, txid, alteravel) = match &code.account.url {
        Some(url) => {
            let p = ports.locations().read(url).await.map_err(TransferError::LocationUnreadable)?;
            if !p.ativa {
                return Err(bad("the charge is not ATIVA"));
            }
            let chave = p.chave.ok_or_else(|| bad("the payload has no key"))?;
            (chave, p.valor, p.txid, p.valor_alteravel)
        }
        None => {
            let chave = code.account.chave.clone().ok_or_else(|| bad("the code has no key"))?;
            let txid = (code.txid != NO_TXID).then(|| code.txid.clone());
            (chave, code.amount(), txid, false)
        }
    };
    let valor = match (code_valor, valor) {
        (Some(c), Some(v)) if c != v && !alteravel => return Err(bad("the code fixes another amount")),
        (_, Some(v)) => v,
        (Some(c), None) => c,
        (None, None) => return Err(bad("the code has no amount: give valor")),
    };
    if valor.is_zero() {
        return Err(bad("the amount must be more than zero"));
    }
    Ok(CodeTerms {
        chave: PixKey::parse(&chave).map_err(|_| bad("the code's key is not a Pix key"))?,
        valor,
        txid: txid.as_deref().map(Txid::parse).transpose().map_err(|_| bad("the code's txid is invalid"))?,
    })
}

pub async fn get(ports: &impl TransferPorts, merchant: &Merchant, id: &IdEnvio) -> Result<Transfer, TransferError> {
    ports.transfers().find(merchant.id, id).await?.ok_or(TransferError::NotFound)
}

pub async fn list(
    ports: &impl TransferPorts,
    merchant: &Merchant,
    q: &TransferQuery,
) -> Result<Page<Transfer>, TransferError> {
    Ok(ports.transfers().list(merchant.id, q).await?)
}

/// Applies the rail's notified verdict on a Pix we sent. Replays are no-ops. One that would
/// reverse what was booked waits for the rail's status (see
/// [`conclude_notified`](super::verdicts::conclude_notified)).
pub async fn conclude(
    ports: &impl TransferPorts,
    notification_id: &str,
    e2eid: &EndToEndId,
    verdict: &RailVerdict,
) -> Result<ConcludeOutcome, StoreError> {
    let on = VerdictOn::Transfer(e2eid.clone());
    super::verdicts::conclude_notified(
        verdict,
        |heard| ports.transfers().conclude(notification_id, e2eid, verdict, heard),
        || ports.rail().transfer_status(e2eid.as_str()),
        || ports.transfers().park_verdict(notification_id, &on, verdict),
    )
    .await
}

/// Credits a Pix we sent that the receiving bank returned. Replays are no-ops.
pub async fn record_return(
    ports: &impl TransferPorts,
    notification_id: &str,
    returned: &crate::ports::ReturnedPix,
) -> Result<ConcludeOutcome, StoreError> {
    let outcome = ports.transfers().record_return(notification_id, returned).await?;
    if matches!(outcome, ConcludeOutcome::Applied | ConcludeOutcome::Flagged(_)) {
        crate::telemetry::metrics(&[("TransfersReturned", 1.0, crate::telemetry::Unit::Count)]);
    }
    Ok(outcome)
}

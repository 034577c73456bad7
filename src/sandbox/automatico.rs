//! Pix Automático as the payer's bank: confirmation requests answered by a simulated payer
//! (automatically or by hand), the recurrences it authorised, and the attempts Tucano
//! schedules, debited on their day by the sandbox's simulated clock (`/relogio/avancar`
//! moves it, a background task catches real midnight), each event told to Tucano. Also the
//! recurrences a payer authorises by scanning a Pix Automático QR code (journeys 2 to 4).

use super::notify::deliver;
use super::{Shared, SANDBOX_ISPB};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::MutexGuard;
use std::time::Duration;
use tucano_shared::adapters::sandbox_clock::SandboxClock;
use tucano_shared::domain::cobv::calendar::brasilia_date;
use tucano_shared::ports::{Clock, SystemClock};
use tucano_shared::rail::protocol::{
    AgendamentoCobR, AprovacaoRec, CalendarioRec, Cancelamento, DestinatarioRec, Notificacao, Pagador, PagadorRec,
    PixRecebido, RecebedorRec, RejeicaoRec, SolicitacaoRec, VinculoRec,
};

/// The reason code of a debit that fails while `debitosSemSaldo` lasts (no funds).
pub(crate) const DEFAULT_FAILURE: &str = "AM02";
/// The payer refused the recurrence.
const REFUSAL_CODE: &str = "AP13";
/// An attempt for a recurrence the payer's bank has not authorised (or no longer has).
const NO_RECURRENCE_CODE: &str = "MIDI";
/// The payer's municipality (IBGE code) in approvals: Recife.
const PAYER_MUNICIPALITY: &str = "2611606";
const PAYER: &str = "USUARIO_PAGADOR";
/// The sandbox payer's CPF when the payment order names no payer.
pub(crate) const DEFAULT_PAYER_CPF: &str = "12345678909";
/// The sandbox payer's branch and account at the sandbox bank.
const PAYER_BRANCH: &str = "0001";
const PAYER_ACCOUNT: &str = "0001";
/// The payer cancelled its recurrence.
const PAYER_CANCELS_RECURRENCE: &str = "SLDB";
/// The payer cancelled one scheduled attempt.
const PAYER_CANCELS_ATTEMPT: &str = "SLBD";
const DAY_SECS: i64 = 86_400;
const MAX_DAYS: u32 = 3660;
/// How often the background task looks for attempts that fell due.
const TICK: Duration = Duration::from_secs(1);

type Answer = (StatusCode, Json<serde_json::Value>);

/// How the simulated payer answers confirmation requests (`PUT /controle` `recorrencias`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Approval {
    Aprovar,
    Rejeitar,
    /// Left RECEBIDA until `POST /pagador/solicitacoes/{id}/aprovar` or `/rejeitar`.
    Manual,
}

/// The sandbox's "now": the shared clock file when `SANDBOX_CLOCK_FILE` is set (so Tucano
/// and the rail agree on the day), else wall time plus an offset kept in memory.
pub(crate) struct SimClock {
    file: Option<SandboxClock>,
    offset: AtomicI64,
    /// Held while days are advanced or due attempts debited, so an advance reports every
    /// debit of its days and the background task never takes them from under it.
    turn: tokio::sync::Mutex<()>,
}

impl SimClock {
    pub(crate) fn from_env() -> Self {
        Self { file: SandboxClock::from_env(), offset: AtomicI64::new(0), turn: tokio::sync::Mutex::new(()) }
    }

    fn offset(&self) -> i64 {
        match &self.file {
            Some(f) => f.offset(),
            None => self.offset.load(Ordering::SeqCst),
        }
    }

    fn set_offset(&self, seconds: i64) -> std::io::Result<()> {
        match &self.file {
            Some(f) => f.set_offset(seconds),
            None => {
                self.offset.store(seconds, Ordering::SeqCst);
                Ok(())
            }
        }
    }

    fn now(&self) -> DateTime<Utc> {
        match &self.file {
            Some(f) => f.now(),
            None => SystemClock::wall() + chrono::Duration::seconds(self.offset()),
        }
    }

    /// The date in Brasília.
    fn today(&self) -> NaiveDate {
        brasilia_date(self.now())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum SolicitationStatus {
    Recebida,
    Aceita,
    Rejeitada,
    Cancelada,
    Expirada,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum RecurrenceStatus {
    Ativa,
    Cancelada,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum AttemptStatus {
    Agendada,
    Paga,
    Rejeitada,
    Cancelada,
}

/// A confirmation request as the payer's bank keeps it.
#[derive(Debug, Clone, Serialize)]
struct Solicitation {
    #[serde(flatten)]
    solicitacao: SolicitacaoRec,
    status: SolicitationStatus,
}

/// A recurrence the payer authorised: the data of the request it answered.
#[derive(Debug, Clone, Serialize)]
struct Recurrence {
    #[serde(flatten)]
    dados: SolicitacaoRec,
    status: RecurrenceStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelamento: Option<Cancelamento>,
}

/// One scheduled attempt.
#[derive(Debug, Clone, Serialize)]
struct Attempt {
    #[serde(flatten)]
    agendamento: AgendamentoCobR,
    status: AttemptStatus,
    /// Why a REJEITADA was refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    codigo: Option<String>,
    /// Tucano was told it is scheduled: only then may it be debited, so a payment never
    /// overtakes its COBR_AGENDADA.
    #[serde(skip)]
    announced: bool,
}

/// Everything the payer's bank knows of Pix Automático, keyed (and so listed) by id.
#[derive(Default)]
pub(crate) struct Book {
    solicitations: BTreeMap<String, Solicitation>,
    recurrences: BTreeMap<String, Recurrence>,
    attempts: BTreeMap<String, Attempt>,
}

/// Why a change was refused.
enum Refused {
    Unknown,
    /// Not in a state that allows it.
    Conflict,
}

impl Refused {
    fn answer(self) -> Answer {
        match self {
            Refused::Unknown => error(StatusCode::NOT_FOUND, "unknown id"),
            Refused::Conflict => error(StatusCode::CONFLICT, "not in a state that allows this"),
        }
    }
}

impl Book {
    /// Records an attempt (once per endToEndId): AGENDADA under an active recurrence, else
    /// REJEITADA. Returns whether it is new, and its status.
    fn schedule(&mut self, a: AgendamentoCobR, today: NaiveDate) -> (bool, AttemptStatus) {
        if let Some(known) = self.attempts.get(&a.end_to_end_id) {
            return (false, known.status);
        }
        // An order that arrives after its day is refused, never debited late.
        let active = self.recurrences.get(&a.id_rec).is_some_and(|r| r.status == RecurrenceStatus::Ativa)
            && a.data_liquidacao >= today;
        let (status, codigo) = if active {
            (AttemptStatus::Agendada, None)
        } else {
            (AttemptStatus::Rejeitada, Some(NO_RECURRENCE_CODE.to_owned()))
        };
        let id = a.end_to_end_id.clone();
        self.attempts.insert(id, Attempt { agendamento: a, status, codigo, announced: false });
        (true, status)
    }

    /// Cancels an active recurrence and every attempt of it still scheduled.
    /// Answers the attempts it ended.
    fn cancel_recurrence(&mut self, id_rec: &str, why: Cancelamento) -> Result<Vec<String>, Refused> {
        let rec = self.recurrences.get_mut(id_rec).ok_or(Refused::Unknown)?;
        if rec.status != RecurrenceStatus::Ativa {
            return Err(Refused::Conflict);
        }
        rec.status = RecurrenceStatus::Cancelada;
        rec.cancelamento = Some(why);
        let scheduled = |a: &&mut Attempt| a.agendamento.id_rec == id_rec && a.status == AttemptStatus::Agendada;
        let mut ended = vec![];
        for a in self.attempts.values_mut().filter(scheduled) {
            a.status = AttemptStatus::Cancelada;
            ended.push(a.agendamento.end_to_end_id.clone());
        }
        Ok(ended)
    }

    /// Cancels one scheduled attempt.
    fn cancel_attempt(&mut self, e2eid: &str) -> Result<(), Refused> {
        let a = self.attempts.get_mut(e2eid).ok_or(Refused::Unknown)?;
        if a.status != AttemptStatus::Agendada {
            return Err(Refused::Conflict);
        }
        a.status = AttemptStatus::Cancelada;
        Ok(())
    }

    /// Requests still RECEBIDA past their expiry become EXPIRADA.
    fn expire(&mut self, now: DateTime<Utc>) {
        for s in self.solicitations.values_mut() {
            expire_if_due(s, now);
        }
    }
}

fn expire_if_due(s: &mut Solicitation, now: DateTime<Utc>) {
    let past = DateTime::parse_from_rfc3339(&s.solicitacao.data_expiracao_solicitacao)
        .is_ok_and(|t| t.with_timezone(&Utc) < now);
    if s.status == SolicitationStatus::Recebida && past {
        s.status = SolicitationStatus::Expirada;
    }
}

fn error(status: StatusCode, why: &str) -> Answer {
    (status, Json(json!({"erro": why})))
}

fn book(rail: &Shared) -> MutexGuard<'_, Book> {
    rail.automatico.lock().unwrap_or_else(|p| p.into_inner())
}

fn notification_id() -> String {
    format!("ntf{}", uuid::Uuid::new_v4().simple())
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn cancelled_by_payer(codigo: &str) -> Cancelamento {
    Cancelamento { solicitante: PAYER.into(), codigo: codigo.into() }
}

// --- Confirmation requests -------------------------------------------------------------

/// `POST /recorrencias/solicitacoes`: a confirmation request (journey 1), once per
/// idSolicRec; the payer is shown it, then answers as `PUT /controle` says.
pub async fn solicitation(State(rail): State<Shared>, body: Bytes) -> Answer {
    let Ok(s) = serde_json::from_slice::<SolicitacaoRec>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid confirmation request");
    };
    let id = s.id_solic_rec.clone();
    let known = {
        let mut book = book(&rail);
        let known = book.solicitations.get(&id).map(|k| k.status);
        if known.is_none() {
            book.solicitations
                .insert(id.clone(), Solicitation { solicitacao: s, status: SolicitationStatus::Recebida });
        }
        known
    };
    if let Some(status) = known {
        return (StatusCode::ACCEPTED, Json(json!({"status": status})));
    }
    let bg = rail.clone();
    tokio::spawn(async move { show_to_payer(&bg, id).await });
    (StatusCode::ACCEPTED, Json(json!({"status": SolicitationStatus::Recebida})))
}

/// Tells Tucano the payer saw the request, then answers it unless the payer decides by hand.
async fn show_to_payer(rail: &Shared, id: String) {
    deliver(rail, &Notificacao::SolicRecRecebida { id: notification_id(), id_solic_rec: id.clone() }).await;
    let approval = rail.control.lock().unwrap_or_else(|p| p.into_inner()).recurrences;
    let approve = match approval {
        Approval::Aprovar => true,
        Approval::Rejeitar => false,
        Approval::Manual => return,
    };
    // Cancelled or expired meanwhile: nothing to answer.
    if let Ok(n) = answer_solicitation(rail, &id, approve) {
        deliver(rail, &n).await;
    }
}

/// The payer's answer to a pending request: ACEITA (and its recurrence ATIVA) or
/// REJEITADA. Returns the notification that tells Tucano.
fn answer_solicitation(rail: &Shared, id: &str, approve: bool) -> Result<Notificacao, Refused> {
    let now = rail.clock.now();
    let mut book = book(rail);
    let s = book.solicitations.get_mut(id).ok_or(Refused::Unknown)?;
    expire_if_due(s, now);
    if s.status != SolicitationStatus::Recebida {
        return Err(Refused::Conflict);
    }
    s.status = if approve { SolicitationStatus::Aceita } else { SolicitationStatus::Rejeitada };
    let dados = s.solicitacao.clone();
    if !approve {
        return Ok(refusal(&dados, Journey::Request));
    }
    let n = approval(&dados, Journey::Request, now);
    let recurrence = Recurrence { dados, status: RecurrenceStatus::Ativa, cancelamento: None };
    book.recurrences.insert(recurrence.dados.id_rec.clone(), recurrence);
    Ok(n)
}

/// The journey a recurrence was authorised (or refused) in, as Bacen's `tipoJornada` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Journey {
    /// 1: the payer answered a confirmation request.
    Request,
    /// 2: a QR code carrying the recurrence alone; nothing is paid.
    QrOnly,
    /// 3: a QR code with an immediate charge, paid on the spot.
    QrImmediate,
    /// 4: a QR code with a charge with a due date, paid on the spot.
    QrDueDate,
}

impl Journey {
    /// Bacen's `tipoJornada`.
    fn as_str(self) -> &'static str {
        match self {
            Journey::Request => "JORNADA_1",
            Journey::QrOnly => "JORNADA_2",
            Journey::QrImmediate => "JORNADA_3",
            Journey::QrDueDate => "JORNADA_4",
        }
    }

    /// Only journey 1 answers a confirmation request, and so names one.
    fn request_id(self, s: &SolicitacaoRec) -> Option<String> {
        (self == Journey::Request).then(|| s.id_solic_rec.clone())
    }
}

/// REC_APROVADA for a recurrence authorised in `journey`.
fn approval(s: &SolicitacaoRec, journey: Journey, now: DateTime<Utc>) -> Notificacao {
    let pagador = PagadorRec {
        ispb_participante: SANDBOX_ISPB.into(),
        cpf: s.destinatario.cpf.clone(),
        cnpj: s.destinatario.cnpj.clone(),
        cod_mun: Some(PAYER_MUNICIPALITY.into()),
    };
    let aprovacao = AprovacaoRec {
        id_rec: s.id_rec.clone(),
        id_solic_rec: journey.request_id(s),
        tipo_jornada: journey.as_str().into(),
        pagador,
        horario: rfc3339(now),
    };
    Notificacao::RecAprovada { id: notification_id(), aprovacao }
}

/// REC_REJEITADA (the payer refused) for a recurrence shown in `journey`.
fn refusal(s: &SolicitacaoRec, journey: Journey) -> Notificacao {
    let rejeicao =
        RejeicaoRec { id_rec: s.id_rec.clone(), id_solic_rec: journey.request_id(s), codigo: REFUSAL_CODE.into() };
    Notificacao::RecRejeitada { id: notification_id(), rejeicao }
}

/// `POST /recorrencias/solicitacoes/{idSolicRec}/cancelamento`: the receiver withdraws a
/// request the payer has not answered.
pub async fn cancel_solicitation(State(rail): State<Shared>, Path(id): Path<String>) -> Answer {
    let now = rail.clock.now();
    let status = {
        let mut book = book(&rail);
        let Some(s) = book.solicitations.get_mut(&id) else {
            return Refused::Unknown.answer();
        };
        expire_if_due(s, now);
        if s.status == SolicitationStatus::Recebida {
            s.status = SolicitationStatus::Cancelada;
        }
        s.status
    };
    (StatusCode::OK, Json(json!({"status": status})))
}

/// `POST /pagador/solicitacoes/{idSolicRec}/aprovar`: the payer authorises by hand.
pub async fn approve(State(rail): State<Shared>, Path(id): Path<String>) -> Answer {
    answer_by_hand(&rail, &id, true).await
}

/// `POST /pagador/solicitacoes/{idSolicRec}/rejeitar`: the payer refuses by hand.
pub async fn reject(State(rail): State<Shared>, Path(id): Path<String>) -> Answer {
    answer_by_hand(&rail, &id, false).await
}

async fn answer_by_hand(rail: &Shared, id: &str, approve: bool) -> Answer {
    let n = match answer_solicitation(rail, id, approve) {
        Ok(n) => n,
        Err(r) => return r.answer(),
    };
    let entrega = deliver(rail, &n).await;
    let status = if approve { SolicitationStatus::Aceita } else { SolicitationStatus::Rejeitada };
    (StatusCode::OK, Json(json!({"status": status, "entrega": entrega})))
}

// --- Recurrences -----------------------------------------------------------------------

/// `POST /recorrencias/{idRec}/cancelamento`: the receiver cancels a recurrence (and so
/// its scheduled attempts). A repeat answers 200 again.
pub async fn cancel_recurrence(State(rail): State<Shared>, Path(id): Path<String>, body: Bytes) -> Answer {
    let Ok(why) = serde_json::from_slice::<Cancelamento>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid cancellation");
    };
    let done = book(&rail).cancel_recurrence(&id, why);
    match done {
        Ok(_) | Err(Refused::Conflict) => (StatusCode::OK, Json(json!({"status": RecurrenceStatus::Cancelada}))),
        Err(Refused::Unknown) => Refused::Unknown.answer(),
    }
}

/// `POST /pagador/recorrencias/{idRec}/cancelamento`: the payer cancels a recurrence.
pub async fn payer_cancel_recurrence(State(rail): State<Shared>, Path(id): Path<String>) -> Answer {
    let why = cancelled_by_payer(PAYER_CANCELS_RECURRENCE);
    let ended = match book(&rail).cancel_recurrence(&id, why.clone()) {
        Ok(ended) => ended,
        Err(r) => return r.answer(),
    };
    let n = Notificacao::RecCancelada {
        id: notification_id(),
        id_rec: id,
        cancelamento: why,
        tentativas_canceladas: Some(ended),
    };
    let entrega = deliver(&rail, &n).await;
    (StatusCode::OK, Json(json!({"status": RecurrenceStatus::Cancelada, "entrega": entrega})))
}

// --- Recurrences from a QR code (journeys 2 to 4) ----------------------------------------

/// A recurrence location's payload (Bacen's `RecPayload`), as far as the payer's bank needs
/// it; the rest (`atualizacao`, ...) is ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecPayload {
    id_rec: String,
    recebedor: PayloadReceiver,
    vinculo: PayloadLink,
    calendario: PayloadCalendar,
    /// Absent when the receiver charges whatever each charge says.
    #[serde(default)]
    valor: PayloadValue,
    politica_retentativa: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadReceiver {
    cnpj: String,
    nome: String,
    ispb_participante: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadLink {
    #[serde(default)]
    objeto: Option<String>,
    contrato: String,
    devedor: PayloadDebtor,
}

/// The debtor named by the receiver: `cpf` or `cnpj`, and `nome`.
#[derive(Debug, Deserialize)]
struct PayloadDebtor {
    #[serde(default)]
    cpf: Option<String>,
    #[serde(default)]
    cnpj: Option<String>,
    #[serde(default)]
    nome: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadCalendar {
    data_inicial: NaiveDate,
    #[serde(default)]
    data_final: Option<NaiveDate>,
    periodicidade: String,
}

/// `valorRec` (a fixed amount) or `valorMinimoRecebedor` (a floor), or neither.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadValue {
    #[serde(default)]
    valor_rec: Option<String>,
    #[serde(default)]
    valor_minimo_recebedor: Option<String>,
}

impl RecPayload {
    /// The recurrence as the payer's bank keeps it: as if a request (without an id) had come
    /// for the payer's account `destinatario` and been answered at `now`.
    fn into_solicitation(self, destinatario: DestinatarioRec, now: DateTime<Utc>) -> SolicitacaoRec {
        let devedor = self.vinculo.devedor;
        SolicitacaoRec {
            id_solic_rec: String::new(),
            id_rec: self.id_rec,
            recebedor: RecebedorRec {
                cnpj: self.recebedor.cnpj,
                nome: self.recebedor.nome,
                ispb_participante: self.recebedor.ispb_participante,
            },
            vinculo: VinculoRec {
                objeto: self.vinculo.objeto,
                contrato: self.vinculo.contrato,
                devedor: Pagador { cpf: devedor.cpf, cnpj: devedor.cnpj, nome: devedor.nome },
            },
            calendario: CalendarioRec {
                data_inicial: self.calendario.data_inicial,
                data_final: self.calendario.data_final,
                periodicidade: self.calendario.periodicidade,
            },
            valor_rec: self.valor.valor_rec,
            valor_minimo_recebedor: self.valor.valor_minimo_recebedor,
            politica_retentativa: self.politica_retentativa,
            destinatario,
            data_expiracao_solicitacao: rfc3339(now),
        }
    }
}

/// Reads a verified recurrence payload: one without `idRec`, or not shaped as a
/// `RecPayload`, is refused (422).
pub(crate) fn read_recurrence(payload: serde_json::Value) -> Result<RecPayload, Answer> {
    let has_id = payload.get("idRec").and_then(serde_json::Value::as_str).is_some_and(|id| !id.is_empty());
    if !has_id {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "recurrence payload without idRec"));
    }
    serde_json::from_value(payload)
        .map_err(|e| error(StatusCode::UNPROCESSABLE_ENTITY, &format!("recurrence payload refused: {e}")))
}

/// What the payer decided on a recurrence read from a QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum Verdict {
    Aprovada,
    Rejeitada,
}

/// The payer's answer to a recurrence read from a QR code, as `POST /pagamentos` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QrAnswer {
    id_rec: String,
    /// `JORNADA_2`, `JORNADA_3` or `JORNADA_4`.
    jornada: &'static str,
    decisao: Verdict,
    /// Tucano's final HTTP status for the notification (0: never reached).
    entrega: u16,
}

/// The sandbox payer's account: its document is the payment order's payer's, else the
/// default CPF.
fn payer_account(pagador: Option<&Pagador>) -> DestinatarioRec {
    let (cpf, cnpj) = match pagador {
        Some(p) if p.cpf.is_some() || p.cnpj.is_some() => (p.cpf.clone(), p.cnpj.clone()),
        _ => (Some(DEFAULT_PAYER_CPF.to_owned()), None),
    };
    DestinatarioRec {
        ispb_participante: SANDBOX_ISPB.into(),
        agencia: Some(PAYER_BRANCH.into()),
        conta: PAYER_ACCOUNT.into(),
        cpf,
        cnpj,
    }
}

/// The payer answers a recurrence it scanned (journeys 2 to 4) on the spot, as `PUT /controle`
/// says: REJEITAR refuses it (AP13); APROVAR authorises it, and so does MANUAL, which concerns
/// confirmation requests only. Tucano is told either way; call it after the QR code's charge
/// was paid and its notifications delivered, so Tucano sees the payment first.
pub(crate) async fn answer_qr(rail: &Shared, rec: RecPayload, journey: Journey, pagador: Option<&Pagador>) -> QrAnswer {
    let mode = rail.control.lock().unwrap_or_else(|p| p.into_inner()).recurrences;
    let now = rail.clock.now();
    let dados = rec.into_solicitation(payer_account(pagador), now);
    let id_rec = dados.id_rec.clone();
    let (notification, decisao) = match mode {
        Approval::Rejeitar => (refusal(&dados, journey), Verdict::Rejeitada),
        Approval::Aprovar | Approval::Manual => (authorise(rail, dados, journey, now), Verdict::Aprovada),
    };
    let entrega = deliver(rail, &notification).await.status;
    QrAnswer { id_rec, jornada: journey.as_str(), decisao, entrega }
}

/// Keeps a recurrence authorised from a QR code ATIVA, so its attempts are accepted; one
/// already in the book keeps its state (scanning again does not revive a cancelled one).
/// Returns the REC_APROVADA that tells Tucano.
fn authorise(rail: &Shared, dados: SolicitacaoRec, journey: Journey, now: DateTime<Utc>) -> Notificacao {
    let notification = approval(&dados, journey, now);
    let recurrence = Recurrence { dados, status: RecurrenceStatus::Ativa, cancelamento: None };
    book(rail).recurrences.entry(recurrence.dados.id_rec.clone()).or_insert(recurrence);
    notification
}

// --- Attempts --------------------------------------------------------------------------

/// `POST /cobrancas-recorrentes`: an attempt to debit on `dataLiquidacao`, once per
/// endToEndId; one already due is debited as soon as Tucano knows it is scheduled.
pub async fn schedule(State(rail): State<Shared>, body: Bytes) -> Answer {
    let Ok(a) = serde_json::from_slice::<AgendamentoCobR>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid scheduling");
    };
    let e2eid = a.end_to_end_id.clone();
    let today = rail.clock.today();
    let (new, status) = book(&rail).schedule(a, today);
    if new {
        let bg = rail.clone();
        tokio::spawn(async move { announce_attempt(&bg, e2eid, status).await });
    }
    (StatusCode::ACCEPTED, Json(json!({"status": status})))
}

async fn announce_attempt(rail: &Shared, e2eid: String, status: AttemptStatus) {
    let id = notification_id();
    if status != AttemptStatus::Agendada {
        let codigo = NO_RECURRENCE_CODE.to_owned();
        deliver(rail, &Notificacao::CobRTentativaRejeitada { id, end_to_end_id: e2eid, codigo }).await;
        return;
    }
    deliver(rail, &Notificacao::CobRAgendada { id, end_to_end_id: e2eid.clone() }).await;
    {
        let mut book = book(rail);
        if let Some(a) = book.attempts.get_mut(&e2eid) {
            a.announced = true;
        }
    }
    debit_due(rail).await;
}

/// `GET /cobrancas-recorrentes/{endToEndId}`: where an attempt stands here (what the
/// reconciler asks when its outcome never arrived): `{"status", "codigo"?}`; 404 unknown.
pub async fn attempt_status(State(rail): State<Shared>, Path(e2eid): Path<String>) -> Answer {
    let book = book(&rail);
    let Some(a) = book.attempts.get(&e2eid) else {
        return Refused::Unknown.answer();
    };
    (StatusCode::OK, Json(json!({"status": a.status, "codigo": a.codigo})))
}

/// `POST /cobrancas-recorrentes/{endToEndId}/cancelamento`: the receiver cancels an
/// attempt. A repeat answers 200 again.
pub async fn cancel_attempt(State(rail): State<Shared>, Path(e2eid): Path<String>) -> Answer {
    let status = {
        let mut book = book(&rail);
        let Some(a) = book.attempts.get_mut(&e2eid) else {
            return Refused::Unknown.answer();
        };
        if a.status == AttemptStatus::Agendada {
            a.status = AttemptStatus::Cancelada;
        }
        a.status
    };
    (StatusCode::OK, Json(json!({"status": status})))
}

/// `POST /pagador/agendamentos/{endToEndId}/cancelamento`: the payer cancels one attempt.
pub async fn payer_cancel_attempt(State(rail): State<Shared>, Path(e2eid): Path<String>) -> Answer {
    let done = book(&rail).cancel_attempt(&e2eid);
    if let Err(r) = done {
        return r.answer();
    }
    let cancelamento = cancelled_by_payer(PAYER_CANCELS_ATTEMPT);
    let n = Notificacao::CobRCancelada { id: notification_id(), end_to_end_id: e2eid, cancelamento };
    let entrega = deliver(&rail, &n).await;
    (StatusCode::OK, Json(json!({"status": AttemptStatus::Cancelada, "entrega": entrega})))
}

// --- Debits ----------------------------------------------------------------------------

/// One attempt taken out of AGENDADA, and the notification that tells its outcome.
struct Debit {
    summary: DebitSummary,
    notification: Notificacao,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DebitSummary {
    end_to_end_id: String,
    txid: String,
    status: AttemptStatus,
    /// Tucano's final HTTP status for the notification (0: never reached).
    entrega: u16,
}

/// Debits what falls due as time passes (real midnight too), every second, until the
/// process ends.
pub(crate) async fn run_debits(rail: Shared) {
    loop {
        tokio::time::sleep(TICK).await;
        let now = rail.clock.now();
        book(&rail).expire(now);
        debit_due(&rail).await;
    }
}

/// Debits every announced attempt due today, unless an advance (or another pass) is at it.
async fn debit_due(rail: &Shared) {
    let Ok(_turn) = rail.clock.turn.try_lock() else {
        return;
    };
    let debits = take_due(rail, rail.clock.today());
    deliver_debits(rail, debits).await;
}

/// Takes every announced AGENDADA attempt due by `today` (oldest first) and settles or
/// fails each, under the lock, so none is ever debited twice.
fn take_due(rail: &Shared, today: NaiveDate) -> Vec<Debit> {
    let mut book = book(rail);
    let mut due: Vec<(NaiveDate, String)> = book
        .attempts
        .values()
        .filter(|a| a.status == AttemptStatus::Agendada && a.announced && a.agendamento.data_liquidacao <= today)
        .map(|a| (a.agendamento.data_liquidacao, a.agendamento.end_to_end_id.clone()))
        .collect();
    due.sort();
    let mut debits = Vec::with_capacity(due.len());
    for (_, e2eid) in due {
        debits.extend(debit(rail, &mut book, &e2eid));
    }
    debits
}

/// Debits one attempt: fails with `codigoFalha` while `debitosSemSaldo` lasts, else pays
/// the receiver's key and enters the Pix in the rail's statement.
fn debit(rail: &Shared, book: &mut Book, e2eid: &str) -> Option<Debit> {
    let attempt = book.attempts.get_mut(e2eid)?;
    let id = notification_id();
    let notification = match take_failure(rail) {
        Some(codigo) => {
            attempt.status = AttemptStatus::Rejeitada;
            attempt.codigo = Some(codigo.clone());
            Notificacao::CobRTentativaRejeitada { id, end_to_end_id: e2eid.to_owned(), codigo }
        }
        None => {
            attempt.status = AttemptStatus::Paga;
            let pix = payment(&attempt.agendamento, book.recurrences.get(&attempt.agendamento.id_rec));
            rail.received.lock().unwrap_or_else(|p| p.into_inner()).push(pix.clone());
            Notificacao::PixRecebido { id, pix }
        }
    };
    let summary = DebitSummary {
        end_to_end_id: e2eid.to_owned(),
        txid: attempt.agendamento.txid.clone(),
        status: attempt.status,
        entrega: 0,
    };
    Some(Debit { summary, notification })
}

/// The next failure code, if the payer is (still) without funds.
fn take_failure(rail: &Shared) -> Option<String> {
    let mut control = rail.control.lock().unwrap_or_else(|p| p.into_inner());
    if control.unfunded_debits == 0 {
        return None;
    }
    control.unfunded_debits -= 1;
    Some(control.failure_code.clone())
}

/// The Pix an attempt pays, dated noon in Brasília (15:00 UTC) of its settlement day.
fn payment(a: &AgendamentoCobR, recurrence: Option<&Recurrence>) -> PixRecebido {
    let noon = a.data_liquidacao.and_hms_opt(15, 0, 0).map(|t| t.and_utc()).unwrap_or_else(SystemClock::wall);
    let dados = recurrence.map(|r| &r.dados);
    let pagador = Pagador {
        cpf: dados.and_then(|d| d.destinatario.cpf.clone()),
        cnpj: dados.and_then(|d| d.destinatario.cnpj.clone()),
        nome: dados.and_then(|d| d.vinculo.devedor.nome.clone()),
    };
    PixRecebido {
        end_to_end_id: a.end_to_end_id.clone(),
        txid: Some(a.txid.clone()),
        valor: a.valor.clone(),
        chave: a.chave.clone(),
        horario: rfc3339(noon),
        pagador,
        info_pagador: None,
    }
}

/// Tells Tucano each outcome in turn, waiting for each delivery.
async fn deliver_debits(rail: &Shared, debits: Vec<Debit>) -> Vec<DebitSummary> {
    let mut done = Vec::with_capacity(debits.len());
    for d in debits {
        let mut status = 0;
        for (i, copy) in copies(rail, &d.notification).into_iter().enumerate() {
            let delivery = deliver(rail, &copy).await;
            if i == 0 {
                status = delivery.status;
            }
        }
        done.push(DebitSummary { entrega: status, ..d.summary });
    }
    done
}

/// The copies of a debit's notification the fault profile sends: none (dropped: only the
/// reconciler, reading the rail's statement, can find the Pix), one, or the same again
/// under the same id and under a fresh one, as a rail that lost track of its deliveries
/// would. Other notifications always go once.
fn copies(rail: &Shared, n: &Notificacao) -> Vec<Notificacao> {
    if !matches!(n, Notificacao::PixRecebido { .. } | Notificacao::CobRTentativaRejeitada { .. }) {
        return vec![n.clone()];
    }
    let count = rail.faults.lock().unwrap_or_else(|p| p.into_inner()).copies().len();
    (0..count).map(|i| if i % 2 == 0 { n.clone() } else { n.clone().with_id(&format!("{}r{i}", n.id())) }).collect()
}

// --- The simulated payer and clock ------------------------------------------------------

#[derive(Serialize)]
struct PayerView<'a> {
    hoje: NaiveDate,
    solicitacoes: Vec<&'a Solicitation>,
    recorrencias: Vec<&'a Recurrence>,
    agendamentos: Vec<&'a Attempt>,
}

/// `GET /pagador`: what the payer's bank holds, each with its status.
pub async fn payer(State(rail): State<Shared>) -> Answer {
    let now = rail.clock.now();
    let body = {
        let mut book = book(&rail);
        book.expire(now);
        let view = PayerView {
            hoje: brasilia_date(now),
            solicitacoes: book.solicitations.values().collect(),
            recorrencias: book.recurrences.values().collect(),
            agendamentos: book.attempts.values().collect(),
        };
        serde_json::to_value(view).unwrap_or_default()
    };
    (StatusCode::OK, Json(body))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClockView {
    hoje: NaiveDate,
    deslocamento_segundos: i64,
}

/// `GET /relogio`: the simulated day and how far ahead of wall time it runs.
pub async fn clock(State(rail): State<Shared>) -> Answer {
    let view = ClockView { hoje: rail.clock.today(), deslocamento_segundos: rail.clock.offset() };
    (StatusCode::OK, Json(serde_json::to_value(view).unwrap_or_default()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    dias: u32,
}

#[derive(Serialize)]
struct AdvanceView {
    hoje: NaiveDate,
    debitos: Vec<DebitSummary>,
}

/// `POST /relogio/avancar` `{"dias": N}`: moves the clock a day at a time, debiting what
/// falls due on each day; answers once every outcome was delivered.
pub async fn advance(State(rail): State<Shared>, body: Bytes) -> Answer {
    let dias = match serde_json::from_slice::<AdvanceRequest>(&body) {
        Ok(r) if (1..=MAX_DAYS).contains(&r.dias) => r.dias,
        _ => return error(StatusCode::BAD_REQUEST, "give {\"dias\": N} with N from 1 to 3660"),
    };
    let _turn = rail.clock.turn.lock().await;
    let mut debitos = vec![];
    for _ in 0..dias {
        if let Err(e) = rail.clock.set_offset(rail.clock.offset() + DAY_SECS) {
            tracing::error!(error = %e, "moving the sandbox clock");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "could not move the clock");
        }
        let now = rail.clock.now();
        book(&rail).expire(now);
        let debits = take_due(&rail, brasilia_date(now));
        debitos.extend(deliver_debits(&rail, debits).await);
    }
    let view = AdvanceView { hoje: rail.clock.today(), debitos };
    (StatusCode::OK, Json(serde_json::to_value(view).unwrap_or_default()))
}

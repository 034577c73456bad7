//! A recurrence (`rec`): what the receiver proposes and the payer authorises, its status
//! machine and how it ends; and the confirmation request (`solicrec`) that asks the payer's
//! bank for the authorisation (journey 1).

use super::ids::{IdRec, IdSolicRec};
use super::schedule::Periodicidade;
use super::Violation;
use crate::domain::charge::Devedor;
use crate::domain::document::Document;
use crate::domain::money::Amount;
use chrono::{DateTime, NaiveDate, Utc};

/// How long a confirmation request may wait for the payer at most (the regulation's 30 days).
pub const MAX_SOLICITATION_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    NaoPermite,
    /// Up to three retries after a failed debit, within seven days after the due date.
    Permite3R7D,
}

impl RetryPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RetryPolicy::NaoPermite => "NAO_PERMITE",
            RetryPolicy::Permite3R7D => "PERMITE_3R_7D",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RetryPolicy::NaoPermite, RetryPolicy::Permite3R7D].into_iter().find(|p| p.as_str() == s)
    }
}

/// Defines `as_str`/`parse` for a status enum with its wire names.
macro_rules! wire_enum {
    ($name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|x| x.as_str() == s)
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(RecStatus {
    Criada => "CRIADA",
    Aprovada => "APROVADA",
    Rejeitada => "REJEITADA",
    Expirada => "EXPIRADA",
    Cancelada => "CANCELADA",
});

impl RecStatus {
    /// No further change is possible.
    pub fn is_final(self) -> bool {
        matches!(self, RecStatus::Rejeitada | RecStatus::Expirada | RecStatus::Cancelada)
    }
}

wire_enum!(SolicRecStatus {
    Criada => "CRIADA",
    Enviada => "ENVIADA",
    Recebida => "RECEBIDA",
    Aceita => "ACEITA",
    Rejeitada => "REJEITADA",
    Expirada => "EXPIRADA",
    Cancelada => "CANCELADA",
});

impl SolicRecStatus {
    /// Still waiting for the payer (the receiver may cancel it).
    pub fn is_open(self) -> bool {
        matches!(self, SolicRecStatus::Criada | SolicRecStatus::Enviada | SolicRecStatus::Recebida)
    }
}

wire_enum!(Jornada {
    Jornada1 => "JORNADA_1",
    Jornada2 => "JORNADA_2",
    Jornada3 => "JORNADA_3",
    Jornada4 => "JORNADA_4",
    AguardandoDefinicao => "AGUARDANDO_DEFINICAO",
});

wire_enum!(Solicitante {
    PspPagador => "PSP_PAGADOR",
    UsuarioPagador => "USUARIO_PAGADOR",
    PspRecebedor => "PSP_RECEBEDOR",
    UsuarioRecebedor => "USUARIO_RECEBEDOR",
});

/// The amount terms: fixed, a floor the payer's own cap may not go under, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecValue {
    Fixed(Amount),
    Minimum(Amount),
    Free,
}

/// Everything the receiver proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecTerms {
    pub objeto: Option<String>,
    pub contrato: String,
    pub devedor: Devedor,
    pub data_inicial: NaiveDate,
    pub data_final: Option<NaiveDate>,
    pub periodicidade: Periodicidade,
    pub valor: RecValue,
    pub convenio: Option<String>,
    pub politica: RetryPolicy,
}

impl RecTerms {
    /// The rules across fields, for a recurrence created on `today`.
    pub fn violations(&self, today: NaiveDate) -> Vec<Violation> {
        let mut out = vec![];
        if self.data_inicial < today {
            out.push(("rec.calendario.dataInicial", "is before the recurrence's creation date"));
        }
        if self.data_final.is_some_and(|f| f < self.data_inicial) {
            out.push(("rec.calendario.dataFinal", "is before dataInicial"));
        }
        out
    }
}

/// A status and when it was reached (Bacen's `atualizacao` entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Update<S> {
    pub status: S,
    pub data: DateTime<Utc>,
}

/// How a recurrence, a recurring charge or an attempt ended when it did not end well.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Encerramento {
    Rejeicao { codigo: String, descricao: String },
    Cancelamento { solicitante: String, codigo: String, descricao: String },
}

impl Encerramento {
    pub fn rejeicao(codigo: &str) -> Self {
        Encerramento::Rejeicao { codigo: codigo.to_owned(), descricao: describe(codigo).to_owned() }
    }

    pub fn cancelamento(solicitante: Solicitante, codigo: &str) -> Self {
        Encerramento::Cancelamento {
            solicitante: solicitante.as_str().to_owned(),
            codigo: codigo.to_owned(),
            descricao: describe(codigo).to_owned(),
        }
    }
}

/// The reason codes this service writes or accepts from the rail, described.
pub const REASONS: &[(&str, &str)] = &[
    ("AP13", "The payer rejected the recurrence."),
    ("AP14", "The payer's bank rejected the recurrence."),
    ("ACCL", "Cancelled: the payer's account was closed."),
    ("SLCR", "Cancelled at the receiver's request."),
    ("SLDB", "Cancelled at the payer's request."),
    ("SLBD", "Cancelled at the payer's request."),
    ("FRUD", "Cancelled: suspected fraud."),
    ("AM02", "The payer's bank could not debit the amount."),
    ("AC05", "The payer's account is closed."),
    ("AC06", "The payer's account is blocked."),
    ("MIDI", "The payer's bank does not know this authorisation."),
];

/// A code's description (a generic one for a code not in `REASONS`).
pub fn describe(codigo: &str) -> &'static str {
    REASONS.iter().find(|(c, _)| *c == codigo).map(|(_, d)| *d).unwrap_or("Refused by the payer's bank.")
}

/// Whether `codigo` may end a recurrence as a rejection (the spec's list).
pub fn is_rec_rejection_code(codigo: &str) -> bool {
    matches!(codigo, "AP13" | "AP14")
}

/// Whether `codigo` may cancel a recurrence (the spec's list).
pub fn is_rec_cancellation_code(codigo: &str) -> bool {
    matches!(codigo, "ACCL" | "CPCL" | "DCSD" | "ERSL" | "FRUD" | "PCFD" | "SLCR" | "SLDB")
}

/// The payer, as its bank reports it on approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    pub ispb: String,
    pub documento: Document,
    pub cod_mun: Option<String>,
}

/// A recurrence's payload location (`/locrec`): where its QR code points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecLoc {
    pub id: i64,
    pub location: String,
    pub criacao: DateTime<Utc>,
    /// The recurrence it serves, if any.
    pub id_rec: Option<IdRec>,
}

/// A recurrence as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub id_rec: IdRec,
    pub status: RecStatus,
    pub terms: RecTerms,
    /// Its payload location (journeys 2 to 4).
    pub loc: Option<RecLoc>,
    /// The immediate charge whose payment activates it (journey 3).
    pub jornada_txid: Option<crate::domain::ids::Txid>,
    pub jornada: Jornada,
    pub pagador: Option<Payer>,
    pub encerramento: Option<Encerramento>,
    pub atualizacao: Vec<Update<RecStatus>>,
}

impl Recurrence {
    /// When it was created (its first status).
    pub fn criacao(&self) -> Option<DateTime<Utc>> {
        self.atualizacao.first().map(|u| u.data)
    }
}

/// What `PATCH /rec/{idRec}` may change besides cancelling (Bacen's `RecRevisada`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecRevision {
    pub devedor_nome: Option<String>,
    pub loc: Option<i64>,
    pub data_inicial: Option<NaiveDate>,
    pub txid: Option<crate::domain::ids::Txid>,
}

impl RecRevision {
    pub fn is_empty(&self) -> bool {
        self == &RecRevision::default()
    }

    /// The spec's rules for revising `rec`: not once it ended; its location and first day
    /// only while `CRIADA`; the first day not before its creation nor after its last day.
    pub fn violations(&self, rec: &Recurrence) -> Vec<Violation> {
        let mut out = vec![];
        if rec.status.is_final() {
            out.push(("rec.status", "the recurrence is EXPIRADA, REJEITADA or CANCELADA"));
            return out;
        }
        let criada = rec.status == RecStatus::Criada;
        if self.loc.is_some() && !criada {
            out.push(("rec.loc", "can only change while the recurrence is CRIADA"));
        }
        if let Some(day) = self.data_inicial {
            let created = rec.criacao().map(crate::domain::cobv::calendar::brasilia_date);
            if !criada {
                out.push(("rec.calendario.dataInicial", "can only change while the recurrence is CRIADA"));
            } else if created.is_some_and(|c| day < c) {
                out.push(("rec.calendario.dataInicial", "is before the recurrence's creation date"));
            } else if rec.terms.data_final.is_some_and(|f| day > f) {
                out.push(("rec.calendario.dataInicial", "is after dataFinal"));
            }
        }
        out
    }
}

/// The payer's account a confirmation request goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinatario {
    pub ispb: String,
    pub agencia: Option<String>,
    pub conta: String,
    pub documento: Document,
}

/// A confirmation request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolicRec {
    pub id_solic_rec: IdSolicRec,
    pub id_rec: IdRec,
    pub status: SolicRecStatus,
    pub data_expiracao: DateTime<Utc>,
    pub destinatario: Destinatario,
    pub atualizacao: Vec<Update<SolicRecStatus>>,
}

/// What a new confirmation request must respect, asked at `now`.
pub fn solicitation_violations(rec: &Recurrence, data_expiracao: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Violation> {
    let mut out = vec![];
    if rec.status != RecStatus::Criada {
        out.push(("solicrec.idRec", "the recurrence is not CRIADA (already answered, or ended)"));
    }
    if data_expiracao <= now {
        out.push(("solicrec.calendario.dataExpiracaoSolicitacao", "must be after the request's creation"));
    } else if data_expiracao - now > chrono::Duration::days(MAX_SOLICITATION_DAYS) {
        out.push((
            "solicrec.calendario.dataExpiracaoSolicitacao",
            "must be at most 30 days after the request's creation",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::document::Cpf;

    fn terms(start: NaiveDate, end: Option<NaiveDate>) -> RecTerms {
        RecTerms {
            objeto: None,
            contrato: "c-1".into(),
            devedor: Devedor { documento: Document::Cpf(Cpf::parse("12345678909").unwrap()), nome: "Fulano".into() },
            data_inicial: start,
            data_final: end,
            periodicidade: Periodicidade::Mensal,
            valor: RecValue::Free,
            convenio: None,
            politica: RetryPolicy::NaoPermite,
        }
    }

    #[test]
    fn a_recurrence_cannot_start_in_the_past_or_end_before_it_starts() {
        let today = NaiveDate::from_ymd_opt(2027, 1, 10).unwrap();
        assert!(terms(today, None).violations(today).is_empty());
        let v = terms(today.pred_opt().unwrap(), Some(today - chrono::Days::new(5))).violations(today);
        assert_eq!(
            v.iter().map(|x| x.0).collect::<Vec<_>>(),
            ["rec.calendario.dataInicial", "rec.calendario.dataFinal"]
        );
    }

    #[test]
    fn a_request_must_expire_in_the_future_and_within_thirty_days() {
        let now = Utc::now();
        let rec = Recurrence {
            id_rec: IdRec::generate(RetryPolicy::NaoPermite, "99999999", now.date_naive()),
            status: RecStatus::Criada,
            terms: terms(now.date_naive(), None),
            loc: None,
            jornada_txid: None,
            jornada: Jornada::AguardandoDefinicao,
            pagador: None,
            encerramento: None,
            atualizacao: vec![Update { status: RecStatus::Criada, data: now }],
        };
        assert!(solicitation_violations(&rec, now + chrono::Duration::days(3), now).is_empty());
        assert_eq!(solicitation_violations(&rec, now, now).len(), 1);
        assert_eq!(solicitation_violations(&rec, now + chrono::Duration::days(31), now).len(), 1);
        let approved = Recurrence { status: RecStatus::Aprovada, ..rec };
        assert_eq!(solicitation_violations(&approved, now + chrono::Duration::days(3), now)[0].0, "solicrec.idRec");
    }
}

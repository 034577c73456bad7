//! A recurring charge (`cobr`) under an authorised recurrence: the rules for creating one,
//! its settlement attempts at the payer's bank, retries within the recurrence's policy,
//! and how failures end it.

use super::ids::IdRec;
use super::recurrence::{wire_enum, Encerramento, RecStatus, RecValue, Recurrence, RetryPolicy, Update};
use super::schedule::settlement_date;
use super::Violation;
use crate::domain::cobv::Contato;
use crate::domain::ids::{EndToEndId, Txid};
use crate::domain::money::Amount;
use chrono::{Days, NaiveDate};

/// A charge goes to the payer's bank between 10 and 2 days before it settles (Pix
/// Automático's window, calendar days). Tucano sends it when it is created, so the due
/// date must fall in the window counted from creation.
pub const MIN_DAYS_AHEAD: u64 = 2;
pub const MAX_DAYS_AHEAD: u64 = 10;
/// The branch of every account here (a recurring charge's `recebedor.agencia`).
pub const AGENCIA: &str = "0001";
/// `PERMITE_3R_7D`: at most three retries ...
pub const MAX_RETRIES: usize = 3;
/// ... settling at most seven days after the due date.
pub const RETRY_DAYS: u64 = 7;

wire_enum!(CobRStatus {
    Criada => "CRIADA",
    Ativa => "ATIVA",
    Concluida => "CONCLUIDA",
    Expirada => "EXPIRADA",
    Rejeitada => "REJEITADA",
    Cancelada => "CANCELADA",
});

impl CobRStatus {
    pub fn is_open(self) -> bool {
        matches!(self, CobRStatus::Criada | CobRStatus::Ativa)
    }
}

wire_enum!(AttemptStatus {
    Solicitada => "SOLICITADA",
    Agendada => "AGENDADA",
    Paga => "PAGA",
    Cancelada => "CANCELADA",
    Rejeitada => "REJEITADA",
    Expirada => "EXPIRADA",
});

impl AttemptStatus {
    pub fn is_open(self) -> bool {
        matches!(self, AttemptStatus::Solicitada | AttemptStatus::Agendada)
    }
}

wire_enum!(AttemptKind {
    Agnd => "AGND",
    Ntag => "NTAG",
    Rifl => "RIFL",
});

wire_enum!(TipoConta {
    Corrente => "CORRENTE",
    Poupanca => "POUPANCA",
    Pagamento => "PAGAMENTO",
});

/// The receiver's account a recurring charge names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContaRecebedor {
    pub conta: String,
    pub agencia: Option<String>,
    pub tipo_conta: TipoConta,
}

/// Everything the merchant decides about a recurring charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CobRTerms {
    pub id_rec: IdRec,
    pub info_adicional: Option<String>,
    pub data_vencimento: NaiveDate,
    pub valor: Amount,
    pub ajuste_dia_util: bool,
    pub recebedor: ContaRecebedor,
    pub devedor: Contato,
}

impl CobRTerms {
    /// The day the first attempt settles.
    pub fn settlement(&self) -> NaiveDate {
        settlement_date(self.data_vencimento, self.ajuste_dia_util)
    }

    /// The rules a new charge under `rec` must follow, created on `today`.
    pub fn violations(&self, rec: &Recurrence, today: NaiveDate) -> Vec<Violation> {
        let mut out = vec![];
        if rec.status != RecStatus::Aprovada {
            out.push(("cobr.idRec", "the recurrence is not APROVADA"));
        }
        if self.data_vencimento < today {
            out.push(("cobr.calendario.dataDeVencimento", "is before the charge's creation date"));
        } else {
            let settles = self.settlement();
            let earliest = today.checked_add_days(Days::new(MIN_DAYS_AHEAD));
            let latest = today.checked_add_days(Days::new(MAX_DAYS_AHEAD));
            if earliest.is_none_or(|e| settles < e) || latest.is_none_or(|l| settles > l) {
                out.push((
                    "cobr.calendario.dataDeVencimento",
                    "must settle 2 to 10 days after today (the window for sending a charge to the payer's bank)",
                ));
            }
        }
        let terms = &rec.terms;
        if self.data_vencimento < terms.data_inicial || terms.data_final.is_some_and(|f| self.data_vencimento > f) {
            out.push(("cobr.calendario.dataDeVencimento", "is outside the recurrence's calendar"));
        }
        match terms.valor {
            RecValue::Fixed(v) if v != self.valor => {
                out.push(("cobr.valor.original", "must equal the recurrence's valorRec"));
            }
            RecValue::Minimum(m) if self.valor < m => {
                out.push(("cobr.valor.original", "is below the recurrence's valorMinimoRecebedor"));
            }
            _ => {}
        }
        out
    }
}

/// One settlement attempt at the payer's bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub end_to_end_id: EndToEndId,
    pub data_liquidacao: NaiveDate,
    pub tipo: AttemptKind,
    pub status: AttemptStatus,
    pub rejeicao: Option<String>,
    pub atualizacao: Vec<Update<AttemptStatus>>,
}

/// A recurring charge as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurringCharge {
    pub txid: Txid,
    pub terms: CobRTerms,
    pub status: CobRStatus,
    pub politica: RetryPolicy,
    pub criacao: NaiveDate,
    pub attempts: Vec<Attempt>,
    pub encerramento: Option<Encerramento>,
    pub atualizacao: Vec<Update<CobRStatus>>,
}

/// Rejection codes that end the charge whatever its retry policy (the spec's list).
const FINAL_REJECTIONS: &[&str] = &["AC05", "AM09", "DENC", "DS27", "DTED", "MIDI", "MSUC", "NITX", "RC09"];

/// Whether `codigo` is one of the spec's rejection codes for an attempt.
pub fn is_attempt_rejection_code(codigo: &str) -> bool {
    FINAL_REJECTIONS.contains(&codigo)
        || ["AB10", "AC06", "AM02", "DTNT", "FBRD", "IRNT", "NIEC", "NIPA", "QUNT", "UDEI"].contains(&codigo)
}

/// Whether `codigo` may cancel a recurring charge (the spec's list).
pub fn is_charge_cancellation_code(codigo: &str) -> bool {
    matches!(codigo, "ACCT" | "BLCK" | "CCLD" | "FAIL" | "OTHR" | "SLBD" | "SLCR")
}

impl RecurringCharge {
    fn retries(&self) -> usize {
        self.attempts.iter().filter(|a| a.tipo == AttemptKind::Rifl).count()
    }

    /// The last day an attempt may settle.
    pub fn last_day(&self) -> NaiveDate {
        match self.politica {
            RetryPolicy::NaoPermite => self.terms.settlement(),
            RetryPolicy::Permite3R7D => {
                self.terms.data_vencimento.checked_add_days(Days::new(RETRY_DAYS)).unwrap_or(NaiveDate::MAX)
            }
        }
    }

    /// Whether a failed attempt with `codigo` ends the charge (REJEITADA): a final code,
    /// a policy without retries, or the last retry spent.
    pub fn failure_ends_it(&self, codigo: &str) -> bool {
        FINAL_REJECTIONS.contains(&codigo) || self.politica == RetryPolicy::NaoPermite || self.retries() >= MAX_RETRIES
    }

    /// What a retry settling on `data`, asked on `today`, breaks.
    pub fn retry_violations(&self, data: NaiveDate, today: NaiveDate) -> Vec<Violation> {
        let mut out = vec![];
        if self.politica == RetryPolicy::NaoPermite {
            out.push(("data", "the recurrence's policy does not allow retries"));
        }
        if self.status != CobRStatus::Ativa {
            out.push(("cobr.status", "only an ATIVA charge can be retried"));
        }
        if self.attempts.iter().any(|a| a.status.is_open()) {
            out.push(("cobr.tentativas", "an attempt is still SOLICITADA or AGENDADA"));
        } else if !self.attempts.iter().any(|a| a.status == AttemptStatus::Rejeitada) {
            out.push(("cobr.tentativas", "there is no failed attempt to retry"));
        }
        if self.attempts.iter().any(|a| a.data_liquidacao == data) {
            out.push(("data", "there is already an attempt on this date"));
        }
        if data <= today {
            out.push(("data", "must be a future date"));
        } else if data <= self.terms.settlement() {
            // Bacen's politicaRetentativa: "política de retentativa pós vencimento".
            out.push(("data", "a retry must settle after the due date"));
        } else if data > self.last_day() {
            out.push(("data", "a retry must settle at most 7 days after the due date"));
        }
        if self.politica == RetryPolicy::Permite3R7D && self.retries() >= MAX_RETRIES {
            out.push(("data", "the charge has had its 3 retries"));
        }
        out
    }

    /// The first attempt's settlement day: a receiver may cancel only before it.
    pub fn first_settlement(&self) -> NaiveDate {
        self.attempts.first().map(|a| a.data_liquidacao).unwrap_or_else(|| self.terms.settlement())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::charge::Devedor;
    use crate::domain::document::{Cpf, Document};
    use crate::domain::rec::{Jornada, Periodicidade, RecTerms};
    use chrono::Utc;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn rec(valor: RecValue, politica: RetryPolicy) -> Recurrence {
        Recurrence {
            id_rec: IdRec::generate(politica, "99999999", d(2027, 1, 4)),
            status: RecStatus::Aprovada,
            terms: RecTerms {
                objeto: None,
                contrato: "c".into(),
                devedor: Devedor { documento: Document::Cpf(Cpf::parse("12345678909").unwrap()), nome: "F".into() },
                data_inicial: d(2027, 1, 10),
                data_final: Some(d(2027, 12, 31)),
                periodicidade: Periodicidade::Mensal,
                valor,
                convenio: None,
                politica,
            },
            loc: None,
            jornada_txid: None,
            jornada: Jornada::Jornada1,
            pagador: None,
            encerramento: None,
            atualizacao: vec![],
        }
    }

    fn terms(rec: &Recurrence, due: NaiveDate, valor: &str) -> CobRTerms {
        CobRTerms {
            id_rec: rec.id_rec.clone(),
            info_adicional: None,
            data_vencimento: due,
            valor: Amount::parse(valor).unwrap(),
            ajuste_dia_util: true,
            recebedor: ContaRecebedor { conta: "100001".into(), agencia: None, tipo_conta: TipoConta::Pagamento },
            devedor: Contato::default(),
        }
    }

    fn fields(v: Vec<Violation>) -> Vec<&'static str> {
        v.into_iter().map(|x| x.1).collect()
    }

    #[test]
    fn a_charge_settles_two_to_ten_days_after_its_creation() {
        let r = rec(RecValue::Free, RetryPolicy::NaoPermite);
        let today = d(2027, 1, 4);
        assert!(terms(&r, d(2027, 1, 12), "10.00").violations(&r, today).is_empty());
        assert_eq!(terms(&r, d(2027, 1, 5), "10.00").violations(&r, today).len(), 2, "too soon, before dataInicial");
        assert_eq!(fields(terms(&r, d(2027, 1, 15), "10.00").violations(&r, today)).len(), 1, "too late");
        assert!(terms(&r, d(2027, 1, 3), "10.00").violations(&r, today)[0].1.contains("before the charge's creation"));
    }

    #[test]
    fn the_amount_follows_the_recurrences_terms() {
        let today = d(2027, 1, 4);
        let fixed = rec(RecValue::Fixed(Amount::parse("49.90").unwrap()), RetryPolicy::NaoPermite);
        assert!(terms(&fixed, d(2027, 1, 12), "49.90").violations(&fixed, today).is_empty());
        assert_eq!(terms(&fixed, d(2027, 1, 12), "50.00").violations(&fixed, today)[0].0, "cobr.valor.original");
        let floor = rec(RecValue::Minimum(Amount::parse("20.00").unwrap()), RetryPolicy::NaoPermite);
        assert!(terms(&floor, d(2027, 1, 12), "25.00").violations(&floor, today).is_empty());
        assert_eq!(terms(&floor, d(2027, 1, 12), "19.99").violations(&floor, today).len(), 1);
    }

    fn charge(politica: RetryPolicy, attempts: Vec<(NaiveDate, AttemptKind, AttemptStatus)>) -> RecurringCharge {
        let r = rec(RecValue::Free, politica);
        RecurringCharge {
            txid: Txid::generate(),
            terms: terms(&r, d(2027, 1, 12), "10.00"),
            status: CobRStatus::Ativa,
            politica,
            criacao: d(2027, 1, 4),
            attempts: attempts
                .into_iter()
                .map(|(day, tipo, status)| Attempt {
                    end_to_end_id: EndToEndId::generate("99999999", Utc::now()),
                    data_liquidacao: day,
                    tipo,
                    status,
                    rejeicao: (status == AttemptStatus::Rejeitada).then(|| "AM02".into()),
                    atualizacao: vec![],
                })
                .collect(),
            encerramento: None,
            atualizacao: vec![],
        }
    }

    #[test]
    fn a_failed_charge_may_be_retried_within_seven_days_at_most_three_times() {
        use AttemptKind::*;
        use AttemptStatus::*;
        let failed = charge(RetryPolicy::Permite3R7D, vec![(d(2027, 1, 12), Agnd, Rejeitada)]);
        let today = d(2027, 1, 12);
        assert!(failed.retry_violations(d(2027, 1, 13), today).is_empty());
        assert_eq!(fields(failed.retry_violations(d(2027, 1, 12), today)).len(), 2, "same day, not future");
        assert_eq!(
            failed.retry_violations(d(2027, 1, 20), today)[0].1,
            "a retry must settle at most 7 days after the due date"
        );
        let spent = charge(
            RetryPolicy::Permite3R7D,
            vec![
                (d(2027, 1, 12), Agnd, Rejeitada),
                (d(2027, 1, 13), Rifl, Rejeitada),
                (d(2027, 1, 14), Rifl, Rejeitada),
                (d(2027, 1, 15), Rifl, Rejeitada),
            ],
        );
        assert_eq!(
            spent.retry_violations(d(2027, 1, 16), d(2027, 1, 15)),
            [("data", "the charge has had its 3 retries")]
        );
        assert!(spent.failure_ends_it("AM02"));
        // Refused early by the payer's bank (a code that does not end it): the retries still
        // come after the due date.
        let early = failed.retry_violations(d(2027, 1, 6), d(2027, 1, 5));
        assert_eq!(early, [("data", "a retry must settle after the due date")]);
        let open = charge(RetryPolicy::Permite3R7D, vec![(d(2027, 1, 12), Agnd, Agendada)]);
        assert_eq!(open.retry_violations(d(2027, 1, 13), d(2027, 1, 10))[0].0, "cobr.tentativas");
    }

    #[test]
    fn without_a_retry_policy_a_failure_ends_the_charge_and_no_retry_is_accepted() {
        let failed =
            charge(RetryPolicy::NaoPermite, vec![(d(2027, 1, 12), AttemptKind::Agnd, AttemptStatus::Rejeitada)]);
        assert!(failed.failure_ends_it("AM02"));
        assert_eq!(
            failed.retry_violations(d(2027, 1, 13), d(2027, 1, 12))[0].1,
            "the recurrence's policy does not allow retries"
        );
        let with_retries = charge(RetryPolicy::Permite3R7D, vec![]);
        assert!(!with_retries.failure_ends_it("AM02"));
        assert!(with_retries.failure_ends_it("AC05"), "a closed account ends it");
    }
}

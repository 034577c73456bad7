//! A charge with a due date (`cobv`) as the merchant sets it: its terms, the checks Bacen
//! lists for them under `CobVOperacaoInvalida` that span more than one field, and the
//! revision rules it shares with immediate charges (`charge::revise`).

use super::due::{Abatimento, Desconto, PriceTerms};
use crate::domain::charge::{revise, ChargeStatus, Devedor, InfoAdicional, Location, Revision, RevisionError};
use crate::domain::ids::Txid;
use crate::domain::money::Amount;
use crate::domain::pix_key::PixKey;
use chrono::{DateTime, NaiveDate, Utc};

/// Days a charge stays payable after its due date unless it says (Bacen default).
pub const DEFAULT_VALIDADE_APOS_VENCIMENTO: u32 = 30;

/// A due date at most this far ahead (day counts stay bounded per request).
pub const MAX_DAYS_AHEAD: i64 = 3_660;

/// How a devedor is reached beyond its document and name: personal data, sealed at rest
/// like the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contato {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logradouro: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidade: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cep: Option<String>,
}

impl Contato {
    pub fn is_empty(&self) -> bool {
        self == &Contato::default()
    }
}

/// Everything the merchant decides about a cobv; what a revision may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTerms {
    pub price: PriceTerms,
    /// Required on a cobv.
    pub devedor: Devedor,
    pub contato: Contato,
    pub chave: PixKey,
    pub solicitacao_pagador: Option<String>,
    pub info_adicionais: Vec<InfoAdicional>,
}

/// A checked term that breaks a rule: its `propriedade` and why.
pub type Violation = (&'static str, &'static str);

impl DueTerms {
    /// The Bacen checks across fields, for terms set on `today` (the merchant's date):
    /// every one that fails.
    pub fn violations(&self, today: NaiveDate) -> Vec<Violation> {
        let mut out = Vec::new();
        let p = &self.price;
        if p.vencimento < today {
            out.push(("cobv.calendario.dataDeVencimento", "is before the charge's creation date"));
        }
        if p.vencimento > today + chrono::Duration::days(MAX_DAYS_AHEAD) {
            out.push(("cobv.calendario.dataDeVencimento", "is more than ten years ahead"));
        }
        let over_100 = |pct: i64| pct > 10_000;
        if matches!(p.multa, Some(super::due::Multa::Percent(pct)) if over_100(pct.0)) {
            out.push(("cobv.valor.multa", "a percentage is over 100%"));
        }
        if matches!(p.juros, Some(super::due::Juros::Rate(pct, _, _)) if over_100(pct.0)) {
            out.push(("cobv.valor.juros", "a percentage is over 100%"));
        }
        let original = p.original.centavos();
        let rebate_too_big = match p.abatimento {
            Some(Abatimento::Fixed(a)) => a.centavos() >= original,
            Some(Abatimento::Percent(pct)) => pct.0 >= 10_000,
            None => false,
        };
        if rebate_too_big {
            out.push(("cobv.valor.abatimento", "is at least the original amount (or 100%)"));
        }
        match &p.desconto {
            Some(Desconto::UntilDates { percent, tiers }) => {
                if tiers.iter().any(|(_, v)| if *percent { *v >= 10_000 } else { *v >= original }) {
                    out.push(("cobv.valor.desconto", "a discount is at least the original amount (or 100%)"));
                }
                if tiers.iter().any(|(date, _)| *date > p.vencimento) {
                    out.push(("cobv.valor.desconto.descontoDataFixa", "a date is after the due date"));
                }
                let mut dates: Vec<_> = tiers.iter().map(|(d, _)| *d).collect();
                dates.sort();
                dates.dedup();
                if dates.len() != tiers.len() {
                    out.push(("cobv.valor.desconto.descontoDataFixa", "dates must differ"));
                }
            }
            Some(Desconto::ValuePerDay(a, _)) if a.centavos() >= original => {
                out.push(("cobv.valor.desconto", "a discount is at least the original amount (or 100%)"))
            }
            Some(Desconto::PercentPerDay(pct, _)) if pct.0 >= 10_000 => {
                out.push(("cobv.valor.desconto", "a discount is at least the original amount (or 100%)"))
            }
            _ => {}
        }
        // Each part below the whole is not enough: a rebate and a dated discount, or many
        // days of a per-day discount, can together take it all, and a charge of 0.00 cannot
        // be paid (Bacen's maintainers: the receiving PSP refuses it; pix-api issue 408).
        // The discount is largest today or on one of its dates.
        // (Looked at once each part is sound; whatever the dates say: a PATCH of an overdue
        // charge keeps its past due date, and its revised amounts are checked all the same.)
        let parts_sound = out.iter().all(|(propriedade, _)| !propriedade.starts_with("cobv.valor"));
        if parts_sound && !p.payable_every_day_from(today) {
            let blamed = if p.desconto.is_some() { "cobv.valor.desconto" } else { "cobv.valor.abatimento" };
            out.push((blamed, "leaves nothing to pay on a day the charge can be paid"));
        }
        // Nor may the fine and interest take it past the largest amount (9,999,999,999.99):
        // capped, its parts would no longer add up to what is asked.
        if parts_sound && !p.within_the_limit() {
            out.push(("cobv.valor", "with its fine and interest, can come to more than 9999999999.99"));
        }
        out
    }
}

impl DueTerms {
    /// The fingerprint of a create request: its terms in a fixed order (and the location it
    /// names, if any). A repeated PUT with the same content is a replay.
    pub fn fingerprint_at(&self, loc: Option<i64>) -> [u8; 32] {
        let p = &self.price;
        let desconto = p.desconto.as_ref().map(|d| {
            let tiers: Vec<_> = d.tiers().unwrap_or(&[]).iter().map(|(date, v)| (date.to_string(), *v)).collect();
            serde_json::json!([d.modalidade(), d.per_day(), tiers])
        });
        let canonical = serde_json::json!([
            "cobv",
            p.original.centavos(),
            p.vencimento.to_string(),
            p.validade_apos_vencimento,
            p.multa.map(|m| m.parts()),
            p.juros.map(|j| (j.modalidade(), j.value())),
            p.abatimento.map(|a| a.parts()),
            desconto,
            self.devedor.documento.as_str(),
            self.devedor.nome,
            self.contato,
            self.chave.as_str(),
            self.solicitacao_pagador,
            self.info_adicionais,
            loc,
        ]);
        crate::domain::idempotency::fingerprint(canonical.to_string().as_bytes())
    }
}

/// A cobv as stored: at its current revision, or at an older one when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCharge {
    pub txid: Txid,
    pub revisao: i32,
    pub status: ChargeStatus,
    pub criacao: DateTime<Utc>,
    pub terms: DueTerms,
    pub loc: Option<Location>,
    pub pix_copia_e_cola: Option<String>,
}

/// A PATCH of a cobv: each present field replaces the current one; `remover` asks for
/// `REMOVIDA_PELO_USUARIO_RECEBEDOR`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuePatch {
    pub vencimento: Option<NaiveDate>,
    pub validade_apos_vencimento: Option<u32>,
    pub devedor: Option<Devedor>,
    pub contato: Option<Contato>,
    pub original: Option<Amount>,
    pub multa: Option<super::due::Multa>,
    pub juros: Option<super::due::Juros>,
    pub abatimento: Option<Abatimento>,
    pub desconto: Option<Desconto>,
    pub chave: Option<PixKey>,
    pub solicitacao_pagador: Option<String>,
    pub info_adicionais: Option<Vec<InfoAdicional>>,
    /// Serve the charge at the merchant's location `id` instead (`loc.id`).
    pub loc: Option<i64>,
    pub remover: bool,
    /// Terms the PATCH removes (`"multa": null`, ...).
    pub removes: RemovedTerms,
}

/// The optional terms a PATCH removes, sent as `null` (Bacen's maintainers: a field is
/// removed by sending it null; pix-api issue 108).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemovedTerms {
    pub multa: bool,
    pub juros: bool,
    pub abatimento: bool,
    pub desconto: bool,
    pub solicitacao_pagador: bool,
}

impl DuePatch {
    /// The revision that makes an existing charge what a whole creation request says (a
    /// `PUT /lotecobv/{id}` of an existing batch names "the exact creation requests" of its
    /// charges): every term it states replaces the charge's, and every optional term it
    /// leaves out is removed, not kept. Its location, when it names none, stays.
    pub fn replacing(terms: &DueTerms, loc: Option<i64>) -> DuePatch {
        let p = &terms.price;
        DuePatch {
            vencimento: Some(p.vencimento),
            validade_apos_vencimento: Some(p.validade_apos_vencimento),
            devedor: Some(terms.devedor.clone()),
            contato: Some(terms.contato.clone()),
            original: Some(p.original),
            multa: p.multa,
            juros: p.juros,
            abatimento: p.abatimento,
            desconto: p.desconto.clone(),
            chave: Some(terms.chave.clone()),
            solicitacao_pagador: terms.solicitacao_pagador.clone(),
            info_adicionais: Some(terms.info_adicionais.clone()),
            loc,
            remover: false,
            removes: RemovedTerms {
                multa: p.multa.is_none(),
                juros: p.juros.is_none(),
                abatimento: p.abatimento.is_none(),
                desconto: p.desconto.is_none(),
                solicitacao_pagador: terms.solicitacao_pagador.is_none(),
            },
        }
    }

    /// The PATCH asks for anything besides a removal (new terms or a location).
    fn changes(&self) -> bool {
        DuePatch { remover: false, ..self.clone() } != DuePatch::default()
    }
}

/// Why a cobv PATCH is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DueRevisionError {
    #[error(transparent)]
    Revision(#[from] RevisionError),
    /// The revised terms break the rules across fields.
    #[error("the revised terms break the charge rules")]
    Invalid(Vec<Violation>),
}

impl DueCharge {
    /// A PATCH under the Bacen revision rules, its revised terms checked on `today`: a due
    /// date the PATCH sets may not be past (one it leaves alone may have passed: an overdue
    /// charge can still be revised).
    pub fn revise_checked(&self, patch: &DuePatch, today: NaiveDate) -> Result<Revision<DueTerms>, DueRevisionError> {
        let revision = self.revise(patch)?;
        if let Revision::Changed { terms, .. } = &revision {
            let mut violations = terms.violations(today);
            // A due date the revision keeps (unnamed, or named as it is: a batch PUT restates
            // it) is not judged again once past.
            if patch.vencimento.is_none_or(|v| v == self.terms.price.vencimento) {
                violations.retain(|(propriedade, _)| *propriedade != "cobv.calendario.dataDeVencimento");
            }
            if !violations.is_empty() {
                return Err(DueRevisionError::Invalid(violations));
            }
        }
        Ok(revision)
    }

    /// Applies a PATCH under the Bacen revision rules.
    pub fn revise(&self, patch: &DuePatch) -> Result<Revision<DueTerms>, RevisionError> {
        revise(self.status, self.revisao, &self.terms, patch.remover, patch.changes(), || {
            let t = &self.terms;
            let p = &t.price;
            DueTerms {
                price: PriceTerms {
                    original: patch.original.unwrap_or(p.original),
                    vencimento: patch.vencimento.unwrap_or(p.vencimento),
                    validade_apos_vencimento: patch.validade_apos_vencimento.unwrap_or(p.validade_apos_vencimento),
                    multa: if patch.removes.multa { None } else { patch.multa.or(p.multa) },
                    juros: if patch.removes.juros { None } else { patch.juros.or(p.juros) },
                    abatimento: if patch.removes.abatimento { None } else { patch.abatimento.or(p.abatimento) },
                    desconto: if patch.removes.desconto {
                        None
                    } else {
                        patch.desconto.clone().or_else(|| p.desconto.clone())
                    },
                },
                devedor: patch.devedor.clone().unwrap_or_else(|| t.devedor.clone()),
                contato: patch.contato.clone().unwrap_or_else(|| t.contato.clone()),
                chave: patch.chave.clone().unwrap_or_else(|| t.chave.clone()),
                solicitacao_pagador: if patch.removes.solicitacao_pagador {
                    None
                } else {
                    patch.solicitacao_pagador.clone().or_else(|| t.solicitacao_pagador.clone())
                },
                info_adicionais: patch.info_adicionais.clone().unwrap_or_else(|| t.info_adicionais.clone()),
            }
        })
    }

    /// The location a PATCH moves the charge to, when it names one it is not already at.
    pub fn relink(&self, patch: &DuePatch) -> Option<i64> {
        patch.loc.filter(|id| self.loc.as_ref().map(|l| l.id) != Some(*id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cobv::{Days, Juros, Multa, Percent};
    use crate::domain::document::{Cpf, Document};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn terms() -> DueTerms {
        DueTerms {
            price: PriceTerms {
                original: Amount::parse("100.00").unwrap(),
                vencimento: day("2026-12-31"),
                validade_apos_vencimento: DEFAULT_VALIDADE_APOS_VENCIMENTO,
                multa: None,
                juros: None,
                abatimento: None,
                desconto: None,
            },
            devedor: Devedor { documento: Document::Cpf(Cpf::parse("12345678909").unwrap()), nome: "Fulano".into() },
            contato: Contato::default(),
            chave: PixKey::parse("loja@example.com").unwrap(),
            solicitacao_pagador: None,
            info_adicionais: vec![],
        }
    }

    fn charge() -> DueCharge {
        DueCharge {
            txid: Txid::parse_for_charge("vencimento0000000000000001").unwrap(),
            revisao: 0,
            status: ChargeStatus::Ativa,
            criacao: Utc::now(),
            terms: terms(),
            loc: None,
            pix_copia_e_cola: None,
        }
    }

    #[test]
    fn sound_terms_break_no_rule() {
        assert_eq!(terms().violations(day("2026-12-03")), vec![]);
        assert_eq!(terms().violations(day("2026-12-31")), vec![], "due today is allowed");
    }

    #[test]
    fn a_due_date_in_the_past_is_refused() {
        assert_eq!(
            terms().violations(day("2027-01-01")),
            [("cobv.calendario.dataDeVencimento", "is before the charge's creation date")]
        );
    }

    #[test]
    fn a_due_date_years_ahead_or_a_rate_over_100_percent_is_refused() {
        let mut t = terms();
        t.price.vencimento = day("2037-12-31");
        assert_eq!(t.violations(day("2026-12-03"))[0].1, "is more than ten years ahead");
        let mut t = terms();
        t.price.multa = Some(crate::domain::cobv::Multa::Percent(Percent(10_001)));
        t.price.juros = Some(Juros::Rate(Percent(20_000), crate::domain::cobv::Period::Year, Days::Calendar));
        let props: Vec<_> = t.violations(day("2026-12-03")).into_iter().map(|v| v.0).collect();
        assert_eq!(props, ["cobv.valor.multa", "cobv.valor.juros"]);
    }

    #[test]
    fn a_rebate_or_discount_of_the_whole_amount_is_refused() {
        let mut t = terms();
        t.price.abatimento = Some(Abatimento::Fixed(Amount::parse("100.00").unwrap()));
        assert_eq!(t.violations(day("2026-12-03"))[0].0, "cobv.valor.abatimento");
        t.price.abatimento = Some(Abatimento::Percent(Percent(10_000)));
        assert_eq!(t.violations(day("2026-12-03"))[0].0, "cobv.valor.abatimento");
        t.price.abatimento = Some(Abatimento::Percent(Percent(9_999)));
        assert_eq!(t.violations(day("2026-12-03")), vec![]);

        let mut t = terms();
        t.price.desconto = Some(Desconto::UntilDates { percent: false, tiers: vec![(day("2026-12-20"), 10_000)] });
        assert_eq!(t.violations(day("2026-12-03"))[0].0, "cobv.valor.desconto");
        t.price.desconto = Some(Desconto::PercentPerDay(Percent(10_000), Days::Calendar));
        assert_eq!(t.violations(day("2026-12-03"))[0].0, "cobv.valor.desconto");
    }

    #[test]
    fn an_overdue_charges_revised_amounts_are_checked_all_the_same() {
        // Due 31 December; on 4 January a PATCH raises the original near the limit: with its
        // 2% fine it would pass 9,999,999,999.99.
        let mut c = charge();
        c.terms.price.multa = Some(Multa::Percent(Percent(200)));
        let patch = DuePatch { original: Some(Amount::parse("9999999999.00").unwrap()), ..Default::default() };
        match c.revise_checked(&patch, day("2027-01-04")) {
            Err(DueRevisionError::Invalid(v)) => assert_eq!(v[0].0, "cobv.valor", "{v:?}"),
            other => panic!("{other:?}"),
        }
        // A sound one goes through, its past due date kept.
        let patch = DuePatch { original: Some(Amount::parse("120.00").unwrap()), ..Default::default() };
        assert!(c.revise_checked(&patch, day("2027-01-04")).is_ok());
    }

    #[test]
    fn a_patch_removes_a_fine_interest_rebate_or_discount_sent_as_null() {
        let mut c = charge();
        c.terms.price.multa = Some(Multa::Percent(Percent(200)));
        c.terms.price.juros = Some(Juros::Rate(Percent(100), crate::domain::cobv::Period::Month, Days::Calendar));
        let removes = RemovedTerms { multa: true, ..Default::default() };
        let Revision::Changed { terms, .. } = c.revise(&DuePatch { removes, ..Default::default() }).unwrap() else {
            panic!("a removal is a change")
        };
        assert_eq!((terms.price.multa, terms.price.juros), (None, c.terms.price.juros), "the fine only");
    }

    #[test]
    fn a_replacement_by_a_whole_creation_request_removes_what_it_leaves_out() {
        let mut c = charge();
        c.terms.price.multa = Some(Multa::Percent(Percent(200)));
        c.terms.price.desconto = Some(Desconto::UntilDates { percent: false, tiers: vec![(day("2026-12-20"), 500)] });
        c.terms.solicitacao_pagador = Some("Mensalidade".into());
        c.terms.info_adicionais = vec![InfoAdicional { nome: "Turma".into(), valor: "3A".into() }];
        // The request states a new original and a juros, and nothing else optional.
        let mut request = terms();
        request.price.original = Amount::parse("120.00").unwrap();
        request.price.juros = Some(Juros::Rate(Percent(100), crate::domain::cobv::Period::Month, Days::Calendar));
        let Revision::Changed { terms, .. } = c.revise(&DuePatch::replacing(&request, None)).unwrap() else {
            panic!("a replacement that differs is a change")
        };
        assert_eq!(terms, request, "the charge is what the request says, no more");
        // The same request again changes nothing.
        let replaced = DueCharge { terms: request.clone(), ..charge() };
        assert_eq!(replaced.revise(&DuePatch::replacing(&request, None)).unwrap(), Revision::Unchanged);
        assert_eq!(DuePatch::replacing(&request, None).loc, None, "its location stays when none is named");
    }

    #[test]
    fn a_patch_removes_the_payers_message_sent_as_null() {
        let mut c = charge();
        c.terms.solicitacao_pagador = Some("Mensalidade".into());
        let removes = RemovedTerms { solicitacao_pagador: true, ..Default::default() };
        let Revision::Changed { terms, .. } = c.revise(&DuePatch { removes, ..Default::default() }).unwrap() else {
            panic!("a removal is a change")
        };
        assert_eq!(terms.solicitacao_pagador, None);
    }

    #[test]
    fn a_rebate_and_a_discount_that_together_take_it_all_are_refused() {
        // Each below the whole, together the whole: 50.00 off and 60.00 until the 18th.
        let mut t = terms();
        t.price.abatimento = Some(Abatimento::Fixed(Amount::parse("50.00").unwrap()));
        t.price.desconto = Some(Desconto::UntilDates { percent: false, tiers: vec![(day("2026-12-18"), 6_000)] });
        assert_eq!(
            t.violations(day("2026-12-03")),
            [("cobv.valor.desconto", "leaves nothing to pay on a day the charge can be paid")]
        );
        // (Nor may a fine take it past the largest amount.)
        let mut big = terms();
        big.price.original = Amount::parse("9000000000.00").unwrap();
        big.price.multa = Some(Multa::Percent(Percent(2_000)));
        assert_eq!(big.violations(day("2026-12-03"))[0].0, "cobv.valor");
        // 40.00 until the 18th leaves 10.00.
        t.price.desconto = Some(Desconto::UntilDates { percent: false, tiers: vec![(day("2026-12-18"), 4_000)] });
        assert_eq!(t.violations(day("2026-12-03")), vec![]);
    }

    #[test]
    fn discount_dates_come_on_or_before_the_due_date_and_differ() {
        let mut t = terms();
        t.price.desconto = Some(Desconto::UntilDates {
            percent: true,
            tiers: vec![(day("2027-01-05"), 100), (day("2026-12-20"), 200), (day("2026-12-20"), 300)],
        });
        let props: Vec<_> = t.violations(day("2026-12-03")).into_iter().map(|v| v.1).collect();
        assert_eq!(props, ["a date is after the due date", "dates must differ"]);
    }

    #[test]
    fn an_overdue_charge_can_be_revised_but_not_moved_into_the_past() {
        let overdue = charge();
        let later = day("2027-02-01");
        let amount = DuePatch { original: Some(Amount::parse("90.00").unwrap()), ..Default::default() };
        assert!(overdue.revise_checked(&amount, later).is_ok());
        let back = DuePatch { vencimento: Some(day("2027-01-15")), ..Default::default() };
        assert!(matches!(overdue.revise_checked(&back, later), Err(DueRevisionError::Invalid(_))));
    }

    #[test]
    fn a_revision_changes_terms_and_a_removal_comes_alone() {
        let patch = DuePatch { multa: Some(Multa::Percent(Percent(200))), ..Default::default() };
        match charge().revise(&patch).unwrap() {
            Revision::Changed { terms, revisao, .. } => {
                assert_eq!((terms.price.multa, revisao), (Some(Multa::Percent(Percent(200))), 1))
            }
            other => panic!("{other:?}"),
        }
        let same = DuePatch { original: Some(Amount::parse("100.00").unwrap()), ..Default::default() };
        assert_eq!(charge().revise(&same), Ok(Revision::Unchanged));
        let both = DuePatch {
            juros: Some(Juros::Rate(Percent(100), crate::domain::cobv::Period::Month, Days::Calendar)),
            remover: true,
            ..Default::default()
        };
        assert_eq!(charge().revise(&both), Err(RevisionError::RemovalWithChanges));
        let paid = DueCharge { status: ChargeStatus::Concluida, ..charge() };
        assert_eq!(paid.revise(&patch), Err(RevisionError::NotActive));
        let removal = DuePatch { remover: true, ..Default::default() };
        assert!(matches!(
            charge().revise(&removal),
            Ok(Revision::Changed { status: ChargeStatus::RemovidaPeloUsuarioRecebedor, revisao: 1, .. })
        ));
    }
}

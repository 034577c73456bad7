//! Immediate charges (`cob`): their terms, statuses and the revision rules of the Bacen
//! API Pix (revisao starts at 0 and grows by one per change; only ATIVA charges change;
//! removal cannot be combined with other changes).

use super::document::Document;
use super::ids::Txid;
use super::money::Amount;
use super::pix_key::PixKey;
use chrono::{DateTime, Utc};

/// Default lifetime of a charge in seconds (Bacen default: 24 h).
pub const DEFAULT_EXPIRATION_SECS: i32 = 86_400;
pub const MAX_SOLICITACAO_PAGADOR: usize = 140;
pub const MAX_DEVEDOR_NOME: usize = 200;
pub const MAX_INFO_ADICIONAIS: usize = 50;
pub const MAX_INFO_NOME: usize = 50;
pub const MAX_INFO_VALOR: usize = 200;

/// The status of a charge record (not of its expiry, which is computed from `calendario`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChargeStatus {
    Ativa,
    Concluida,
    RemovidaPeloUsuarioRecebedor,
    RemovidaPeloPsp,
}

impl ChargeStatus {
    pub const ALL: [ChargeStatus; 4] = [
        ChargeStatus::Ativa,
        ChargeStatus::Concluida,
        ChargeStatus::RemovidaPeloUsuarioRecebedor,
        ChargeStatus::RemovidaPeloPsp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Ativa => "ATIVA",
            ChargeStatus::Concluida => "CONCLUIDA",
            ChargeStatus::RemovidaPeloUsuarioRecebedor => "REMOVIDA_PELO_USUARIO_RECEBEDOR",
            ChargeStatus::RemovidaPeloPsp => "REMOVIDA_PELO_PSP",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The payer a charge is addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devedor {
    pub documento: Document,
    pub nome: String,
}

/// One `infoAdicionais` entry shown to the payer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InfoAdicional {
    pub nome: String,
    pub valor: String,
}

/// Everything the merchant decides about a charge; what a revision may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeTerms {
    /// Seconds from creation until the charge expires; always > 0.
    pub expiracao: i32,
    pub devedor: Option<Devedor>,
    /// Always > 0.
    pub valor: Amount,
    /// Whether the payer may change the amount (`modalidadeAlteracao` = 1).
    pub valor_alteravel: bool,
    pub chave: PixKey,
    pub solicitacao_pagador: Option<String>,
    pub info_adicionais: Vec<InfoAdicional>,
}

/// The canonical form of a charge's terms: built in a fixed order from parsed values, so
/// the bytes are stable whatever the order or spacing of the request. Charges keep the
/// fingerprint of the request that made them: these bytes must not change.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CanonicalTerms<'a> {
    calendario: CanonicalCalendario,
    #[serde(skip_serializing_if = "Option::is_none")]
    devedor: Option<CanonicalDevedor<'a>>,
    valor: CanonicalValor,
    chave: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    solicitacao_pagador: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    info_adicionais: &'a [InfoAdicional],
}

#[derive(serde::Serialize)]
struct CanonicalCalendario {
    expiracao: i32,
}

#[derive(serde::Serialize)]
struct CanonicalDevedor<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cpf: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnpj: Option<&'a str>,
    nome: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CanonicalValor {
    original: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    modalidade_alteracao: Option<u8>,
}

impl ChargeTerms {
    fn canonical(&self) -> Result<Vec<u8>, serde_json::Error> {
        let devedor = self.devedor.as_ref().map(|d| match &d.documento {
            Document::Cpf(c) => CanonicalDevedor { cpf: Some(c.as_str()), cnpj: None, nome: &d.nome },
            Document::Cnpj(c) => CanonicalDevedor { cpf: None, cnpj: Some(c.as_str()), nome: &d.nome },
        });
        let canonical = CanonicalTerms {
            calendario: CanonicalCalendario { expiracao: self.expiracao },
            devedor,
            valor: CanonicalValor {
                original: self.valor.to_string(),
                modalidade_alteracao: self.valor_alteravel.then_some(1),
            },
            chave: self.chave.as_str(),
            solicitacao_pagador: self.solicitacao_pagador.as_deref(),
            info_adicionais: &self.info_adicionais,
        };
        serde_json::to_vec(&canonical)
    }

    /// What "the same charge again" means for an idempotent `PUT /cob/{txid}`.
    pub fn fingerprint(&self) -> Result<[u8; 32], serde_json::Error> {
        self.fingerprint_at(None)
    }

    /// The fingerprint of a create request that may name its location (`loc.id`): the same
    /// terms at another location are another request. Without one, `fingerprint()`.
    pub fn fingerprint_at(&self, loc: Option<i64>) -> Result<[u8; 32], serde_json::Error> {
        let mut bytes = self.canonical()?;
        if let Some(id) = loc {
            // After the JSON object, a byte JSON never contains: no terms can spell it.
            bytes.extend_from_slice(format!("\0loc.id={id}").as_bytes());
        }
        Ok(super::idempotency::fingerprint(&bytes))
    }
}

/// A PATCH: each present field replaces the current one; `remover` asks for
/// `REMOVIDA_PELO_USUARIO_RECEBEDOR`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChargePatch {
    pub expiracao: Option<i32>,
    pub devedor: Option<Devedor>,
    pub valor: Option<Amount>,
    pub valor_alteravel: Option<bool>,
    pub chave: Option<PixKey>,
    pub solicitacao_pagador: Option<String>,
    pub info_adicionais: Option<Vec<InfoAdicional>>,
    /// Serve the charge at the merchant's location `id` instead (`loc.id`).
    pub loc: Option<i64>,
    pub remover: bool,
    /// The charge's whole new terms (a `PUT` of an existing charge: what the request leaves
    /// out is gone), instead of the fields above.
    pub replace: Option<ChargeTerms>,
}

/// The payload location a charge's QR code points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub id: i64,
    /// URL without scheme, as Bacen writes it: `pix.example.com/qr/v2/{token}`.
    pub location: String,
    pub criacao: DateTime<Utc>,
}

/// A charge as stored: at its current revision, or at an older one when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub txid: Txid,
    pub revisao: i32,
    pub status: ChargeStatus,
    pub criacao: DateTime<Utc>,
    pub terms: ChargeTerms,
    pub loc: Option<Location>,
    pub pix_copia_e_cola: Option<String>,
}

/// Why a revision is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RevisionError {
    /// Paid or removed charges are final.
    #[error("the charge is no longer ATIVA; only active charges can be revised")]
    NotActive,
    /// Bacen: removing a charge while changing it makes no sense.
    #[error("a charge cannot be removed and changed in the same request")]
    RemovalWithChanges,
}

/// What a PATCH does to a charge (of either kind: `T` is its terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revision<T = ChargeTerms> {
    /// Nothing differs from the current charge: no new revision (a retried PATCH is a no-op).
    Unchanged,
    /// New terms and/or status, stored as revision `revisao`.
    Changed { terms: T, status: ChargeStatus, revisao: i32 },
}

/// The Bacen revision rules, for any kind of charge: only an ATIVA charge changes; a
/// removal comes alone (`changes`: the PATCH asks for anything else); terms equal to the
/// current ones make no revision.
pub fn revise<T: PartialEq + Clone>(
    status: ChargeStatus,
    revisao: i32,
    current: &T,
    remover: bool,
    changes: bool,
    revised: impl FnOnce() -> T,
) -> Result<Revision<T>, RevisionError> {
    if status != ChargeStatus::Ativa {
        return Err(RevisionError::NotActive);
    }
    if remover {
        if changes {
            return Err(RevisionError::RemovalWithChanges);
        }
        return Ok(Revision::Changed {
            terms: current.clone(),
            status: ChargeStatus::RemovidaPeloUsuarioRecebedor,
            revisao: revisao + 1,
        });
    }
    let terms = revised();
    if &terms == current {
        return Ok(Revision::Unchanged);
    }
    Ok(Revision::Changed { terms, status, revisao: revisao + 1 })
}

impl ChargePatch {
    fn changes_terms(&self) -> bool {
        self.expiracao.is_some()
            || self.devedor.is_some()
            || self.valor.is_some()
            || self.valor_alteravel.is_some()
            || self.chave.is_some()
            || self.solicitacao_pagador.is_some()
            || self.info_adicionais.is_some()
            || self.replace.is_some()
    }
}

impl Charge {
    /// Applies a PATCH under the Bacen revision rules.
    pub fn revise(&self, patch: &ChargePatch) -> Result<Revision, RevisionError> {
        let changes = patch.changes_terms() || patch.loc.is_some();
        revise(self.status, self.revisao, &self.terms, patch.remover, changes, || {
            if let Some(whole) = &patch.replace {
                return whole.clone();
            }
            let t = &self.terms;
            ChargeTerms {
                expiracao: patch.expiracao.unwrap_or(t.expiracao),
                devedor: patch.devedor.clone().or_else(|| t.devedor.clone()),
                valor: patch.valor.unwrap_or(t.valor),
                valor_alteravel: patch.valor_alteravel.unwrap_or(t.valor_alteravel),
                chave: patch.chave.clone().unwrap_or_else(|| t.chave.clone()),
                solicitacao_pagador: patch.solicitacao_pagador.clone().or_else(|| t.solicitacao_pagador.clone()),
                info_adicionais: patch.info_adicionais.clone().unwrap_or_else(|| t.info_adicionais.clone()),
            }
        })
    }

    /// The location a PATCH moves the charge to, when it names one it is not already at.
    /// Moving is not a revision: the terms stay, only where the payload is served changes.
    pub fn relink(&self, patch: &ChargePatch) -> Option<i64> {
        patch.loc.filter(|id| self.loc.as_ref().map(|l| l.id) != Some(*id))
    }

    /// When the charge stops being payable, whatever its status.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.criacao + chrono::Duration::seconds(i64::from(self.terms.expiracao))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_terms_are_the_bytes_stored_fingerprints_were_made_from() {
        let mut terms = charge(ChargeStatus::Ativa).terms;
        terms.devedor = Some(Devedor {
            documento: Document::Cpf(crate::domain::document::Cpf::parse("52998224725").unwrap()),
            nome: "Fulano".into(),
        });
        terms.valor_alteravel = true;
        terms.solicitacao_pagador = Some("Pedido 1".into());
        terms.info_adicionais = vec![InfoAdicional { nome: "a".into(), valor: "b".into() }];
        let expected = format!(
            r#"{{"calendario":{{"expiracao":3600}},"devedor":{{"cpf":"52998224725","nome":"Fulano"}},"valor":{{"original":"10.00","modalidadeAlteracao":1}},"chave":"{}","solicitacaoPagador":"Pedido 1","infoAdicionais":[{{"nome":"a","valor":"b"}}]}}"#,
            terms.chave.as_str()
        );
        assert_eq!(String::from_utf8(terms.canonical().unwrap()).unwrap(), expected);
        let plain = charge(ChargeStatus::Ativa).terms;
        let expected = format!(
            r#"{{"calendario":{{"expiracao":3600}},"valor":{{"original":"10.00"}},"chave":"{}"}}"#,
            plain.chave.as_str()
        );
        assert_eq!(String::from_utf8(plain.canonical().unwrap()).unwrap(), expected);
    }

    fn charge(status: ChargeStatus) -> Charge {
        Charge {
            txid: Txid::parse_for_charge("abcdefghijklmnopqrstuvwxyz01").unwrap(),
            revisao: 0,
            status,
            criacao: Utc::now(),
            terms: ChargeTerms {
                expiracao: 3600,
                devedor: None,
                valor: Amount::parse("10.00").unwrap(),
                valor_alteravel: false,
                chave: PixKey::parse("loja@example.com").unwrap(),
                solicitacao_pagador: None,
                info_adicionais: vec![],
            },
            loc: None,
            pix_copia_e_cola: None,
        }
    }

    #[test]
    fn a_change_makes_the_next_revision() {
        let patch = ChargePatch { valor: Some(Amount::parse("12.50").unwrap()), ..Default::default() };
        match charge(ChargeStatus::Ativa).revise(&patch).unwrap() {
            Revision::Changed { terms, revisao, status } => {
                assert_eq!(terms.valor.centavos(), 1250);
                assert_eq!(revisao, 1);
                assert_eq!(status, ChargeStatus::Ativa);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_patch_that_changes_nothing_makes_no_revision() {
        let patch = ChargePatch { valor: Some(Amount::parse("10.00").unwrap()), ..Default::default() };
        assert_eq!(charge(ChargeStatus::Ativa).revise(&patch), Ok(Revision::Unchanged));
    }

    #[test]
    fn paid_and_removed_charges_cannot_be_revised() {
        let patch = ChargePatch { expiracao: Some(60), ..Default::default() };
        for s in [ChargeStatus::Concluida, ChargeStatus::RemovidaPeloUsuarioRecebedor, ChargeStatus::RemovidaPeloPsp] {
            assert_eq!(charge(s).revise(&patch), Err(RevisionError::NotActive));
        }
    }

    #[test]
    fn removal_cannot_come_with_other_changes() {
        let patch = ChargePatch { expiracao: Some(60), remover: true, ..Default::default() };
        assert_eq!(charge(ChargeStatus::Ativa).revise(&patch), Err(RevisionError::RemovalWithChanges));
    }

    #[test]
    fn removal_cannot_come_with_a_new_location() {
        let patch = ChargePatch { loc: Some(7), remover: true, ..Default::default() };
        assert_eq!(charge(ChargeStatus::Ativa).revise(&patch), Err(RevisionError::RemovalWithChanges));
    }

    #[test]
    fn a_new_location_is_a_move_not_a_revision() {
        let mut at_7 = charge(ChargeStatus::Ativa);
        at_7.loc = Some(Location { id: 7, location: "pix.example.com/qr/v2/x".into(), criacao: Utc::now() });
        let to = |id| ChargePatch { loc: Some(id), ..Default::default() };
        assert_eq!(at_7.relink(&to(8)), Some(8));
        assert_eq!(at_7.relink(&to(7)), None, "already there");
        assert_eq!(at_7.relink(&ChargePatch::default()), None);
        assert_eq!(charge(ChargeStatus::Ativa).relink(&to(7)), Some(7), "a charge without a location gets one");
        assert_eq!(at_7.revise(&to(8)), Ok(Revision::Unchanged), "the terms are the same");
        assert_eq!(charge(ChargeStatus::Concluida).revise(&to(8)), Err(RevisionError::NotActive));
    }

    #[test]
    fn the_same_terms_at_another_location_are_another_request() {
        let terms = charge(ChargeStatus::Ativa).terms;
        assert_eq!(terms.fingerprint_at(None).unwrap(), terms.fingerprint().unwrap());
        assert_ne!(terms.fingerprint_at(Some(1)).unwrap(), terms.fingerprint().unwrap());
        assert_ne!(terms.fingerprint_at(Some(1)).unwrap(), terms.fingerprint_at(Some(2)).unwrap());
    }

    #[test]
    fn removal_is_a_revision_with_the_removed_status() {
        let patch = ChargePatch { remover: true, ..Default::default() };
        let r = charge(ChargeStatus::Ativa).revise(&patch).unwrap();
        assert!(matches!(r, Revision::Changed { status: ChargeStatus::RemovidaPeloUsuarioRecebedor, revisao: 1, .. }));
    }

    #[test]
    fn statuses_round_trip_through_their_bacen_names() {
        for s in ChargeStatus::ALL {
            assert_eq!(ChargeStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ChargeStatus::parse("ativa"), None);
    }
}

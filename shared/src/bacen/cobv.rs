//! Charges with a due date in Bacen's JSON: `CobVGerada`/`CobVCompleta` (a charge),
//! `CobsVConsultadas` (a page of them) and `PayloadCobV` (what the payload location serves,
//! with `valor.final` for a payment date).

use super::cob::DevedorView;
use super::{timestamp, Paginacao, Parametros};
use crate::domain::charge::InfoAdicional;
use crate::domain::cobv::{AmountDue, Contato, Desconto, DueCharge, DueTerms};
use crate::domain::document::Document;
use crate::domain::merchant::{Merchant, Recebedor};
use crate::ports::{ChargeQuery, Page};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A `valorPerc` (hundredths) as Bacen writes it: `"2.50"`.
fn perc(hundredths: i64) -> String {
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Calendario {
    pub criacao: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apresentacao: Option<String>,
    pub data_de_vencimento: String,
    pub validade_apos_vencimento: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DevedorComContato<'a> {
    #[serde(flatten)]
    pub devedor: DevedorView<'a>,
    #[serde(flatten)]
    pub contato: &'a Contato,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecebedorView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpf: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnpj: Option<&'a str>,
    pub nome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nome_fantasia: Option<&'a str>,
    pub logradouro: &'a str,
    pub cidade: &'a str,
    pub uf: &'a str,
    pub cep: &'a str,
}

impl<'a> RecebedorView<'a> {
    pub fn of(m: &'a Merchant, r: &'a Recebedor) -> Self {
        let (cpf, cnpj) = match &r.documento {
            Document::Cpf(c) => (Some(c.as_str()), None),
            Document::Cnpj(c) => (None, Some(c.as_str())),
        };
        RecebedorView {
            cpf,
            cnpj,
            nome: &m.name,
            nome_fantasia: r.nome_fantasia.as_deref(),
            logradouro: &r.logradouro,
            cidade: &m.city,
            uf: &r.uf,
            cep: &r.cep,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModalidadeValor {
    pub modalidade: i64,
    pub valor_perc: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescontoDataFixa {
    pub data: String,
    pub valor_perc: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescontoView {
    pub modalidade: i16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desconto_data_fixa: Option<Vec<DescontoDataFixa>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valor_perc: Option<String>,
}

impl DescontoView {
    fn of(d: &Desconto) -> Self {
        DescontoView {
            modalidade: d.modalidade(),
            desconto_data_fixa: d.tiers().map(|tiers| {
                tiers
                    .iter()
                    .map(|(data, v)| DescontoDataFixa { data: data.to_string(), valor_perc: perc(*v) })
                    .collect()
            }),
            valor_perc: d.per_day().map(perc),
        }
    }
}

/// `valor` as the merchant set it (`CobVValor`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Valor {
    pub original: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multa: Option<ModalidadeValor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub juros: Option<ModalidadeValor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abatimento: Option<ModalidadeValor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desconto: Option<DescontoView>,
}

impl Valor {
    fn of(t: &DueTerms) -> Self {
        let p = &t.price;
        let mv = |(m, v): (i16, i64)| ModalidadeValor { modalidade: i64::from(m), valor_perc: perc(v) };
        Valor {
            original: p.original.to_string(),
            multa: p.multa.map(|m| mv(m.parts())),
            juros: p.juros.map(|j| ModalidadeValor { modalidade: j.modalidade(), valor_perc: perc(j.value()) }),
            abatimento: p.abatimento.map(|a| mv(a.parts())),
            desconto: p.desconto.as_ref().map(DescontoView::of),
        }
    }
}

/// A whole charge with a due date.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CobV<'a> {
    pub calendario: Calendario,
    pub txid: &'a str,
    pub revisao: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loc: Option<super::loc::Loc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<&'a str>,
    pub status: &'static str,
    pub devedor: DevedorComContato<'a>,
    pub recebedor: RecebedorView<'a>,
    pub valor: Valor,
    pub chave: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solicitacao_pagador: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub info_adicionais: &'a [InfoAdicional],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pix_copia_e_cola: Option<&'a str>,
    /// The Pix that paid it (with their refunds), on a charge read whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pix: Option<Vec<super::pix::Pix<'a>>>,
}

impl<'a> CobV<'a> {
    /// A charge with the Pix received for it (`CobVCompleta.pix`), when there are any.
    pub fn with_pix(
        c: &'a DueCharge,
        recebedor: RecebedorView<'a>,
        pix: &'a [crate::domain::payment::ReceivedPix],
    ) -> Self {
        let pix = (!pix.is_empty()).then(|| pix.iter().map(super::pix::Pix::of).collect());
        CobV { pix, ..CobV::of(c, recebedor) }
    }

    pub fn of(c: &'a DueCharge, recebedor: RecebedorView<'a>) -> Self {
        let t = &c.terms;
        CobV {
            calendario: Calendario {
                criacao: timestamp(c.criacao),
                apresentacao: None,
                data_de_vencimento: t.price.vencimento.to_string(),
                validade_apos_vencimento: t.price.validade_apos_vencimento,
            },
            txid: c.txid.as_str(),
            revisao: c.revisao,
            loc: c
                .loc
                .as_ref()
                .map(|l| super::loc::Loc::new(l.id, Some(c.txid.as_str()), &l.location, "cobv", l.criacao)),
            location: c.loc.as_ref().map(|l| l.location.as_str()),
            status: c.status.as_str(),
            devedor: DevedorComContato { devedor: DevedorView::of(&t.devedor), contato: &t.contato },
            recebedor,
            valor: Valor::of(t),
            chave: t.chave.as_str(),
            solicitacao_pagador: t.solicitacao_pagador.as_deref(),
            info_adicionais: &t.info_adicionais,
            pix_copia_e_cola: c.pix_copia_e_cola.as_deref(),
            pix: None,
        }
    }
}

/// A page of `GET /cobv`.
#[derive(Debug, Serialize)]
pub struct CobsVConsultadas<'a> {
    pub parametros: Parametros,
    pub cobs: Vec<CobV<'a>>,
}

impl<'a> CobsVConsultadas<'a> {
    /// `pix`: the Pix received for the page's charges, by txid.
    pub fn of(
        q: &ChargeQuery,
        p: &'a Page<DueCharge>,
        m: &'a Merchant,
        r: &'a Recebedor,
        pix: &'a std::collections::HashMap<String, Vec<crate::domain::payment::ReceivedPix>>,
    ) -> Self {
        CobsVConsultadas {
            parametros: Parametros::new(q.inicio, q.fim, Paginacao::new(q.pagina, q.itens_por_pagina, p.total))
                .document(q.devedor.as_ref())
                .filter("status", q.status.map(|s| s.as_str()))
                .filter("locationPresente", q.location_presente)
                .filter("loteCobVId", q.lote),
            cobs: p
                .items
                .iter()
                .map(|c| {
                    CobV::with_pix(c, RecebedorView::of(m, r), pix.get(c.txid.as_str()).map_or(&[], Vec::as_slice))
                })
                .collect(),
        }
    }
}

/// `valor` as a payment date asks it (`CobVPayloadValor`): every part, and `final`.
#[derive(Debug, Serialize)]
pub struct PayloadValor {
    pub original: String,
    pub multa: String,
    pub juros: String,
    pub abatimento: String,
    pub desconto: String,
    #[serde(rename = "final")]
    pub final_: String,
}

/// What a cobv's payload location serves (`PayloadCobV`), as of `apresentacao`, priced for
/// the payment date asked.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload<'a> {
    pub calendario: Calendario,
    pub devedor: DevedorView<'a>,
    pub recebedor: RecebedorView<'a>,
    pub txid: &'a str,
    pub revisao: i32,
    pub status: &'static str,
    pub valor: PayloadValor,
    pub chave: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solicitacao_pagador: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub info_adicionais: &'a [InfoAdicional],
}

impl<'a> Payload<'a> {
    /// The payer's bank sees the devedor's document and name, not its contact.
    pub fn of(c: &'a DueCharge, recebedor: RecebedorView<'a>, due: &AmountDue, apresentacao: DateTime<Utc>) -> Self {
        let t = &c.terms;
        Payload {
            calendario: Calendario {
                criacao: timestamp(c.criacao),
                apresentacao: Some(timestamp(apresentacao)),
                data_de_vencimento: t.price.vencimento.to_string(),
                validade_apos_vencimento: t.price.validade_apos_vencimento,
            },
            devedor: DevedorView::of(&t.devedor),
            recebedor,
            txid: c.txid.as_str(),
            revisao: c.revisao,
            status: c.status.as_str(),
            valor: PayloadValor {
                original: due.original.to_string(),
                multa: due.multa.to_string(),
                juros: due.juros.to_string(),
                abatimento: due.abatimento.to_string(),
                desconto: due.desconto.to_string(),
                final_: due.final_.to_string(),
            },
            chave: t.chave.as_str(),
            solicitacao_pagador: t.solicitacao_pagador.as_deref(),
            info_adicionais: &t.info_adicionais,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentages_are_written_with_two_decimals() {
        assert_eq!(super::perc(250), "2.50");
        assert_eq!(super::perc(5), "0.05");
        assert_eq!(super::perc(10_000), "100.00");
    }
}

//! Parsing `cobv` request bodies and query strings into domain values, with a Bacen
//! `violacoes` entry for each bad field. Rules that span fields are the domain's
//! (`DueTerms::violations`).

use crate::domain::charge::{ChargeStatus, Devedor, InfoAdicional, MAX_INFO_ADICIONAIS, MAX_SOLICITACAO_PAGADOR};
use crate::domain::cobv::{
    Abatimento, Contato, Days, Desconto, DuePatch, Juros, Multa, Percent, DEFAULT_VALIDADE_APOS_VENCIMENTO,
};
use crate::domain::money::Amount;
use crate::domain::pix_key::PixKey;
use crate::handlers::cob::input::{read_devedor, read_info_adicionais};
use crate::http::json::{parse_body, Field, Fields, Violations};
use crate::http::problem::{ApiError, ProblemKind};
use chrono::NaiveDate;

pub const DETAIL: &str = "The charge request does not follow the schema or is semantically wrong.";

/// Which request is being read: they differ in what is required and allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Revise,
}

/// A `valorPerc`: two decimals, as hundredths (centavos, or hundredths of a percent).
fn value_perc(f: &mut Fields<'_>, v: &mut Violations) -> Option<i64> {
    let field = f.string("valorPerc", 16, v);
    match f.require("valorPerc", field, v) {
        Ok(Some(s)) => match Amount::parse(s) {
            Ok(a) => Some(a.centavos()),
            Err(e) => {
                v.add(f.path_of("valorPerc"), e.to_string());
                None
            }
        },
        _ => None,
    }
}

fn modalidade(f: &mut Fields<'_>, range: std::ops::RangeInclusive<i64>, v: &mut Violations) -> Option<i64> {
    let field = f.integer("modalidade", range, v);
    f.require("modalidade", field, v).ok().flatten()
}

fn amount_of(c: i64) -> Option<Amount> {
    Amount::from_centavos(c).ok()
}

fn read_multa(mut f: Fields<'_>, v: &mut Violations) -> Option<Multa> {
    let (m, value) = (modalidade(&mut f, 1..=2, v), value_perc(&mut f, v));
    match (m?, value?) {
        (1, c) => amount_of(c).map(Multa::Fixed),
        (_, c) => Some(Multa::Percent(Percent(c))),
    }
}

fn read_juros(mut f: Fields<'_>, v: &mut Violations) -> Option<Juros> {
    let (m, value) = (modalidade(&mut f, 1..=8, v), value_perc(&mut f, v));
    Juros::from_modalidade(m?, value?)
}

fn read_abatimento(mut f: Fields<'_>, v: &mut Violations) -> Option<Abatimento> {
    let (m, value) = (modalidade(&mut f, 1..=2, v), value_perc(&mut f, v));
    match (m?, value?) {
        (1, c) => amount_of(c).map(Abatimento::Fixed),
        (_, c) => Some(Abatimento::Percent(Percent(c))),
    }
}

fn read_desconto(mut f: Fields<'_>, v: &mut Violations) -> Option<Desconto> {
    let m = modalidade(&mut f, 1..=6, v)?;
    let dates = f.array("descontoDataFixa", 3, v);
    if m <= 2 {
        if f.raw("valorPerc").is_some() {
            v.add(f.path_of("valorPerc"), "is not used with modalidade 1 or 2 (use descontoDataFixa)");
        }
        let items = match f.require("descontoDataFixa", dates, v) {
            Ok(Some(items)) if !items.is_empty() => items,
            Ok(Some(_)) => {
                v.add(f.path_of("descontoDataFixa"), "needs 1 to 3 dates");
                return None;
            }
            _ => return None,
        };
        let mut tiers = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", f.path_of("descontoDataFixa"));
            let Some(mut tier) = Fields::of(item, &path, v) else { continue };
            let data = tier.string("data", 10, v);
            let data = match tier.require("data", data, v) {
                Ok(Some(s)) => crate::bacen::full_date(s).or_else(|| {
                    v.add(tier.path_of("data"), "must be a date YYYY-MM-DD");
                    None
                }),
                _ => None,
            };
            if let (Some(data), Some(value)) = (data, value_perc(&mut tier, v)) {
                tiers.push((data, value));
            }
        }
        return (tiers.len() == items.len()).then_some(Desconto::UntilDates { percent: m == 2, tiers });
    }
    if !matches!(dates, Ok(None)) {
        v.add(f.path_of("descontoDataFixa"), "is only used with modalidade 1 or 2");
    }
    let value = value_perc(&mut f, v)?;
    let days = if m == 4 || m == 6 { Days::Business } else { Days::Calendar };
    match m {
        3 | 4 => amount_of(value).map(|a| Desconto::ValuePerDay(a, days)),
        _ => Some(Desconto::PercentPerDay(Percent(value), days)),
    }
}

pub(crate) fn read_contato(dev: &mut Fields<'_>, v: &mut Violations) -> Contato {
    let mut text = |key: &'static str, max: usize| match dev.string(key, max, v) {
        Ok(Some(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    };
    let contato = Contato {
        email: text("email", 140),
        logradouro: text("logradouro", 200),
        cidade: text("cidade", 200),
        uf: text("uf", 2),
        cep: text("cep", 8),
    };
    if contato.uf.as_deref().is_some_and(|u| u.len() != 2 || !u.bytes().all(|b| b.is_ascii_uppercase())) {
        v.add(dev.path_of("uf"), "must be two capital letters");
    }
    if contato.cep.as_deref().is_some_and(|c| c.len() != 8 || !c.bytes().all(|b| b.is_ascii_digit())) {
        v.add(dev.path_of("cep"), "must be eight digits");
    }
    contato
}

/// Every field a create or a revision may carry, each already parsed.
#[derive(Default)]
struct CobVFields {
    vencimento: Option<NaiveDate>,
    validade: Option<u32>,
    devedor: Option<(Devedor, Contato)>,
    original: Option<Amount>,
    multa: Option<Multa>,
    juros: Option<Juros>,
    abatimento: Option<Abatimento>,
    desconto: Option<Desconto>,
    chave: Option<PixKey>,
    solicitacao_pagador: Option<String>,
    info_adicionais: Option<Vec<InfoAdicional>>,
    loc: Option<i64>,
    remover: bool,
}

/// A field a create must carry (a revision may leave any out).
fn required<T>(create: bool, f: &Fields<'_>, key: &'static str, field: Field<T>, v: &mut Violations) -> Field<T> {
    if create {
        f.require(key, field, v)
    } else {
        field
    }
}

fn read_fields(body: &[u8], mode: Mode) -> Result<CobVFields, ApiError> {
    read_fields_of(&parse_body(body)?, mode)
}

/// [`read_fields`] on a body already parsed.
fn read_fields_of(value: &serde_json::Value, mode: Mode) -> Result<CobVFields, ApiError> {
    let mut v = Violations::default();
    let Some(mut root) = Fields::of(value, "cobv", &mut v) else {
        return v.finish(CobVFields::default(), ProblemKind::CobVOperacaoInvalida, DETAIL);
    };
    let mut out = CobVFields::default();
    let create = mode == Mode::Create;

    let calendario = root.object("calendario", &mut v);
    if let Ok(Some(mut cal)) = required(create, &root, "calendario", calendario, &mut v) {
        let date = cal.string("dataDeVencimento", 10, &mut v);
        if let Ok(Some(s)) = required(create, &cal, "dataDeVencimento", date, &mut v) {
            match crate::bacen::full_date(s) {
                Some(d) => out.vencimento = Some(d),
                None => v.add(cal.path_of("dataDeVencimento"), "must be a date YYYY-MM-DD"),
            }
        }
        if let Ok(Some(n)) = cal.integer("validadeAposVencimento", 0..=3650, &mut v) {
            out.validade = u32::try_from(n).ok();
        }
    }
    let devedor = root.object("devedor", &mut v);
    if let Ok(Some(mut dev)) = required(create, &root, "devedor", devedor, &mut v) {
        let person = read_devedor(&mut dev, &mut v);
        let contato = read_contato(&mut dev, &mut v);
        out.devedor = person.map(|p| (p, contato));
    }
    let valor = root.object("valor", &mut v);
    if let Ok(Some(mut val)) = required(create, &root, "valor", valor, &mut v) {
        let original = val.string("original", 16, &mut v);
        if let Ok(Some(s)) = required(create, &val, "original", original, &mut v) {
            match Amount::parse(s) {
                Ok(a) if a.is_zero() => v.add(val.path_of("original"), "must be greater than zero"),
                Ok(a) => out.original = Some(a),
                Err(e) => v.add(val.path_of("original"), e.to_string()),
            }
        }
        if let Ok(Some(f)) = val.object("multa", &mut v) {
            out.multa = read_multa(f, &mut v);
        }
        if let Ok(Some(f)) = val.object("juros", &mut v) {
            out.juros = read_juros(f, &mut v);
        }
        if let Ok(Some(f)) = val.object("abatimento", &mut v) {
            out.abatimento = read_abatimento(f, &mut v);
        }
        if let Ok(Some(f)) = val.object("desconto", &mut v) {
            out.desconto = read_desconto(f, &mut v);
        }
    }
    let chave = root.string("chave", 77, &mut v);
    if let Ok(Some(s)) = required(create, &root, "chave", chave, &mut v) {
        match PixKey::parse(s) {
            Ok(k) => out.chave = Some(k),
            Err(e) => v.add("cobv.chave", e.to_string()),
        }
    }
    if let Ok(Some(s)) = root.string("solicitacaoPagador", MAX_SOLICITACAO_PAGADOR, &mut v) {
        out.solicitacao_pagador = Some(s.to_owned());
    }
    if let Ok(Some(items)) = root.array("infoAdicionais", MAX_INFO_ADICIONAIS, &mut v) {
        out.info_adicionais = read_info_adicionais("cobv", items, &mut v);
    }
    if let Ok(Some(mut loc)) = root.object("loc", &mut v) {
        let id = loc.integer("id", 1..=i64::MAX, &mut v);
        if let Ok(Some(id)) = loc.require("id", id, &mut v) {
            out.loc = Some(id);
        }
        if let Ok(Some(t)) = loc.string("tipoCob", 4, &mut v) {
            if t != "cobv" {
                v.add(loc.path_of("tipoCob"), "must be cobv for a charge with a due date");
            }
        }
    }
    match (root.string("status", 40, &mut v), mode) {
        (Ok(Some(s)), Mode::Revise) if s == ChargeStatus::RemovidaPeloUsuarioRecebedor.as_str() => out.remover = true,
        (Ok(Some(_)), Mode::Revise) => v.add("cobv.status", "can only be set to REMOVIDA_PELO_USUARIO_RECEBEDOR"),
        (Ok(Some(_)), Mode::Create) => v.add("cobv.status", "is set by the PSP, not in a new charge"),
        (Ok(None) | Err(()), _) => {}
    }
    v.finish(out, ProblemKind::CobVOperacaoInvalida, DETAIL)
}

/// A create request: the terms (checked across fields by the use case, which knows the
/// date), and the location to serve them at when it names one.
pub struct NewCobV {
    pub terms: crate::domain::cobv::DueTerms,
    pub loc: Option<i64>,
}

/// The body of `PUT /cobv/{txid}`.
pub fn new_charge(body: &[u8]) -> Result<NewCobV, ApiError> {
    let f = read_fields(body, Mode::Create)?;
    // read_fields guarantees these in Create mode; a missing one was a violation.
    let (Some(vencimento), Some((devedor, contato)), Some(original), Some(chave)) =
        (f.vencimento, f.devedor, f.original, f.chave)
    else {
        return Err(ApiError::new(ProblemKind::CobVOperacaoInvalida, DETAIL));
    };
    let price = crate::domain::cobv::PriceTerms {
        original,
        vencimento,
        validade_apos_vencimento: f.validade.unwrap_or(DEFAULT_VALIDADE_APOS_VENCIMENTO),
        multa: f.multa,
        juros: f.juros,
        abatimento: f.abatimento,
        desconto: f.desconto,
    };
    let terms = crate::domain::cobv::DueTerms {
        price,
        devedor,
        contato,
        chave,
        solicitacao_pagador: f.solicitacao_pagador,
        info_adicionais: f.info_adicionais.unwrap_or_default(),
    };
    Ok(NewCobV { terms, loc: f.loc })
}

/// The body of `PATCH /cobv/{txid}`: a price term sent as `null` is removed.
pub fn patch(body: &[u8]) -> Result<DuePatch, ApiError> {
    let value = parse_body(body)?;
    let f = read_fields_of(&value, Mode::Revise)?;
    let valor = value.get("valor").and_then(serde_json::Value::as_object);
    let removed = |key: &str| valor.is_some_and(|v| v.get(key).is_some_and(serde_json::Value::is_null));
    let removes = crate::domain::cobv::RemovedTerms {
        multa: removed("multa"),
        juros: removed("juros"),
        abatimento: removed("abatimento"),
        desconto: removed("desconto"),
        solicitacao_pagador: value.get("solicitacaoPagador").is_some_and(serde_json::Value::is_null),
    };
    let (devedor, contato) = match f.devedor {
        Some((d, c)) => (Some(d), Some(c)),
        None => (None, None),
    };
    Ok(DuePatch {
        vencimento: f.vencimento,
        validade_apos_vencimento: f.validade,
        devedor,
        contato,
        original: f.original,
        multa: f.multa,
        juros: f.juros,
        abatimento: f.abatimento,
        desconto: f.desconto,
        chave: f.chave,
        solicitacao_pagador: f.solicitacao_pagador,
        info_adicionais: f.info_adicionais,
        loc: f.loc,
        remover: f.remover,
        removes,
    })
}

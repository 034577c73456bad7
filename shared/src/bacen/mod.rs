//! Bacen's JSON: how the API Pix represents our domain types. One place for timestamps,
//! `parametros`/`paginacao` and the resource views, each a `#[derive(Serialize)]` type that
//! says its shape once. Handlers answer with these; so does the webhook dispatcher.

pub mod cob;
pub mod cobv;
pub mod envio;
pub mod extrato;
pub mod loc;
pub mod pix;
pub mod rec;
pub mod webhooks;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde::Serialize;

/// A date as the API Pix writes one: RFC 3339's `full-date`, `YYYY-MM-DD` with a
/// four-digit year (chrono alone would also take a sign or a longer year).
pub fn full_date(s: &str) -> Option<chrono::NaiveDate> {
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    shaped.then(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).flatten()
}

/// RFC 3339 in UTC with milliseconds, as in the Bacen examples.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A list's `fim` (inclusive) as applied: one stated to a minute's last second with no
/// fraction (`...T23:59:59Z`, as day windows are written) covers that whole second — times
/// are kept to the microsecond, and a Pix at 23:59:59.358 would otherwise be in neither
/// that day's window nor the next day's (`...T00:00:00Z`). Any other `fim` is used as
/// stated: windows that share a bound (`fim=11:00:00Z`, then `inicio=11:00:00Z`) overlap
/// only at that instant.
pub fn fim_applied(stated: DateTime<Utc>) -> DateTime<Utc> {
    if stated.second() == 59 && stated.nanosecond() == 0 {
        stated + chrono::Duration::microseconds(999_999)
    } else {
        stated
    }
}

/// The `fim` a client stated, from the one applied: what `parametros.fim` echoes (sent
/// back, it is applied the same way).
pub fn fim_stated(applied: DateTime<Utc>) -> DateTime<Utc> {
    if applied.second() == 59 && applied.nanosecond() == 999_999_000 {
        applied - chrono::Duration::microseconds(999_999)
    } else {
        applied
    }
}

/// The Bacen `paginacao` block.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paginacao {
    pub pagina_atual: u32,
    pub itens_por_pagina: u32,
    pub quantidade_de_paginas: u64,
    pub quantidade_total_de_itens: u64,
}

impl Paginacao {
    pub fn new(pagina: u32, itens_por_pagina: u32, total: u64) -> Self {
        Paginacao {
            pagina_atual: pagina,
            itens_por_pagina,
            // At least one: an empty list is one empty page (the spec's minimum is 1).
            quantidade_de_paginas: total.div_ceil(u64::from(itens_por_pagina.max(1))).max(1),
            quantidade_total_de_itens: total,
        }
    }
}

/// The `parametros` block of a list: its interval (each bound when the list has one), the
/// filters the request gave (echoed under their query names) and its page.
#[derive(Debug, Serialize)]
pub struct Parametros {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inicio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fim: Option<String>,
    #[serde(flatten)]
    pub filtros: serde_json::Map<String, serde_json::Value>,
    pub paginacao: Paginacao,
}

impl Parametros {
    /// A list over a required interval.
    pub fn new(inicio: DateTime<Utc>, fim: DateTime<Utc>, paginacao: Paginacao) -> Self {
        Self::optional(Some(inicio), Some(fim), paginacao)
    }

    /// A list whose bounds are optional.
    pub fn optional(inicio: Option<DateTime<Utc>>, fim: Option<DateTime<Utc>>, paginacao: Paginacao) -> Self {
        Parametros {
            inicio: inicio.map(timestamp),
            fim: fim.map(|f| timestamp(fim_stated(f))),
            filtros: Default::default(),
            paginacao,
        }
    }

    /// The same with the filter `name` echoed, when the request gave it.
    pub fn filter(mut self, name: &str, value: Option<impl Into<serde_json::Value>>) -> Self {
        if let Some(v) = value {
            self.filtros.insert(name.to_owned(), v.into());
        }
        self
    }

    /// The same with the document filter echoed as `cpf` or `cnpj`.
    pub fn document(self, d: Option<&crate::domain::document::Document>) -> Self {
        use crate::domain::document::Document;
        match d {
            Some(Document::Cpf(c)) => self.filter("cpf", Some(c.as_str())),
            Some(Document::Cnpj(c)) => self.filter("cnpj", Some(c.as_str())),
            None => self,
        }
    }
}

/// `{"solicitacao": ..., "liquidacao": ...}`: when a movement was asked for and settled.
#[derive(Debug, Serialize)]
pub struct Horario {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solicitacao: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liquidacao: Option<String>,
}

impl Horario {
    pub fn new(solicitacao: Option<DateTime<Utc>>, liquidacao: Option<DateTime<Utc>>) -> Self {
        Horario { solicitacao: solicitacao.map(timestamp), liquidacao: liquidacao.map(timestamp) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let t: DateTime<Utc> = "2026-12-03T10:11:12.5-03:00".parse().unwrap();
        assert_eq!(timestamp(t), "2026-12-03T13:11:12.500Z");
    }

    #[test]
    fn a_fim_echoes_as_stated_and_is_applied_the_same_when_sent_back() {
        for stated in ["2026-12-05T23:59:59Z", "2026-12-05T11:00:00Z", "2026-12-05T10:59:59.250Z"] {
            let stated: DateTime<Utc> = stated.parse().unwrap();
            let applied = fim_applied(stated);
            assert_eq!(fim_stated(applied), stated);
            assert_eq!(fim_applied(fim_stated(applied)), applied);
        }
    }

    #[test]
    fn a_full_date_has_a_four_digit_year_and_nothing_else() {
        assert_eq!(full_date("2026-09-05"), chrono::NaiveDate::from_ymd_opt(2026, 9, 5));
        for bad in [
            "-993-06-15",
            "+2026-09-05",
            "12026-09-05",
            "2026-9-05",
            "2026-02-30",
            "2026/09/05",
            "2026-09-5 ",
            "２０２６-09-05",
        ] {
            assert_eq!(full_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn paginacao_counts_whole_pages() {
        let p = serde_json::to_value(Paginacao::new(1, 10, 21)).unwrap();
        assert_eq!(
            p,
            serde_json::json!({"paginaAtual": 1, "itensPorPagina": 10, "quantidadeDePaginas": 3, "quantidadeTotalDeItens": 21})
        );
    }
}

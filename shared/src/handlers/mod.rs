//! Handlers: parse -> authorize -> use case -> response. One module per resource.
//! No SQL or SDK call here: handlers speak to use cases in `app`.

pub mod account;
pub mod cob;
pub mod envio;
pub mod payload;
pub mod pix;
pub mod rail;
pub mod webhooks;

use serde_json::{json, Value};

/// The Bacen `paginacao` block.
pub(crate) fn paginacao(pagina: u32, itens_por_pagina: u32, total: u64) -> Value {
    json!({
        "paginaAtual": pagina,
        "itensPorPagina": itens_por_pagina,
        "quantidadeDePaginas": total.div_ceil(u64::from(itens_por_pagina)),
        "quantidadeTotalDeItens": total,
    })
}

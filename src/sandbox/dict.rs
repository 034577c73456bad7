//! The sandbox DICT: a few known keys with their holders, as a payer's bank shows them
//! (name and masked document). Every other key is unknown.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use tucano_shared::rail::protocol::EntradaDict;

/// (key, key type, holder, masked document, ISPB)
const DIRECTORY: [(&str, &str, &str, &str, &str); 5] = [
    ("fornecedor@example.com", "EMAIL", "Fornecedor Exemplo Ltda", "12.***.***/0001-**", "00000000"),
    ("+5511988887777", "PHONE", "Maria Souza", "***.456.789-**", "60701190"),
    ("52998224725", "CPF", "Joao Pereira", "***.982.247-**", "00360305"),
    ("11222333000181", "CNPJ", "Distribuidora Recife SA", "11.***.***/0001-**", "60746948"),
    ("123e4567-e89b-12d3-a456-426614174000", "EVP", "Ana Lima", "***.111.222-**", "18236120"),
];

pub fn lookup(chave: &str) -> Option<EntradaDict> {
    DIRECTORY.iter().find(|e| e.0 == chave).map(|e| EntradaDict {
        chave: e.0.into(),
        tipo_chave: e.1.into(),
        nome: e.2.into(),
        documento: e.3.into(),
        ispb: e.4.into(),
    })
}

/// `GET /dict/{chave}`.
pub async fn get(Path(chave): Path<String>) -> Result<Json<EntradaDict>, StatusCode> {
    lookup(&chave).map(Json).ok_or(StatusCode::NOT_FOUND)
}

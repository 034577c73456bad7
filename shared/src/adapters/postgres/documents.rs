//! Payer documents (CPF/CNPJ) at rest: encrypted with the `Cipher` under the merchant and
//! purpose, with a keyed blind index for lookups. Plaintext never reaches a table.

use crate::domain::document::{Cnpj, Cpf, Document};
use crate::domain::merchant::MerchantId;
use crate::ports::{Cipher, CipherContext, CipherError, StoreError};
use anyhow::anyhow;

pub(crate) use crate::ports::purpose::{DEVEDOR, PAGADOR};
/// One index space for payer documents, so a CPF is found the same way everywhere.
const INDEX_PURPOSE: &str = "payer-document";

/// The stored form of a document.
pub(crate) struct SealedDocument {
    pub kind: String,
    pub enc: Vec<u8>,
    pub index: Vec<u8>,
}

fn kind_and_value(doc: &Document) -> (&'static str, &str) {
    match doc {
        Document::Cpf(c) => ("cpf", c.as_str()),
        Document::Cnpj(c) => ("cnpj", c.as_str()),
    }
}

pub(crate) fn cipher_error(e: CipherError) -> StoreError {
    match e {
        CipherError::Unavailable(cause) => StoreError::Unavailable(cause),
        CipherError::Rejected => StoreError::Unexpected(anyhow!("a stored document failed to decrypt")),
        CipherError::Unexpected(cause) => StoreError::Unexpected(cause),
    }
}

/// The blind index of a document (for `WHERE ..._doc_index = $1`).
pub(crate) fn index(cipher: &dyn Cipher, doc: &Document) -> Result<Vec<u8>, StoreError> {
    let (kind, value) = kind_and_value(doc);
    Ok(cipher.blind_index(INDEX_PURPOSE, format!("{kind}:{value}").as_bytes()).map_err(cipher_error)?.to_vec())
}

/// The blind index of an optional filter's document.
pub(crate) fn index_of(cipher: &dyn Cipher, doc: Option<&Document>) -> Result<Option<Vec<u8>>, StoreError> {
    doc.map(|d| index(cipher, d)).transpose()
}

pub(crate) async fn seal(
    cipher: &dyn Cipher,
    doc: Option<&Document>,
    merchant: Option<MerchantId>,
    purpose: &'static str,
) -> Result<Option<SealedDocument>, StoreError> {
    let Some(doc) = doc else { return Ok(None) };
    let (kind, value) = kind_and_value(doc);
    let enc = cipher.encrypt(value.as_bytes(), CipherContext { merchant, purpose }).await.map_err(cipher_error)?;
    Ok(Some(SealedDocument { kind: kind.to_owned(), enc, index: index(cipher, doc)? }))
}

pub(crate) async fn open(
    cipher: &dyn Cipher,
    kind: Option<&str>,
    enc: Option<&[u8]>,
    merchant: Option<MerchantId>,
    purpose: &'static str,
) -> Result<Option<Document>, StoreError> {
    let (Some(kind), Some(enc)) = (kind, enc) else { return Ok(None) };
    let plain = cipher.decrypt(enc, CipherContext { merchant, purpose }).await.map_err(cipher_error)?;
    let value =
        String::from_utf8(plain).map_err(|_| StoreError::Unexpected(anyhow!("a stored document is not text")))?;
    let doc = match kind {
        "cpf" => Cpf::parse(&value).map(Document::Cpf),
        "cnpj" => Cnpj::parse(&value).map(Document::Cnpj),
        _ => return Err(StoreError::Unexpected(anyhow!("unknown stored document kind"))),
    };
    doc.map(Some).map_err(|_| StoreError::Unexpected(anyhow!("a stored document is invalid")))
}

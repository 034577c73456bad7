//! Charges with a due date (`cobv`) on Postgres: rows of `charges` with kind `cobv` and
//! their price-term columns (migration 20261203000003). The devedor's document and
//! contact are sealed like every payer document.

use super::charges::is_location_taken;
use super::documents::{self, DEVEDOR};
use super::store_error;
use crate::domain::charge::{ChargeStatus, Devedor, InfoAdicional, Location, Revision};
use crate::domain::cobv::{
    Abatimento, Contato, Desconto, DueCharge, DuePatch, DueRevisionError, DueTerms, Juros, Multa, PriceTerms,
};
use crate::domain::ids::{LocationToken, Txid};
use crate::domain::merchant::MerchantId;
use crate::domain::money::Amount;
use crate::domain::pix_key::PixKey;
use crate::ports::{
    ChargeLocation, ChargeQuery, Cipher, CipherContext, CreateOutcome, DueChargeStore, NewDueCharge, Page,
    ReviseOutcome, StoreError,
};
use anyhow::{anyhow, Context};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use std::sync::Arc;

pub struct PgDueChargeStore {
    pool: PgPool,
    cipher: Arc<dyn Cipher>,
}

impl PgDueChargeStore {
    pub fn new(pool: PgPool, cipher: Arc<dyn Cipher>) -> Self {
        Self { pool, cipher }
    }
}

/// A cobv as the queries below return it (current state or one revision).
struct DueRow {
    txid: String,
    revisao: i32,
    status: String,
    created_at: DateTime<Utc>,
    merchant_id: uuid::Uuid,
    devedor_doc_kind: Option<String>,
    devedor_doc_enc: Option<Vec<u8>>,
    devedor_nome: Option<String>,
    devedor_contato_enc: Option<Vec<u8>>,
    valor_original: i64,
    chave: String,
    solicitacao_pagador: Option<String>,
    info_adicionais: serde_json::Value,
    vencimento: NaiveDate,
    validade_apos_vencimento: i32,
    multa_modalidade: Option<i16>,
    multa_valor: Option<i64>,
    juros_modalidade: Option<i16>,
    juros_valor: Option<i64>,
    abatimento_modalidade: Option<i16>,
    abatimento_valor: Option<i64>,
    desconto_modalidade: Option<i16>,
    desconto_valor: Option<i64>,
    desconto_datas: Option<serde_json::Value>,
    loc_id: Option<i64>,
    location: Option<String>,
    loc_created_at: Option<DateTime<Utc>>,
    pix_copia_e_cola: Option<String>,
}

/// A discount date as stored: `{"data": "YYYY-MM-DD", "valor": hundredths}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredTier {
    data: NaiveDate,
    valor: i64,
}

/// The columns a cobv-changing write stores, from domain terms (personal data sealed).
struct DueColumns {
    devedor_doc_kind: String,
    devedor_doc_enc: Vec<u8>,
    devedor_doc_index: Vec<u8>,
    devedor_nome: String,
    devedor_contato_enc: Option<Vec<u8>>,
    valor_original: i64,
    chave: String,
    solicitacao_pagador: Option<String>,
    info_adicionais: serde_json::Value,
    vencimento: NaiveDate,
    validade_apos_vencimento: i32,
    multa: (Option<i16>, Option<i64>),
    juros: (Option<i16>, Option<i64>),
    abatimento: (Option<i16>, Option<i64>),
    desconto_modalidade: Option<i16>,
    desconto_valor: Option<i64>,
    desconto_datas: Option<serde_json::Value>,
}

impl DueColumns {
    async fn of(t: &DueTerms, merchant: MerchantId, cipher: &dyn Cipher) -> Result<Self, StoreError> {
        let sealed = documents::seal(cipher, Some(&t.devedor.documento), Some(merchant), DEVEDOR)
            .await?
            .ok_or_else(|| StoreError::Unexpected(anyhow!("a devedor document sealed to nothing")))?;
        let contato = if t.contato.is_empty() {
            None
        } else {
            let plain = serde_json::to_vec(&t.contato).map_err(|e| StoreError::Unexpected(e.into()))?;
            let context = CipherContext { merchant: Some(merchant), purpose: DEVEDOR };
            Some(cipher.encrypt(&plain, context).await.map_err(documents::cipher_error)?)
        };
        let p = &t.price;
        let pair = |parts: Option<(i16, i64)>| (parts.map(|x| x.0), parts.map(|x| x.1));
        let tiers = p.desconto.as_ref().and_then(Desconto::tiers).map(|tiers| {
            let stored: Vec<_> = tiers.iter().map(|(data, valor)| StoredTier { data: *data, valor: *valor }).collect();
            serde_json::to_value(stored).unwrap_or_else(|_| serde_json::json!([]))
        });
        Ok(DueColumns {
            devedor_doc_kind: sealed.kind,
            devedor_doc_enc: sealed.enc,
            devedor_doc_index: sealed.index,
            devedor_nome: t.devedor.nome.clone(),
            devedor_contato_enc: contato,
            valor_original: p.original.centavos(),
            chave: t.chave.as_str().to_owned(),
            solicitacao_pagador: t.solicitacao_pagador.clone(),
            info_adicionais: serde_json::to_value(&t.info_adicionais).unwrap_or_else(|_| serde_json::json!([])),
            vencimento: p.vencimento,
            validade_apos_vencimento: i32::try_from(p.validade_apos_vencimento).unwrap_or(i32::MAX),
            multa: pair(p.multa.map(Multa::parts)),
            juros: pair(p.juros.map(|j| (j.modalidade() as i16, j.value()))),
            abatimento: pair(p.abatimento.map(Abatimento::parts)),
            desconto_modalidade: p.desconto.as_ref().map(Desconto::modalidade),
            desconto_valor: p.desconto.as_ref().and_then(Desconto::per_day),
            desconto_datas: tiers,
        })
    }
}

impl DueRow {
    fn price(&self) -> anyhow::Result<PriceTerms> {
        let both = |m: Option<i16>, v: Option<i64>| m.zip(v);
        let tiers = match &self.desconto_datas {
            None => None,
            Some(v) => Some(
                serde_json::from_value::<Vec<StoredTier>>(v.clone())
                    .context("stored discount dates")?
                    .into_iter()
                    .map(|t| (t.data, t.valor))
                    .collect(),
            ),
        };
        Ok(PriceTerms {
            original: Amount::from_centavos(self.valor_original).context("stored valor")?,
            vencimento: self.vencimento,
            validade_apos_vencimento: u32::try_from(self.validade_apos_vencimento).context("stored validade")?,
            multa: both(self.multa_modalidade, self.multa_valor)
                .map(|(m, v)| Multa::from_parts(m, v).ok_or_else(|| anyhow!("stored multa")))
                .transpose()?,
            juros: both(self.juros_modalidade, self.juros_valor)
                .map(|(m, v)| Juros::from_modalidade(i64::from(m), v).ok_or_else(|| anyhow!("stored juros")))
                .transpose()?,
            abatimento: both(self.abatimento_modalidade, self.abatimento_valor)
                .map(|(m, v)| Abatimento::from_parts(m, v).ok_or_else(|| anyhow!("stored abatimento")))
                .transpose()?,
            desconto: self
                .desconto_modalidade
                .map(|m| Desconto::from_parts(m, self.desconto_valor, tiers).ok_or_else(|| anyhow!("stored desconto")))
                .transpose()?,
        })
    }

    async fn into_charge(self, cipher: &dyn Cipher) -> Result<DueCharge, StoreError> {
        let merchant = Some(MerchantId(self.merchant_id));
        let documento = documents::open(
            cipher,
            self.devedor_doc_kind.as_deref(),
            self.devedor_doc_enc.as_deref(),
            merchant,
            DEVEDOR,
        )
        .await?;
        let contato = match &self.devedor_contato_enc {
            None => Contato::default(),
            Some(enc) => {
                let context = CipherContext { merchant, purpose: DEVEDOR };
                let plain = cipher.decrypt(enc, context).await.map_err(documents::cipher_error)?;
                serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Unexpected(anyhow!(e).context("stored contact")))?
            }
        };
        let convert = || -> anyhow::Result<DueCharge> {
            let devedor = match (documento, self.devedor_nome.clone()) {
                (Some(documento), Some(nome)) => Devedor { documento, nome },
                _ => return Err(anyhow!("a stored cobv has no devedor")),
            };
            let loc = match (self.loc_id, self.location.clone(), self.loc_created_at) {
                (Some(id), Some(location), Some(criacao)) => Some(Location { id, location, criacao }),
                _ => None,
            };
            Ok(DueCharge {
                txid: Txid::parse(&self.txid).context("stored txid")?,
                revisao: self.revisao,
                status: ChargeStatus::parse(&self.status).ok_or_else(|| anyhow!("stored charge status"))?,
                criacao: self.created_at,
                terms: DueTerms {
                    price: self.price()?,
                    devedor,
                    contato,
                    chave: PixKey::parse(&self.chave).context("stored chave")?,
                    solicitacao_pagador: self.solicitacao_pagador.clone(),
                    info_adicionais: serde_json::from_value::<Vec<InfoAdicional>>(self.info_adicionais.clone())
                        .context("stored infoAdicionais")?,
                },
                loc,
                pix_copia_e_cola: self.pix_copia_e_cola.clone(),
            })
        };
        convert().map_err(StoreError::Unexpected)
    }
}

/// Builds a `DueRow` from an anonymous record that has (at least) its columns.
macro_rules! due_row {
    ($r:ident) => {
        DueRow {
            txid: $r.txid,
            revisao: $r.revisao,
            status: $r.status,
            created_at: $r.created_at,
            merchant_id: $r.merchant_id,
            devedor_doc_kind: $r.devedor_doc_kind,
            devedor_doc_enc: $r.devedor_doc_enc,
            devedor_nome: $r.devedor_nome,
            devedor_contato_enc: $r.devedor_contato_enc,
            valor_original: $r.valor_original,
            chave: $r.chave,
            solicitacao_pagador: $r.solicitacao_pagador,
            info_adicionais: $r.info_adicionais,
            vencimento: $r.vencimento,
            validade_apos_vencimento: $r.validade_apos_vencimento,
            multa_modalidade: $r.multa_modalidade,
            multa_valor: $r.multa_valor,
            juros_modalidade: $r.juros_modalidade,
            juros_valor: $r.juros_valor,
            abatimento_modalidade: $r.abatimento_modalidade,
            abatimento_valor: $r.abatimento_valor,
            desconto_modalidade: $r.desconto_modalidade,
            desconto_valor: $r.desconto_valor,
            desconto_datas: $r.desconto_datas,
            loc_id: $r.loc_id,
            location: $r.location,
            loc_created_at: $r.loc_created_at,
            pix_copia_e_cola: $r.pix_copia_e_cola,
        }
    };
}

/// The current state of a cobv (locked when `for_update`), its request fingerprint and its
/// row id.
pub(super) async fn select_current(
    conn: &mut sqlx::PgConnection,
    cipher: &dyn Cipher,
    merchant: MerchantId,
    txid: &Txid,
    for_update: bool,
) -> Result<Option<(DueCharge, Vec<u8>, i64)>, StoreError> {
    // Two spellings of one query: sqlx checks each at compile time.
    macro_rules! select_current {
        ($lock:literal) => {
            sqlx::query!(
                r#"SELECT c.txid, c.revisao, c.status, c.created_at, c.merchant_id, c.devedor_doc_kind, c.devedor_doc_enc,
                          c.devedor_nome, c.devedor_contato_enc, c.valor_original, c.chave, c.solicitacao_pagador,
                          c.info_adicionais, c.vencimento AS "vencimento!", c.validade_apos_vencimento AS "validade_apos_vencimento!",
                          c.multa_modalidade, c.multa_valor, c.juros_modalidade, c.juros_valor, c.abatimento_modalidade,
                          c.abatimento_valor, c.desconto_modalidade, c.desconto_valor, c.desconto_datas,
                          c.loc_id, l.location AS "location?", l.created_at AS "loc_created_at?",
                          l.pix_copia_e_cola AS "pix_copia_e_cola?", c.request_hash, c.id
                     FROM charges c LEFT JOIN locations l ON l.id = c.loc_id
                    WHERE c.merchant_id = $1 AND c.txid = $2 AND c.kind = 'cobv' "# + $lock,
                merchant.0,
                txid.as_str()
            )
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?
            .map(|r| {
                let (hash, id) = (r.request_hash.clone(), r.id);
                (due_row!(r), hash, id)
            })
        };
    }
    let found = if for_update { select_current!("FOR UPDATE OF c") } else { select_current!("") };
    match found {
        Some((row, hash, id)) => Ok(Some((row.into_charge(cipher).await?, hash, id))),
        None => Ok(None),
    }
}

/// The location a new cobv is served at: made with it, or the merchant's free `cobv`
/// location `id` (locked, then checked in a statement of its own so that it sees a charge
/// another transaction linked meanwhile). `None`: that location cannot serve it.
async fn claim_location(
    tx: &mut sqlx::PgConnection,
    merchant: MerchantId,
    location: &ChargeLocation,
) -> Result<Option<(i64, String, DateTime<Utc>, String)>, StoreError> {
    match location {
        ChargeLocation::New(loc) => {
            let row = sqlx::query!(
                r#"INSERT INTO locations (merchant_id, token, location, tipo_cob, pix_copia_e_cola)
                   VALUES ($1, $2, $3, 'cobv', $4) RETURNING id, created_at"#,
                merchant.0,
                loc.token.as_str(),
                loc.location_url,
                loc.pix_copia_e_cola,
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
            Ok(Some((row.id, loc.location_url.clone(), row.created_at, loc.pix_copia_e_cola.clone())))
        }
        ChargeLocation::Existing(id) => {
            let row = sqlx::query!(
                r#"SELECT id, location, created_at, pix_copia_e_cola FROM locations
                    WHERE id = $1 AND merchant_id = $2 AND tipo_cob = 'cobv' FOR UPDATE"#,
                id,
                merchant.0
            )
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
            let Some(row) = row else { return Ok(None) };
            let taken =
                sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM charges WHERE loc_id = $1) AS "taken!""#, row.id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
            Ok((!taken).then_some((row.id, row.location, row.created_at, row.pix_copia_e_cola)))
        }
    }
}

#[async_trait]
impl DueChargeStore for PgDueChargeStore {
    async fn create(
        &self,
        merchant: MerchantId,
        new: NewDueCharge<'_>,
    ) -> Result<CreateOutcome<DueCharge>, StoreError> {
        let cols = DueColumns::of(new.terms, merchant, self.cipher.as_ref()).await?;
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let Some((loc_id, location, loc_created_at, code)) = claim_location(&mut tx, merchant, &new.location).await?
        else {
            drop(tx);
            return self.conflict(merchant, &new, true).await;
        };
        let inserted = sqlx::query_scalar!(
            r#"INSERT INTO charges (merchant_id, txid, kind, devedor_doc_kind, devedor_doc_enc, devedor_doc_index,
                                    devedor_nome, devedor_contato_enc, valor_original, chave, solicitacao_pagador,
                                    info_adicionais, vencimento, validade_apos_vencimento, multa_modalidade, multa_valor,
                                    juros_modalidade, juros_valor, abatimento_modalidade, abatimento_valor,
                                    desconto_modalidade, desconto_valor, desconto_datas, loc_id, request_hash, lote_id)
               VALUES ($1, $2, 'cobv', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                       $20, $21, $22, $23, $24, $25)
               ON CONFLICT (merchant_id, txid) DO NOTHING
               RETURNING created_at"#,
            merchant.0,
            new.txid.as_str(),
            cols.devedor_doc_kind,
            cols.devedor_doc_enc,
            cols.devedor_doc_index,
            cols.devedor_nome,
            cols.devedor_contato_enc,
            cols.valor_original,
            cols.chave,
            cols.solicitacao_pagador,
            cols.info_adicionais,
            cols.vencimento,
            cols.validade_apos_vencimento,
            cols.multa.0,
            cols.multa.1,
            cols.juros.0,
            cols.juros.1,
            cols.abatimento.0,
            cols.abatimento.1,
            cols.desconto_modalidade,
            cols.desconto_valor,
            cols.desconto_datas,
            loc_id,
            &new.fingerprint[..],
            new.lote,
        )
        .fetch_optional(&mut *tx)
        .await;
        let created_at = match inserted {
            Ok(Some(at)) => at,
            // The txid is taken (the fresh location goes with the rollback).
            Ok(None) => {
                drop(tx);
                return self.conflict(merchant, &new, false).await;
            }
            Err(e) if is_location_taken(&e) => return Ok(CreateOutcome::LocationUnavailable),
            Err(e) if super::is_txid_taken_elsewhere(&e) => return Ok(CreateOutcome::TxidTaken),
            Err(e) => return Err(store_error(e)),
        };
        tx.commit().await.map_err(store_error)?;
        Ok(CreateOutcome::Created(DueCharge {
            txid: new.txid.clone(),
            revisao: 0,
            status: ChargeStatus::Ativa,
            criacao: created_at,
            terms: new.terms.clone(),
            loc: Some(Location { id: loc_id, location, criacao: loc_created_at }),
            pix_copia_e_cola: Some(code),
        }))
    }

    async fn made_by_batch(&self, merchant: MerchantId, txid: &Txid, lote: i64) -> Result<bool, StoreError> {
        let made = sqlx::query_scalar!(
            r#"SELECT made_by_batch(c.lote_id, i) AS "made!" FROM charges c
                 JOIN lote_cobv_items i ON i.merchant_id = c.merchant_id AND i.txid = c.txid AND i.lote_id = $3
                WHERE c.merchant_id = $1 AND c.txid = $2 AND c.kind = 'cobv'"#,
            merchant.0,
            txid.as_str(),
            lote
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(made.unwrap_or(false))
    }

    async fn find(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        revisao: Option<i32>,
    ) -> Result<Option<DueCharge>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let Some(revisao) = revisao else {
            return Ok(select_current(&mut conn, self.cipher.as_ref(), merchant, txid, false)
                .await?
                .map(|(c, _, _)| c));
        };
        let row = sqlx::query!(
            r#"SELECT c.txid, r.revisao, r.status, c.created_at, c.merchant_id, r.devedor_doc_kind, r.devedor_doc_enc,
                      r.devedor_nome, r.devedor_contato_enc, r.valor_original, r.chave, r.solicitacao_pagador,
                      r.info_adicionais, r.vencimento AS "vencimento!", r.validade_apos_vencimento AS "validade_apos_vencimento!",
                      r.multa_modalidade, r.multa_valor, r.juros_modalidade, r.juros_valor, r.abatimento_modalidade,
                      r.abatimento_valor, r.desconto_modalidade, r.desconto_valor, r.desconto_datas,
                      c.loc_id, l.location AS "location?", l.created_at AS "loc_created_at?",
                      l.pix_copia_e_cola AS "pix_copia_e_cola?"
                 FROM charge_revisions r
                 JOIN charges c ON c.id = r.charge_id
                 LEFT JOIN locations l ON l.id = c.loc_id
                WHERE c.merchant_id = $1 AND c.txid = $2 AND c.kind = 'cobv' AND r.revisao = $3"#,
            merchant.0,
            txid.as_str(),
            revisao
        )
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
        match row {
            Some(r) => Ok(Some(due_row!(r).into_charge(self.cipher.as_ref()).await?)),
            None => Ok(None),
        }
    }

    async fn created_by(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        fingerprint: [u8; 32],
    ) -> Result<Option<DueCharge>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let found = select_current(&mut conn, self.cipher.as_ref(), merchant, txid, false).await?;
        Ok(found.and_then(|(charge, hash, _)| (hash == fingerprint && charge.revisao == 0).then_some(charge)))
    }

    async fn revise(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        patch: &DuePatch,
        today: NaiveDate,
    ) -> Result<ReviseOutcome<DueCharge, DueRevisionError>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let Some((charge, _, _)) = select_current(&mut tx, self.cipher.as_ref(), merchant, txid, true).await? else {
            return Ok(ReviseOutcome::NotFound);
        };
        let revision = match charge.revise_checked(patch, today) {
            Err(e) => return Ok(ReviseOutcome::Rejected(e)),
            Ok(revision) => revision,
        };
        let charge = match charge.relink(patch) {
            None => charge,
            Some(id) => match super::charges::relink_to(&mut tx, merchant, txid, id, "cobv").await? {
                Some((loc, code)) => DueCharge { loc: Some(loc), pix_copia_e_cola: Some(code), ..charge },
                None => return Ok(ReviseOutcome::LocationUnavailable),
            },
        };
        let (terms, status, revisao) = match revision {
            Revision::Unchanged => {
                tx.commit().await.map_err(store_error)?;
                return Ok(ReviseOutcome::Revised(charge));
            }
            Revision::Changed { terms, status, revisao } => (terms, status, revisao),
        };
        let cols = DueColumns::of(&terms, merchant, self.cipher.as_ref()).await?;
        sqlx::query!(
            r#"UPDATE charges
                  SET revisao = $3, status = $4, devedor_doc_kind = $5, devedor_doc_enc = $6, devedor_doc_index = $7,
                      devedor_nome = $8, devedor_contato_enc = $9, valor_original = $10, chave = $11,
                      solicitacao_pagador = $12, info_adicionais = $13, vencimento = $14, validade_apos_vencimento = $15,
                      multa_modalidade = $16, multa_valor = $17, juros_modalidade = $18, juros_valor = $19,
                      abatimento_modalidade = $20, abatimento_valor = $21, desconto_modalidade = $22,
                      desconto_valor = $23, desconto_datas = $24
                WHERE merchant_id = $1 AND txid = $2 AND kind = 'cobv'"#,
            merchant.0,
            txid.as_str(),
            revisao,
            status.as_str(),
            cols.devedor_doc_kind,
            cols.devedor_doc_enc,
            cols.devedor_doc_index,
            cols.devedor_nome,
            cols.devedor_contato_enc,
            cols.valor_original,
            cols.chave,
            cols.solicitacao_pagador,
            cols.info_adicionais,
            cols.vencimento,
            cols.validade_apos_vencimento,
            cols.multa.0,
            cols.multa.1,
            cols.juros.0,
            cols.juros.1,
            cols.abatimento.0,
            cols.abatimento.1,
            cols.desconto_modalidade,
            cols.desconto_valor,
            cols.desconto_datas,
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(ReviseOutcome::Revised(DueCharge { revisao, status, terms, ..charge }))
    }

    async fn list(&self, merchant: MerchantId, q: &ChargeQuery) -> Result<Page<DueCharge>, StoreError> {
        let doc_index = documents::index_of(self.cipher.as_ref(), q.devedor.as_ref())?;
        let status = q.status.map(ChargeStatus::as_str);
        let limit = i64::from(q.itens_por_pagina);
        let offset = i64::from(q.pagina) * limit;
        let rows = sqlx::query!(
            r#"SELECT c.txid, c.revisao, c.status, c.created_at, c.merchant_id, c.devedor_doc_kind, c.devedor_doc_enc,
                      c.devedor_nome, c.devedor_contato_enc, c.valor_original, c.chave, c.solicitacao_pagador,
                      c.info_adicionais, c.vencimento AS "vencimento!", c.validade_apos_vencimento AS "validade_apos_vencimento!",
                      c.multa_modalidade, c.multa_valor, c.juros_modalidade, c.juros_valor, c.abatimento_modalidade,
                      c.abatimento_valor, c.desconto_modalidade, c.desconto_valor, c.desconto_datas,
                      c.loc_id, l.location AS "location?", l.created_at AS "loc_created_at?",
                      l.pix_copia_e_cola AS "pix_copia_e_cola?"
                 FROM charges c LEFT JOIN locations l ON l.id = c.loc_id
                WHERE c.merchant_id = $1 AND c.kind = 'cobv' AND c.created_at >= $2 AND c.created_at <= $3
                  AND ($4::bytea IS NULL OR c.devedor_doc_index = $4)
                  AND ($5::text IS NULL OR c.status = $5)
                  AND ($6::boolean IS NULL OR (c.loc_id IS NOT NULL) = $6)
                  AND ($9::bigint IS NULL OR EXISTS (SELECT 1 FROM lote_cobv_items i
                        WHERE i.merchant_id = c.merchant_id AND i.lote_id = $9 AND i.txid = c.txid
                          AND made_by_batch(c.lote_id, i)))
                ORDER BY c.created_at, c.id
                LIMIT $7 OFFSET $8"#,
            merchant.0,
            q.inicio,
            q.fim,
            doc_index,
            status,
            q.location_presente,
            limit,
            offset,
            q.lote
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let total = if let Some(total) = super::total_from_page(rows.len(), limit, offset) {
            total
        } else {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM charges c
                    WHERE c.merchant_id = $1 AND c.kind = 'cobv' AND c.created_at >= $2 AND c.created_at <= $3
                      AND ($4::bytea IS NULL OR c.devedor_doc_index = $4)
                      AND ($5::text IS NULL OR c.status = $5)
                      AND ($6::boolean IS NULL OR (c.loc_id IS NOT NULL) = $6)
                      AND ($7::bigint IS NULL OR EXISTS (SELECT 1 FROM lote_cobv_items i
                            WHERE i.merchant_id = c.merchant_id AND i.lote_id = $7 AND i.txid = c.txid
                              AND made_by_batch(c.lote_id, i)))"#,
                merchant.0,
                q.inicio,
                q.fim,
                doc_index,
                status,
                q.location_presente,
                q.lote,
            )
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?
        };
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            items.push(due_row!(r).into_charge(self.cipher.as_ref()).await?);
        }
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    async fn find_by_location(&self, token: &LocationToken) -> Result<Option<(DueCharge, MerchantId)>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT c.txid, c.revisao, c.status, c.created_at, c.merchant_id, c.devedor_doc_kind, c.devedor_doc_enc,
                      c.devedor_nome, c.devedor_contato_enc, c.valor_original, c.chave, c.solicitacao_pagador,
                      c.info_adicionais, c.vencimento AS "vencimento!", c.validade_apos_vencimento AS "validade_apos_vencimento!",
                      c.multa_modalidade, c.multa_valor, c.juros_modalidade, c.juros_valor, c.abatimento_modalidade,
                      c.abatimento_valor, c.desconto_modalidade, c.desconto_valor, c.desconto_datas,
                      c.loc_id, l.location AS "location?", l.created_at AS "loc_created_at?",
                      l.pix_copia_e_cola AS "pix_copia_e_cola?"
                 FROM locations l JOIN charges c ON c.loc_id = l.id
                WHERE l.token = $1 AND c.kind = 'cobv'"#,
            token.as_str()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        match row {
            Some(r) => {
                let merchant = MerchantId(r.merchant_id);
                Ok(Some((due_row!(r).into_charge(self.cipher.as_ref()).await?, merchant)))
            }
            None => Ok(None),
        }
    }
}

impl PgDueChargeStore {
    /// Nothing was stored: an existing cobv with this txid (a replay or a clash), a charge
    /// of the other kind with it, or (`location_refused`) a location that cannot serve it.
    async fn conflict(
        &self,
        merchant: MerchantId,
        new: &NewDueCharge<'_>,
        location_refused: bool,
    ) -> Result<CreateOutcome<DueCharge>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        if let Some((charge, hash, _)) =
            select_current(&mut conn, self.cipher.as_ref(), merchant, new.txid, false).await?
        {
            return Ok(CreateOutcome::Exists { charge, same_request: hash == new.fingerprint });
        }
        if location_refused {
            return Ok(CreateOutcome::LocationUnavailable);
        }
        Ok(CreateOutcome::TxidTaken)
    }
}

//! Immediate charges (`cob`) and their locations on Postgres. Row conversions live here.

use super::documents::{self, DEVEDOR};
use super::store_error;
use crate::domain::charge::{
    Charge, ChargePatch, ChargeStatus, ChargeTerms, Devedor, InfoAdicional, Location, Revision,
};
use crate::domain::ids::{LocationToken, Txid};
use crate::domain::merchant::MerchantId;
use crate::domain::money::Amount;
use crate::domain::pix_key::PixKey;
use crate::ports::{
    ChargeLocation, ChargeQuery, ChargeStore, Cipher, CreateOutcome, NewCharge, NewLocation, Page, ReviseOutcome,
    StoreError,
};
use anyhow::{anyhow, Context};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::sync::Arc;

pub struct PgChargeStore {
    pool: PgPool,
    cipher: Arc<dyn Cipher>,
}

impl PgChargeStore {
    pub fn new(pool: PgPool, cipher: Arc<dyn Cipher>) -> Self {
        Self { pool, cipher }
    }
}

/// A charge as the queries below return it (current state or one revision).
struct ChargeRow {
    txid: String,
    revisao: i32,
    status: String,
    created_at: DateTime<Utc>,
    expiracao: i32,
    merchant_id: uuid::Uuid,
    devedor_doc_kind: Option<String>,
    devedor_doc_enc: Option<Vec<u8>>,
    devedor_nome: Option<String>,
    valor_original: i64,
    modalidade_alteracao: i16,
    chave: String,
    solicitacao_pagador: Option<String>,
    info_adicionais: serde_json::Value,
    loc_id: Option<i64>,
    location: Option<String>,
    loc_created_at: Option<DateTime<Utc>>,
    pix_copia_e_cola: Option<String>,
}

/// Builds a `ChargeRow` from an anonymous record that has (at least) its columns.
macro_rules! charge_row {
    ($r:ident) => {
        ChargeRow {
            txid: $r.txid,
            revisao: $r.revisao,
            status: $r.status,
            created_at: $r.created_at,
            expiracao: $r.expiracao,
            merchant_id: $r.merchant_id,
            devedor_doc_kind: $r.devedor_doc_kind,
            devedor_doc_enc: $r.devedor_doc_enc,
            devedor_nome: $r.devedor_nome,
            valor_original: $r.valor_original,
            modalidade_alteracao: $r.modalidade_alteracao,
            chave: $r.chave,
            solicitacao_pagador: $r.solicitacao_pagador,
            info_adicionais: $r.info_adicionais,
            loc_id: $r.loc_id,
            location: $r.location,
            loc_created_at: $r.loc_created_at,
            pix_copia_e_cola: $r.pix_copia_e_cola,
        }
    };
}

/// The columns a charge-changing write stores, from domain terms (the document sealed).
struct TermColumns {
    expiracao: i32,
    devedor_doc_kind: Option<String>,
    devedor_doc_enc: Option<Vec<u8>>,
    devedor_doc_index: Option<Vec<u8>>,
    devedor_nome: Option<String>,
    valor_original: i64,
    modalidade_alteracao: i16,
    chave: String,
    solicitacao_pagador: Option<String>,
    info_adicionais: serde_json::Value,
}

impl TermColumns {
    async fn of(t: &ChargeTerms, merchant: MerchantId, cipher: &dyn Cipher) -> Result<Self, StoreError> {
        let sealed = documents::seal(cipher, t.devedor.as_ref().map(|d| &d.documento), Some(merchant), DEVEDOR).await?;
        let (kind, enc, index) = match sealed {
            Some(d) => (Some(d.kind), Some(d.enc), Some(d.index)),
            None => (None, None, None),
        };
        Ok(TermColumns {
            expiracao: t.expiracao,
            devedor_doc_kind: kind,
            devedor_doc_enc: enc,
            devedor_doc_index: index,
            devedor_nome: t.devedor.as_ref().map(|d| d.nome.clone()),
            valor_original: t.valor.centavos(),
            modalidade_alteracao: i16::from(t.valor_alteravel),
            chave: t.chave.as_str().to_owned(),
            solicitacao_pagador: t.solicitacao_pagador.clone(),
            info_adicionais: serde_json::to_value(&t.info_adicionais).unwrap_or_else(|_| serde_json::json!([])),
        })
    }
}

impl ChargeRow {
    /// The domain charge, given the row's document already decrypted.
    fn into_charge(self, documento: Option<crate::domain::document::Document>) -> anyhow::Result<Charge> {
        let r = self;
        let devedor = match (documento, r.devedor_nome) {
            (Some(documento), Some(nome)) => Some(Devedor { documento, nome }),
            (None, None) => None,
            _ => return Err(anyhow!("stored devedor is incomplete")),
        };
        let loc = match (r.loc_id, r.location, r.loc_created_at) {
            (Some(id), Some(location), Some(criacao)) => Some(Location { id, location, criacao }),
            _ => None,
        };
        Ok(Charge {
            txid: Txid::parse(&r.txid).context("stored txid")?,
            revisao: r.revisao,
            status: ChargeStatus::parse(&r.status).ok_or_else(|| anyhow!("stored charge status"))?,
            criacao: r.created_at,
            terms: ChargeTerms {
                expiracao: r.expiracao,
                devedor,
                valor: Amount::from_centavos(r.valor_original).context("stored valor")?,
                valor_alteravel: r.modalidade_alteracao == 1,
                chave: PixKey::parse(&r.chave).context("stored chave")?,
                solicitacao_pagador: r.solicitacao_pagador,
                info_adicionais: serde_json::from_value::<Vec<InfoAdicional>>(r.info_adicionais)
                    .context("stored infoAdicionais")?,
            },
            loc,
            pix_copia_e_cola: r.pix_copia_e_cola,
        })
    }
}

async fn to_charge(row: ChargeRow, cipher: &dyn Cipher) -> Result<Charge, StoreError> {
    let merchant = Some(MerchantId(row.merchant_id));
    let documento =
        documents::open(cipher, row.devedor_doc_kind.as_deref(), row.devedor_doc_enc.as_deref(), merchant, DEVEDOR)
            .await?;
    row.into_charge(documento).map_err(StoreError::Unexpected)
}

/// The current state of a charge (locked when `for_update`), its request fingerprint and
/// its row id.
pub(crate) async fn select_current(
    conn: &mut sqlx::PgConnection,
    cipher: &dyn Cipher,
    merchant: MerchantId,
    txid: &Txid,
    for_update: bool,
) -> Result<Option<(Charge, Vec<u8>, i64)>, StoreError> {
    // Two spellings of one query: sqlx checks each at compile time.
    macro_rules! select_current {
        ($lock:literal) => {
            sqlx::query!(
                r#"SELECT c.id, c.txid, c.revisao, c.status, c.created_at, c.expiracao AS "expiracao!", c.merchant_id, c.devedor_doc_kind, c.devedor_doc_enc,
                          c.devedor_nome, c.valor_original, c.modalidade_alteracao, c.chave, c.solicitacao_pagador,
                          c.info_adicionais, c.loc_id, l.location AS "location?", l.created_at AS "loc_created_at?",
                          l.pix_copia_e_cola AS "pix_copia_e_cola?", c.request_hash
                     FROM charges c LEFT JOIN locations l ON l.id = c.loc_id
                    WHERE c.merchant_id = $1 AND c.txid = $2 AND c.kind = 'cob' "# + $lock,
                merchant.0,
                txid.as_str()
            )
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?
            .map(|r| {
                let (hash, id) = (r.request_hash.clone(), r.id);
                (charge_row!(r), hash, id)
            })
        };
    }
    let found = if for_update { select_current!("FOR UPDATE OF c") } else { select_current!("") };
    match found {
        Some((row, hash, id)) => Ok(Some((to_charge(row, cipher).await?, hash, id))),
        None => Ok(None),
    }
}

/// The location a charge was stored at, and when the charge was.
pub(super) struct StoredAt {
    pub id: i64,
    pub location: String,
    pub created_at: DateTime<Utc>,
    pub pix_copia_e_cola: String,
    pub charge_created_at: DateTime<Utc>,
}

/// The location and the charge, inserted together in one round trip. `None`: the txid is
/// taken (no charge inserted; the caller removes the fresh location).
async fn insert_with_new_location(
    pool: &PgPool,
    merchant: MerchantId,
    new: &NewCharge<'_>,
    loc: &NewLocation,
    cols: &TermColumns,
) -> Result<Option<StoredAt>, sqlx::Error> {
    let row = sqlx::query!(
        r#"WITH loc AS (
               INSERT INTO locations (merchant_id, token, location, tipo_cob, pix_copia_e_cola)
               VALUES ($1, $2, $3, $4, $5)
               RETURNING id, created_at
           )
           INSERT INTO charges (merchant_id, txid, expiracao, devedor_doc_kind, devedor_doc_enc, devedor_doc_index,
                                devedor_nome, valor_original, modalidade_alteracao, chave, solicitacao_pagador,
                                info_adicionais, loc_id, request_hash)
           SELECT $1, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, loc.id, $17 FROM loc
           ON CONFLICT (merchant_id, txid) DO NOTHING
           RETURNING created_at, loc_id AS "loc_id!", (SELECT created_at FROM loc) AS "loc_created_at!""#,
        merchant.0,
        loc.token.as_str(),
        loc.location_url,
        loc.tipo_cob.as_str(),
        loc.pix_copia_e_cola,
        new.txid.as_str(),
        cols.expiracao,
        cols.devedor_doc_kind,
        cols.devedor_doc_enc,
        cols.devedor_doc_index,
        cols.devedor_nome,
        cols.valor_original,
        cols.modalidade_alteracao,
        cols.chave,
        cols.solicitacao_pagador,
        cols.info_adicionais,
        &new.fingerprint[..],
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| StoredAt {
        id: r.loc_id,
        location: loc.location_url.clone(),
        created_at: r.loc_created_at,
        pix_copia_e_cola: loc.pix_copia_e_cola.clone(),
        charge_created_at: r.created_at,
    }))
}

/// The charge at the merchant's free `cob` location `loc_id`. `None`: the txid is taken or
/// the location cannot serve it; a location taken at the same instant by another charge is
/// a unique violation (`is_location_taken`).
async fn insert_at_location(
    pool: &PgPool,
    merchant: MerchantId,
    new: &NewCharge<'_>,
    loc_id: i64,
    cols: &TermColumns,
) -> Result<Option<StoredAt>, sqlx::Error> {
    let row = sqlx::query!(
        r#"WITH loc AS (
               SELECT l.id, l.location, l.created_at, l.pix_copia_e_cola FROM locations l
                WHERE l.id = $2 AND l.merchant_id = $1 AND l.tipo_cob = 'cob'
                  AND NOT EXISTS (SELECT 1 FROM charges c WHERE c.loc_id = l.id)
           )
           INSERT INTO charges (merchant_id, txid, expiracao, devedor_doc_kind, devedor_doc_enc, devedor_doc_index,
                                devedor_nome, valor_original, modalidade_alteracao, chave, solicitacao_pagador,
                                info_adicionais, loc_id, request_hash)
           SELECT $1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, loc.id, $14 FROM loc
           ON CONFLICT (merchant_id, txid) DO NOTHING
           RETURNING created_at, (SELECT location FROM loc) AS "location!", (SELECT created_at FROM loc) AS "loc_created_at!",
                     (SELECT pix_copia_e_cola FROM loc) AS "pix_copia_e_cola!""#,
        merchant.0,
        loc_id,
        new.txid.as_str(),
        cols.expiracao,
        cols.devedor_doc_kind,
        cols.devedor_doc_enc,
        cols.devedor_doc_index,
        cols.devedor_nome,
        cols.valor_original,
        cols.modalidade_alteracao,
        cols.chave,
        cols.solicitacao_pagador,
        cols.info_adicionais,
        &new.fingerprint[..],
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| StoredAt {
        id: loc_id,
        location: r.location,
        created_at: r.loc_created_at,
        pix_copia_e_cola: r.pix_copia_e_cola,
        charge_created_at: r.created_at,
    }))
}

/// Moves a locked charge of `kind` (`cob`, `cobv`) to the merchant's free location
/// `loc_id` of the same kind: the location and its BR Code. `None`: the location cannot
/// serve it (unknown, of the other kind, or serving another charge, even one linked at the
/// same instant).
pub(super) async fn relink_to(
    conn: &mut sqlx::PgConnection,
    merchant: MerchantId,
    txid: &Txid,
    loc_id: i64,
    kind: &str,
) -> Result<Option<(Location, String)>, StoreError> {
    let row = sqlx::query!(
        r#"UPDATE charges c SET loc_id = l.id
             FROM locations l
            WHERE c.merchant_id = $1 AND c.txid = $2 AND c.kind = $4
              AND l.id = $3 AND l.merchant_id = $1 AND l.tipo_cob = $4
              AND NOT EXISTS (SELECT 1 FROM charges o WHERE o.loc_id = l.id)
        RETURNING l.location, l.created_at, l.pix_copia_e_cola"#,
        merchant.0,
        txid.as_str(),
        loc_id,
        kind
    )
    .fetch_optional(&mut *conn)
    .await;
    match row {
        Ok(row) => {
            Ok(row.map(|r| (Location { id: loc_id, location: r.location, criacao: r.created_at }, r.pix_copia_e_cola)))
        }
        Err(e) if is_location_taken(&e) => Ok(None),
        Err(e) => Err(store_error(e)),
    }
}

/// Another charge took the location between our check and our write.
pub(super) fn is_location_taken(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some("charges_loc_id_key"))
}

#[async_trait]
impl ChargeStore for PgChargeStore {
    async fn create(&self, merchant: MerchantId, new: NewCharge<'_>) -> Result<CreateOutcome, StoreError> {
        let cols = TermColumns::of(new.terms, merchant, self.cipher.as_ref()).await?;
        let inserted = match &new.location {
            ChargeLocation::New(loc) => insert_with_new_location(&self.pool, merchant, &new, loc, &cols).await,
            ChargeLocation::Existing(id) => insert_at_location(&self.pool, merchant, &new, *id, &cols).await,
        };
        let inserted = match inserted {
            Err(e) if is_location_taken(&e) => return Ok(CreateOutcome::LocationUnavailable),
            // Nothing was stored: the fresh location went with the failed statement.
            Err(e) if super::is_txid_taken_elsewhere(&e) => return Ok(CreateOutcome::TxidTaken),
            other => other.map_err(store_error)?,
        };
        if let Some(loc) = inserted {
            return Ok(CreateOutcome::Created(Charge {
                txid: new.txid.clone(),
                revisao: 0,
                status: ChargeStatus::Ativa,
                criacao: loc.charge_created_at,
                terms: new.terms.clone(),
                loc: Some(Location { id: loc.id, location: loc.location, criacao: loc.created_at }),
                pix_copia_e_cola: Some(loc.pix_copia_e_cola),
            }));
        }

        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        if let ChargeLocation::New(loc) = &new.location {
            sqlx::query!("DELETE FROM locations WHERE token = $1", loc.token.as_str())
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
        }
        if let Some((charge, hash, _)) =
            select_current(&mut conn, self.cipher.as_ref(), merchant, new.txid, false).await?
        {
            return Ok(CreateOutcome::Exists { charge, same_request: hash == new.fingerprint });
        }
        // No immediate charge with this txid: a charge of the other kind has it, or (with a
        // location asked for) the location stopped the insert.
        let taken = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM charges WHERE merchant_id = $1 AND txid = $2) AS "taken!""#,
            merchant.0,
            new.txid.as_str()
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(store_error)?;
        match (taken, &new.location) {
            (true, _) => Ok(CreateOutcome::TxidTaken),
            (false, ChargeLocation::Existing(_)) => Ok(CreateOutcome::LocationUnavailable),
            (false, ChargeLocation::New(_)) => {
                Err(StoreError::Unexpected(anyhow!("charge vanished after a txid conflict")))
            }
        }
    }

    async fn find(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        revisao: Option<i32>,
    ) -> Result<Option<Charge>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let Some(revisao) = revisao else {
            return Ok(select_current(&mut conn, self.cipher.as_ref(), merchant, txid, false)
                .await?
                .map(|(charge, _, _)| charge));
        };
        let row = sqlx::query_as!(
            ChargeRow,
            r#"SELECT c.txid, r.revisao, r.status, c.created_at, r.expiracao AS "expiracao!", c.merchant_id, r.devedor_doc_kind, r.devedor_doc_enc,
                      r.devedor_nome, r.valor_original, r.modalidade_alteracao, r.chave, r.solicitacao_pagador,
                      r.info_adicionais, c.loc_id, l.location AS "location?", l.created_at AS "loc_created_at?",
                      l.pix_copia_e_cola AS "pix_copia_e_cola?"
                 FROM charge_revisions r
                 JOIN charges c ON c.id = r.charge_id
                 LEFT JOIN locations l ON l.id = c.loc_id
                WHERE c.merchant_id = $1 AND c.txid = $2 AND c.kind = 'cob' AND r.revisao = $3"#,
            merchant.0,
            txid.as_str(),
            revisao
        )
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
        match row {
            Some(row) => Ok(Some(to_charge(row, self.cipher.as_ref()).await?)),
            None => Ok(None),
        }
    }

    async fn revise(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        patch: &ChargePatch,
    ) -> Result<ReviseOutcome, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let Some((charge, _, _)) = select_current(&mut tx, self.cipher.as_ref(), merchant, txid, true).await? else {
            return Ok(ReviseOutcome::NotFound);
        };
        let revision = match charge.revise(patch) {
            Err(e) => return Ok(ReviseOutcome::Rejected(e)),
            Ok(revision) => revision,
        };
        let charge = match charge.relink(patch) {
            None => charge,
            Some(id) => match relink_to(&mut tx, merchant, txid, id, "cob").await? {
                Some((loc, code)) => Charge { loc: Some(loc), pix_copia_e_cola: Some(code), ..charge },
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
        let cols = TermColumns::of(&terms, merchant, self.cipher.as_ref()).await?;
        sqlx::query!(
            r#"UPDATE charges
                  SET revisao = $3, status = $4, expiracao = $5, devedor_doc_kind = $6, devedor_doc_enc = $7,
                      devedor_doc_index = $8, devedor_nome = $9, valor_original = $10, modalidade_alteracao = $11,
                      chave = $12, solicitacao_pagador = $13, info_adicionais = $14
                WHERE merchant_id = $1 AND txid = $2"#,
            merchant.0,
            txid.as_str(),
            revisao,
            status.as_str(),
            cols.expiracao,
            cols.devedor_doc_kind,
            cols.devedor_doc_enc,
            cols.devedor_doc_index,
            cols.devedor_nome,
            cols.valor_original,
            cols.modalidade_alteracao,
            cols.chave,
            cols.solicitacao_pagador,
            cols.info_adicionais,
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(ReviseOutcome::Revised(Charge { revisao, status, terms, ..charge }))
    }

    async fn find_by_location(&self, token: &LocationToken) -> Result<Option<Charge>, StoreError> {
        let row = sqlx::query_as!(
            ChargeRow,
            r#"SELECT c.txid, c.revisao, c.status, c.created_at, c.expiracao AS "expiracao!", c.merchant_id, c.devedor_doc_kind, c.devedor_doc_enc,
                      c.devedor_nome, c.valor_original, c.modalidade_alteracao, c.chave, c.solicitacao_pagador,
                      c.info_adicionais, c.loc_id, l.location AS "location?", l.created_at AS "loc_created_at?",
                      l.pix_copia_e_cola AS "pix_copia_e_cola?"
                 FROM locations l JOIN charges c ON c.loc_id = l.id
                WHERE l.token = $1 AND c.kind = 'cob'"#,
            token.as_str()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        match row {
            Some(row) => Ok(Some(to_charge(row, self.cipher.as_ref()).await?)),
            None => Ok(None),
        }
    }

    async fn list(&self, merchant: MerchantId, q: &ChargeQuery) -> Result<Page<Charge>, StoreError> {
        let doc_index = documents::index_of(self.cipher.as_ref(), q.devedor.as_ref())?;
        let status = q.status.map(ChargeStatus::as_str);
        let limit = i64::from(q.itens_por_pagina);
        let offset = i64::from(q.pagina) * limit;
        let rows = sqlx::query!(
            r#"SELECT c.txid, c.revisao, c.status, c.created_at, c.expiracao AS "expiracao!", c.merchant_id, c.devedor_doc_kind, c.devedor_doc_enc,
                      c.devedor_nome, c.valor_original, c.modalidade_alteracao, c.chave, c.solicitacao_pagador,
                      c.info_adicionais, c.loc_id, l.location AS "location?", l.created_at AS "loc_created_at?",
                      l.pix_copia_e_cola AS "pix_copia_e_cola?"
                 FROM charges c LEFT JOIN locations l ON l.id = c.loc_id
                WHERE c.merchant_id = $1 AND c.kind = 'cob' AND c.created_at >= $2 AND c.created_at <= $3
                  AND ($4::bytea IS NULL OR c.devedor_doc_index = $4)
                  AND ($5::text IS NULL OR c.status = $5)
                  AND ($6::boolean IS NULL OR (c.loc_id IS NOT NULL) = $6)
                ORDER BY c.created_at, c.id
                LIMIT $7 OFFSET $8"#,
            merchant.0,
            q.inicio,
            q.fim,
            doc_index,
            status,
            q.location_presente,
            limit,
            offset
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;

        let total = if let Some(total) = super::total_from_page(rows.len(), limit, offset) {
            total
        } else {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM charges c
                    WHERE c.merchant_id = $1 AND c.kind = 'cob' AND c.created_at >= $2 AND c.created_at <= $3
                      AND ($4::bytea IS NULL OR c.devedor_doc_index = $4)
                      AND ($5::text IS NULL OR c.status = $5)
                      AND ($6::boolean IS NULL OR (c.loc_id IS NOT NULL) = $6)"#,
                merchant.0,
                q.inicio,
                q.fim,
                doc_index,
                status,
                q.location_presente,
            )
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?
        };
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            items.push(to_charge(charge_row!(r), self.cipher.as_ref()).await?);
        }
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }
}

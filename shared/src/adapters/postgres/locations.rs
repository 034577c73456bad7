//! Payload locations on their own (`/loc`) on Postgres: create, read, list, unlink. A
//! location serves the charge whose `loc_id` names it (at most one: `charges.loc_id` is
//! unique).

use super::store_error;
use crate::domain::ids::Txid;
use crate::domain::merchant::MerchantId;
use crate::domain::payload_location::{PayloadLocation, TipoCob};
use crate::ports::{LocationQuery, LocationStore, NewLocation, Page, StoreError};
use anyhow::{anyhow, Context};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub struct PgLocationStore {
    pool: PgPool,
}

impl PgLocationStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// A location row and the txid of the charge it serves.
struct LocationRow {
    id: i64,
    location: String,
    tipo_cob: String,
    created_at: DateTime<Utc>,
    pix_copia_e_cola: String,
    txid: Option<String>,
}

impl LocationRow {
    fn into_location(self) -> Result<PayloadLocation, StoreError> {
        let parse = || -> anyhow::Result<PayloadLocation> {
            Ok(PayloadLocation {
                id: self.id,
                tipo_cob: TipoCob::parse(&self.tipo_cob).ok_or_else(|| anyhow!("stored tipo_cob"))?,
                location: self.location,
                criacao: self.created_at,
                txid: self.txid.as_deref().map(Txid::parse).transpose().context("stored txid")?,
                pix_copia_e_cola: self.pix_copia_e_cola,
            })
        };
        parse().map_err(StoreError::Unexpected)
    }
}

#[async_trait]
impl LocationStore for PgLocationStore {
    async fn create(&self, merchant: MerchantId, new: NewLocation) -> Result<PayloadLocation, StoreError> {
        let row = sqlx::query!(
            r#"INSERT INTO locations (merchant_id, token, location, tipo_cob, pix_copia_e_cola)
               VALUES ($1, $2, $3, $4, $5)
               RETURNING id, created_at"#,
            merchant.0,
            new.token.as_str(),
            new.location_url,
            new.tipo_cob.as_str(),
            new.pix_copia_e_cola,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(PayloadLocation {
            id: row.id,
            location: new.location_url,
            tipo_cob: new.tipo_cob,
            criacao: row.created_at,
            txid: None,
            pix_copia_e_cola: new.pix_copia_e_cola,
        })
    }

    async fn get(&self, merchant: MerchantId, id: i64) -> Result<Option<PayloadLocation>, StoreError> {
        let row = sqlx::query_as!(
            LocationRow,
            r#"SELECT l.id, l.location, l.tipo_cob, l.created_at, l.pix_copia_e_cola, c.txid AS "txid?"
                 FROM locations l LEFT JOIN charges c ON c.loc_id = l.id
                WHERE l.id = $1 AND l.merchant_id = $2"#,
            id,
            merchant.0
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(LocationRow::into_location).transpose()
    }

    async fn list(&self, merchant: MerchantId, q: &LocationQuery) -> Result<Page<PayloadLocation>, StoreError> {
        let tipo_cob = q.tipo_cob.map(TipoCob::as_str);
        let limit = i64::from(q.itens_por_pagina);
        let offset = i64::from(q.pagina) * limit;
        let rows = sqlx::query_as!(
            LocationRow,
            r#"SELECT l.id, l.location, l.tipo_cob, l.created_at, l.pix_copia_e_cola, c.txid AS "txid?"
                 FROM locations l LEFT JOIN charges c ON c.loc_id = l.id
                WHERE l.merchant_id = $1 AND l.created_at >= $2 AND l.created_at <= $3
                  AND ($4::boolean IS NULL OR (c.id IS NOT NULL) = $4)
                  AND ($5::text IS NULL OR l.tipo_cob = $5)
                ORDER BY l.created_at, l.id
                LIMIT $6 OFFSET $7"#,
            merchant.0,
            q.inicio,
            q.fim,
            q.txid_presente,
            tipo_cob,
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
                r#"SELECT count(*) AS "n!" FROM locations l LEFT JOIN charges c ON c.loc_id = l.id
                    WHERE l.merchant_id = $1 AND l.created_at >= $2 AND l.created_at <= $3
                      AND ($4::boolean IS NULL OR (c.id IS NOT NULL) = $4)
                      AND ($5::text IS NULL OR l.tipo_cob = $5)"#,
                merchant.0,
                q.inicio,
                q.fim,
                q.txid_presente,
                tipo_cob,
            )
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?
        };
        let items = rows.into_iter().map(LocationRow::into_location).collect::<Result<_, _>>()?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    async fn unlink(&self, merchant: MerchantId, id: i64) -> Result<Option<PayloadLocation>, StoreError> {
        // The charge keeps its status and revision: only where it is served changes (the
        // revision trigger lets loc_id change alone). A data-modifying CTE always runs; the
        // SELECT reads no charge, so it answers the location as it is afterwards.
        let row = sqlx::query_as!(
            LocationRow,
            r#"WITH unlinked AS (
                   UPDATE charges SET loc_id = NULL WHERE loc_id = $1 AND merchant_id = $2
               )
               SELECT l.id, l.location, l.tipo_cob, l.created_at, l.pix_copia_e_cola, NULL::text AS "txid?"
                 FROM locations l
                WHERE l.id = $1 AND l.merchant_id = $2"#,
            id,
            merchant.0
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(LocationRow::into_location).transpose()
    }
}

//! Merchants, API keys and Pix keys on Postgres.

use super::{is_unique_violation, store_error};
use crate::domain::ledger::FeePlan;
use crate::domain::merchant::{ApiKeyHash, Merchant, MerchantId, Recebedor};
use crate::domain::money::Amount;
use crate::ports::{MerchantStore, NewMerchant, RegisterMerchantError, StoreError};
use async_trait::async_trait;
use sqlx::PgPool;
use uuid::Uuid;

pub struct PgMerchantStore {
    pool: PgPool,
}

impl PgMerchantStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl MerchantStore for PgMerchantStore {
    async fn register(&self, new: NewMerchant) -> Result<MerchantId, RegisterMerchantError> {
        let id = Uuid::new_v4();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query!(
            r#"INSERT INTO merchants (id, name, city, fee_bps, fee_fixed, person_kind, limit_per_transfer, limit_daily,
                                      limit_night)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
            id,
            new.name,
            new.city,
            i32::try_from(new.fees.bps).unwrap_or(i32::MAX),
            new.fees.fixed.centavos(),
            if new.individual { "PF" } else { "PJ" },
            new.limits.per_transfer.centavos(),
            new.limits.daily.centavos(),
            new.limits.night.centavos()
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query!("INSERT INTO api_keys (hash, merchant_id) VALUES ($1, $2)", &new.api_key_hash.0[..], id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query!("INSERT INTO merchant_pix_keys (chave, merchant_id) VALUES ($1, $2)", new.pix_key, id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e, "merchant_pix_keys_pkey") {
                    RegisterMerchantError::PixKeyTaken
                } else {
                    store_error(e).into()
                }
            })?;
        if let Some(client) = &new.first_client {
            super::clients::insert(&mut tx, MerchantId(id), client).await?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(MerchantId(id))
    }

    async fn by_api_key(&self, hash: &ApiKeyHash) -> Result<Option<Merchant>, StoreError> {
        let id =
            sqlx::query_scalar!("SELECT merchant_id FROM api_keys WHERE hash = $1 AND revoked_at IS NULL", &hash.0[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        match id {
            Some(id) => self.by_id(MerchantId(id)).await,
            None => Ok(None),
        }
    }

    async fn by_id(&self, id: MerchantId) -> Result<Option<Merchant>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT m.id, m.name, m.city, m.fee_bps, m.fee_fixed, m.person_kind,
                      coalesce(array_agg(k.chave ORDER BY k.chave) FILTER (WHERE k.chave IS NOT NULL), '{}') AS "pix_keys!"
                 FROM merchants m
                 LEFT JOIN merchant_pix_keys k ON k.merchant_id = m.id
                WHERE m.id = $1
                GROUP BY m.id"#,
            id.0
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|r| {
            let fees = fee_plan(r.fee_bps, r.fee_fixed)?;
            let individual = match r.person_kind.as_str() {
                "PF" => true,
                "PJ" => false,
                _ => return Err(StoreError::Unexpected(anyhow::anyhow!("unknown stored person kind"))),
            };
            Ok(Merchant { id: MerchantId(r.id), name: r.name, city: r.city, pix_keys: r.pix_keys, fees, individual })
        })
        .transpose()
    }

    async fn set_receiver(&self, id: MerchantId, r: &Recebedor) -> Result<bool, StoreError> {
        let done = sqlx::query!(
            "UPDATE merchants SET recebedor_documento = $2, recebedor_nome_fantasia = $3, recebedor_logradouro = $4,
                                  recebedor_uf = $5, recebedor_cep = $6
              WHERE id = $1",
            id.0,
            r.documento.as_str(),
            r.nome_fantasia,
            r.logradouro,
            r.uf,
            r.cep,
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn receiver(&self, id: MerchantId) -> Result<Option<Recebedor>, StoreError> {
        let row = sqlx::query!(
            "SELECT recebedor_documento, recebedor_nome_fantasia, recebedor_logradouro, recebedor_uf, recebedor_cep
               FROM merchants WHERE id = $1",
            id.0
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(r) = row else { return Ok(None) };
        match (r.recebedor_documento, r.recebedor_logradouro, r.recebedor_uf, r.recebedor_cep) {
            (Some(doc), Some(logradouro), Some(uf), Some(cep)) => {
                Recebedor::parse(&doc, r.recebedor_nome_fantasia.as_deref(), &logradouro, &uf, &cep)
                    .map(Some)
                    .map_err(|e| StoreError::Unexpected(anyhow::Error::new(e).context("stored receiver details")))
            }
            _ => Ok(None),
        }
    }

    async fn account_number(&self, id: MerchantId) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar!("SELECT account_number FROM merchants WHERE id = $1", id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)
    }
}

/// A merchant's fee plan as its row holds it (`fee_bps`, `fee_fixed`).
pub(crate) fn fee_plan(bps: i32, fixed: i64) -> Result<FeePlan, StoreError> {
    let fixed = Amount::from_centavos(fixed).map_err(|e| StoreError::Unexpected(e.into()))?;
    Ok(FeePlan { bps: u32::try_from(bps).unwrap_or(0), fixed })
}

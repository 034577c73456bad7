//! Operating merchants and their OAuth clients: what `tucano merchants|clients` run on a
//! laptop against a local database, and what the `admin` function runs in AWS (invoked
//! with IAM: `aws lambda invoke`), so an operator never needs a database session into the
//! VPC. Secrets are in the answer once and stored only as hashes.

use crate::app::clients::{self, ClientAdminError};
use crate::domain::ledger::FeePlan;
use crate::domain::merchant::{ApiKey, MerchantId, Recebedor};
use crate::domain::money::Amount;
use crate::domain::oauth::{ClientId, ClientSecret, Scopes};
use crate::domain::pix_key::PixKey;
use crate::ports::{ClientStore, MerchantLimits, MerchantStore, NewMerchant, RegisterMerchantError, StoreError};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::time::Duration;

/// A merchant to register, as an operator asks for it.
#[derive(Debug, Clone)]
pub struct MerchantRequest {
    pub name: String,
    pub pix_key: String,
    pub city: String,
    pub fees: FeePlan,
    pub individual: bool,
    pub limits: MerchantLimits,
}

/// A registered merchant and its credentials, each shown this once.
pub struct MerchantCreated {
    pub id: MerchantId,
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    pub scopes: Scopes,
    /// The legacy API key: an alias for a client with every scope.
    pub api_key: ApiKey,
}

impl MerchantCreated {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id.to_string(), "client_id": self.client_id.as_str(),
               "client_secret": self.client_secret.expose(), "scope": self.scopes.to_string(),
               "api_key": self.api_key.expose()})
    }
}

/// Why an operation was refused; the message is for the operator, never has a secret.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("that Pix key is already registered to a merchant")]
    PixKeyTaken,
    #[error("no such merchant or live client")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ClientAdminError> for AdminError {
    fn from(e: ClientAdminError) -> Self {
        match e {
            ClientAdminError::NotFound => AdminError::NotFound,
            ClientAdminError::Store(e) => AdminError::Store(e),
            other => AdminError::Invalid(other.to_string()),
        }
    }
}

/// A percentage with up to two decimals ("0.99") in basis points, at most 100%.
pub fn parse_percent(s: &str) -> Option<u32> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let ok = !int.is_empty()
        && int.len() <= 3
        && frac.len() <= 2
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
    let bps: u32 = format!("{int}{frac:0<2}").parse().ok().filter(|_| ok)?;
    (bps <= 10_000).then_some(bps)
}

/// Registers a merchant with its first OAuth client (every scope) and a legacy API key.
pub async fn create_merchant(
    merchants: &dyn MerchantStore,
    req: MerchantRequest,
) -> Result<MerchantCreated, AdminError> {
    let key = PixKey::parse(&req.pix_key).map_err(|e| AdminError::Invalid(format!("pix key: {e}")))?;
    for (what, value) in [("name", &req.name), ("city", &req.city)] {
        let chars = value.trim().chars().count();
        if chars == 0 || chars > 200 || value.chars().any(char::is_control) {
            return Err(AdminError::Invalid(format!("{what} must have 1 to 200 characters")));
        }
    }
    let scopes = Scopes::all();
    let (client, client_secret) = clients::new_client("default", scopes)?;
    let client_id = client.id.clone();
    let api_key = ApiKey::generate();
    let new = NewMerchant {
        name: req.name.trim().into(),
        city: req.city.trim().into(),
        pix_key: key.as_str().into(),
        api_key_hash: api_key.hash(),
        fees: req.fees,
        individual: req.individual,
        limits: req.limits,
        first_client: Some(client),
    };
    let id = merchants.register(new).await.map_err(|e| match e {
        RegisterMerchantError::PixKeyTaken => AdminError::PixKeyTaken,
        RegisterMerchantError::Store(e) => AdminError::Store(e),
    })?;
    Ok(MerchantCreated { id, client_id, client_secret, scopes, api_key })
}

fn text<'a>(op: &'a Value, field: &str) -> Result<&'a str, AdminError> {
    op[field].as_str().ok_or_else(|| AdminError::Invalid(format!("{field} is required (a string)")))
}

fn optional<'a>(op: &'a Value, field: &str, default: &'a str) -> Result<&'a str, AdminError> {
    match &op[field] {
        Value::Null => Ok(default),
        v => v.as_str().ok_or_else(|| AdminError::Invalid(format!("{field} must be a string"))),
    }
}

fn merchant_id(op: &Value) -> Result<MerchantId, AdminError> {
    uuid::Uuid::parse_str(text(op, "merchant")?)
        .map(MerchantId)
        .map_err(|_| AdminError::Invalid("merchant must be a merchant id".into()))
}

fn client_id(op: &Value) -> Result<ClientId, AdminError> {
    ClientId::parse(text(op, "clientId")?).ok_or(AdminError::NotFound)
}

fn amount(op: &Value, field: &str, default: &str) -> Result<Amount, AdminError> {
    Amount::parse(optional(op, field, default)?)
        .ok()
        .filter(|a| !a.is_zero())
        .ok_or_else(|| AdminError::Invalid(format!("{field} must be an amount like 1000.00")))
}

/// One operation of the admin function: `{"op": "merchants.create" | "merchants.receiver" | "clients.create" |
/// "clients.list" | "clients.rotate" | "clients.revoke", ...}` (fields in README.md).
pub async fn run(
    merchants: &dyn MerchantStore,
    client_store: &dyn ClientStore,
    now: DateTime<Utc>,
    op: &Value,
) -> Result<Value, AdminError> {
    match text(op, "op")? {
        "merchants.create" => {
            let defaults = MerchantLimits::default();
            let limits = MerchantLimits {
                per_transfer: amount(op, "limitPerTransfer", &defaults.per_transfer.to_string())?,
                daily: amount(op, "limitDaily", &defaults.daily.to_string())?,
                night: amount(op, "limitNight", &defaults.night.to_string())?,
            };
            let fees = FeePlan {
                bps: parse_percent(optional(op, "feePercent", "0")?)
                    .ok_or_else(|| AdminError::Invalid("feePercent must be a percentage like 0.99".into()))?,
                fixed: Amount::parse(optional(op, "feeFixed", "0.00")?)
                    .map_err(|e| AdminError::Invalid(format!("feeFixed: {e}")))?,
            };
            let request = MerchantRequest {
                name: text(op, "name")?.to_owned(),
                pix_key: text(op, "pixKey")?.to_owned(),
                city: optional(op, "city", "SAO PAULO")?.to_owned(),
                fees,
                individual: op["individual"].as_bool().unwrap_or(false),
                limits,
            };
            Ok(create_merchant(merchants, request).await?.to_json())
        }
        "merchants.receiver" => {
            let documento = match (&op["cpf"], &op["cnpj"]) {
                (Value::String(d), Value::Null) | (Value::Null, Value::String(d)) => d.as_str(),
                _ => return Err(AdminError::Invalid("one of cpf or cnpj is required".into())),
            };
            let nome_fantasia = match &op["nomeFantasia"] {
                Value::Null => None,
                v => Some(v.as_str().ok_or_else(|| AdminError::Invalid("nomeFantasia must be a string".into()))?),
            };
            let receiver =
                Recebedor::parse(documento, nome_fantasia, text(op, "logradouro")?, text(op, "uf")?, text(op, "cep")?)
                    .map_err(|e| AdminError::Invalid(e.to_string()))?;
            if !merchants.set_receiver(merchant_id(op)?, &receiver).await? {
                return Err(AdminError::NotFound);
            }
            Ok(json!({"receiver": true}))
        }
        "clients.create" => {
            let scopes = match &op["scope"] {
                Value::Null => Scopes::all(),
                v => v
                    .as_str()
                    .and_then(|s| Scopes::parse(s).ok())
                    .ok_or_else(|| AdminError::Invalid("scope must list known scopes".into()))?,
            };
            let merchant = merchant_id(op)?;
            let name = optional(op, "name", "default")?;
            let (record, secret) =
                clients::create(client_store, merchant, name, scopes).await.map_err(|e| match e {
                    // The merchant is the only reference a new client has.
                    ClientAdminError::Store(_) => AdminError::NotFound,
                    other => other.into(),
                })?;
            Ok(
                json!({"client_id": record.id.as_str(), "client_secret": secret.expose(), "scope": record.scopes.to_string()}),
            )
        }
        "clients.list" => {
            let list = client_store.list(merchant_id(op)?).await?;
            Ok(json!({"clients": list.iter().map(clients::describe).collect::<Vec<_>>()}))
        }
        "clients.rotate" => {
            let overlap = Duration::from_secs(op["overlapSecs"].as_u64().unwrap_or(86_400));
            let (record, secret) = clients::rotate(client_store, &client_id(op)?, overlap, now).await?;
            let mut out = clients::describe(&record);
            out["client_secret"] = json!(secret.expose());
            Ok(out)
        }
        "clients.revoke" => {
            clients::revoke(client_store, &client_id(op)?).await?;
            Ok(json!({"revoked": true}))
        }
        other => Err(AdminError::Invalid(format!(
            "unknown op {:?}: merchants.create, merchants.receiver, clients.create, clients.list, clients.rotate or clients.revoke",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_percent;

    #[test]
    fn percentages_are_read_to_the_basis_point() {
        assert_eq!(parse_percent("0.99"), Some(99));
        assert_eq!(parse_percent("1"), Some(100));
        assert_eq!(parse_percent("100"), Some(10_000));
        assert_eq!(parse_percent("100.01"), None);
        assert_eq!(parse_percent("1.234"), None);
        assert_eq!(parse_percent("-1"), None);
        assert_eq!(parse_percent(""), None);
    }
}

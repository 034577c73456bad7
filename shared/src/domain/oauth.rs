//! OAuth2 client credentials: scopes, client ids and secrets, and the signed access
//! tokens the token endpoint issues and every route verifies without a database read.
//!
//! A token is a compact JWS (RFC 7515) with HS256 and the JWT access-token claims of
//! RFC 9068 (`typ: at+jwt`): `sub` the client, `mid` the merchant, `scope`, `iat`, `exp`,
//! `jti`. Clients treat it as opaque; only Tucano verifies it.

use super::merchant::MerchantId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{distributions::Alphanumeric, Rng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use uuid::Uuid;

/// A permission a client may hold: the Bacen API Pix scope names, then ours for the
/// extensions. Each route of the table requires exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    CobRead,
    CobWrite,
    PixRead,
    PixWrite,
    WebhookRead,
    WebhookWrite,
    PayloadLocationRead,
    PayloadLocationWrite,
    EnvioRead,
    EnvioWrite,
    SaldoRead,
    ExtratoRead,
    DictRead,
    EventosRead,
    WebhooksRead,
    WebhooksWrite,
    CobvRead,
    CobvWrite,
    LoteCobvRead,
    LoteCobvWrite,
    RecRead,
    RecWrite,
    SolicRecRead,
    SolicRecWrite,
    CobrRead,
    CobrWrite,
    WebhookRecRead,
    WebhookRecWrite,
    WebhookCobrRead,
    WebhookCobrWrite,
    PayloadLocationRecRead,
    PayloadLocationRecWrite,
}

impl Scope {
    /// Every scope, in the order they are listed to clients.
    pub const ALL: [Scope; 32] = [
        Scope::CobRead,
        Scope::CobWrite,
        Scope::PixRead,
        Scope::PixWrite,
        Scope::WebhookRead,
        Scope::WebhookWrite,
        Scope::PayloadLocationRead,
        Scope::PayloadLocationWrite,
        Scope::EnvioRead,
        Scope::EnvioWrite,
        Scope::SaldoRead,
        Scope::ExtratoRead,
        Scope::DictRead,
        Scope::EventosRead,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::CobvRead,
        Scope::CobvWrite,
        Scope::LoteCobvRead,
        Scope::LoteCobvWrite,
        Scope::RecRead,
        Scope::RecWrite,
        Scope::SolicRecRead,
        Scope::SolicRecWrite,
        Scope::CobrRead,
        Scope::CobrWrite,
        Scope::WebhookRecRead,
        Scope::WebhookRecWrite,
        Scope::WebhookCobrRead,
        Scope::WebhookCobrWrite,
        Scope::PayloadLocationRecRead,
        Scope::PayloadLocationRecWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CobRead => "cob.read",
            Scope::CobWrite => "cob.write",
            Scope::PixRead => "pix.read",
            Scope::PixWrite => "pix.write",
            Scope::WebhookRead => "webhook.read",
            Scope::WebhookWrite => "webhook.write",
            Scope::PayloadLocationRead => "payloadlocation.read",
            Scope::PayloadLocationWrite => "payloadlocation.write",
            Scope::EnvioRead => "envio.read",
            Scope::EnvioWrite => "envio.write",
            Scope::SaldoRead => "saldo.read",
            Scope::ExtratoRead => "extrato.read",
            Scope::DictRead => "dict.read",
            Scope::EventosRead => "eventos.read",
            Scope::WebhooksRead => "webhooks.read",
            Scope::WebhooksWrite => "webhooks.write",
            Scope::CobvRead => "cobv.read",
            Scope::CobvWrite => "cobv.write",
            Scope::LoteCobvRead => "lotecobv.read",
            Scope::LoteCobvWrite => "lotecobv.write",
            Scope::RecRead => "rec.read",
            Scope::RecWrite => "rec.write",
            Scope::SolicRecRead => "solicrec.read",
            Scope::SolicRecWrite => "solicrec.write",
            Scope::CobrRead => "cobr.read",
            Scope::CobrWrite => "cobr.write",
            Scope::WebhookRecRead => "webhookrec.read",
            Scope::WebhookRecWrite => "webhookrec.write",
            Scope::WebhookCobrRead => "webhookcobr.read",
            Scope::WebhookCobrWrite => "webhookcobr.write",
            Scope::PayloadLocationRecRead => "payloadlocationrec.read",
            Scope::PayloadLocationRecWrite => "payloadlocationrec.write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes; written as the space-separated list OAuth uses (RFC 6749 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u32);

/// A scope list that names a scope Tucano does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScope;

impl Scopes {
    pub fn all() -> Scopes {
        Scopes(Scope::ALL.iter().fold(0, |acc, s| acc | s.bit()))
    }

    pub fn none() -> Scopes {
        Scopes(0)
    }

    /// A space-separated list (any run of spaces); an unknown name refuses the whole list.
    pub fn parse(list: &str) -> Result<Scopes, UnknownScope> {
        list.split(' ')
            .filter(|s| !s.is_empty())
            .try_fold(Scopes(0), |acc, name| Scope::parse(name).map(|s| Scopes(acc.0 | s.bit())).ok_or(UnknownScope))
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every scope of `other` is also in `self`.
    pub fn covers(self, other: Scopes) -> bool {
        other.0 & !self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The names, in `Scope::ALL` order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(" "))
    }
}

/// An OAuth client's public id: `cli_` and 22 base62 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

const CLIENT_ID_PREFIX: &str = "cli_";
const CLIENT_ID_CHARS: usize = 22;
const SECRET_PREFIX: &str = "cs_";
const SECRET_CHARS: usize = 43; // ~256 bits

fn random_base62(n: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(n).map(char::from).collect()
}

impl ClientId {
    pub fn generate() -> ClientId {
        ClientId(format!("{CLIENT_ID_PREFIX}{}", random_base62(CLIENT_ID_CHARS)))
    }

    /// A presented id, if it has the shape of one (anything else cannot exist).
    pub fn parse(s: &str) -> Option<ClientId> {
        let rest = s.strip_prefix(CLIENT_ID_PREFIX)?;
        (rest.len() == CLIENT_ID_CHARS && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| ClientId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A freshly generated client secret. `Debug` hides it; `expose` is for showing it once.
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn generate() -> ClientSecret {
        ClientSecret(format!("{SECRET_PREFIX}{}", random_base62(SECRET_CHARS)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

/// The stored form of a client secret: SHA-256 (the secret has 256 bits of entropy, so a
/// slow password hash adds nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    pub fn of(presented: &str) -> SecretHash {
        SecretHash(Sha256::digest(presented.as_bytes()).into())
    }

    /// Compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let other = SecretHash::of(presented);
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The client the token was issued to.
    pub sub: String,
    /// The merchant the client acts for.
    pub mid: Uuid,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

impl Claims {
    pub fn merchant(&self) -> MerchantId {
        MerchantId(self.mid)
    }

    pub fn client(&self) -> Option<ClientId> {
        ClientId::parse(&self.sub)
    }

    pub fn scopes(&self) -> Scopes {
        Scopes::parse(&self.scope).unwrap_or_default()
    }
}

/// The issuer every token names.
pub const ISSUER: &str = "tucano";

/// A key tokens are signed with, named by `kid` so keys can rotate.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: &'static str,
    pub secret: [u8; 32],
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, ***)", self.kid)
    }
}

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// Why a presented token is not accepted. Shown to nobody: every case is a plain 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    UnknownKey,
    BadSignature,
    Expired,
}

fn mac(key: &[u8; 32], signing_input: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(signing_input);
    mac
}

/// The token for `claims`, signed with `key`.
pub fn sign(claims: &Claims, key: &SigningKey) -> String {
    let header = Header { alg: "HS256", typ: "at+jwt", kid: key.kid };
    let encode = |v: &[u8]| B64.encode(v);
    let input = format!(
        "{}.{}",
        encode(&serde_json::to_vec(&header).unwrap_or_default()),
        encode(&serde_json::to_vec(claims).unwrap_or_default())
    );
    let signature = mac(&key.secret, input.as_bytes()).finalize().into_bytes();
    format!("{input}.{}", encode(&signature))
}

/// The claims of `token` if one of `keys` signed it and it has not expired at `now`
/// (Unix seconds). Only HS256 is accepted, whatever the header says otherwise.
pub fn verify(token: &str, keys: &[SigningKey], now: i64) -> Result<Claims, TokenError> {
    if token.len() > 2048 {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.splitn(3, '.');
    let (Some(h), Some(c), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let decode = |p: &str| B64.decode(p).map_err(|_| TokenError::Malformed);
    let header_bytes = decode(h)?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| TokenError::Malformed)?;
    if header.alg != "HS256" || header.typ != "at+jwt" {
        return Err(TokenError::Malformed);
    }
    let key = keys.iter().find(|k| k.kid == header.kid).ok_or(TokenError::UnknownKey)?;
    let signature = decode(s)?;
    let input_len = h.len() + 1 + c.len();
    mac(&key.secret, &token.as_bytes()[..input_len]).verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;
    let claims: Claims = serde_json::from_slice(&decode(c)?).map_err(|_| TokenError::Malformed)?;
    if claims.iss != ISSUER || claims.client().is_none() || Scopes::parse(&claims.scope).is_err() {
        return Err(TokenError::Malformed);
    }
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &'static str, b: u8) -> SigningKey {
        SigningKey { kid, secret: [b; 32] }
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: ClientId::generate().to_string(),
            mid: Uuid::nil(),
            scope: "cob.read cob.write".into(),
            iat: 0,
            exp,
            jti: "j".into(),
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = sign(&claims(100), &key("v1", 1));
        let got = verify(&token, &[key("v1", 1)], 99).unwrap();
        assert!(got.scopes().contains(Scope::CobWrite));
        assert!(!got.scopes().contains(Scope::PixRead));
        assert_eq!(verify(&token, &[key("v1", 1)], 100), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_under_another_key_or_kid_or_altered_is_refused() {
        let token = sign(&claims(100), &key("v1", 1));
        assert_eq!(verify(&token, &[key("v1", 2)], 0), Err(TokenError::BadSignature));
        assert_eq!(verify(&token, &[key("v2", 1)], 0), Err(TokenError::UnknownKey));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = claims(i64::MAX);
        forged.scope = "pix.write".into();
        parts[1] = B64.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(verify(&parts.join("."), &[key("v1", 1)], 0), Err(TokenError::BadSignature));
        assert_eq!(verify("a.b", &[key("v1", 1)], 0), Err(TokenError::Malformed));
        assert_eq!(verify("", &[key("v1", 1)], 0), Err(TokenError::Malformed));
    }

    #[test]
    fn an_unsigned_token_is_refused_whatever_its_header_says() {
        let header = B64.encode(br#"{"alg":"none","typ":"at+jwt","kid":"v1"}"#);
        let body = B64.encode(serde_json::to_vec(&claims(i64::MAX)).unwrap());
        assert_eq!(verify(&format!("{header}.{body}."), &[key("v1", 1)], 0), Err(TokenError::Malformed));
    }

    #[test]
    fn scope_lists_parse_as_oauth_writes_them() {
        let s = Scopes::parse("cob.read  pix.write").unwrap();
        assert_eq!(s.to_string(), "cob.read pix.write");
        assert_eq!(Scopes::parse("cob.read cob.admin"), Err(UnknownScope));
        assert!(Scopes::parse("").unwrap().is_empty());
        assert!(Scopes::all().covers(s));
        assert!(!s.covers(Scopes::all()));
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
    }

    #[test]
    fn client_ids_and_secrets_have_their_shapes() {
        let id = ClientId::generate();
        assert_eq!(ClientId::parse(id.as_str()), Some(id));
        assert_eq!(ClientId::parse("cli_short"), None);
        let secret = ClientSecret::generate();
        assert!(secret.hash().matches(secret.expose()));
        assert!(!secret.hash().matches("cs_other"));
        assert_eq!(format!("{secret:?}"), "ClientSecret(***)");
    }
}

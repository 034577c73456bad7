//! Authentication: `Authorization: Bearer <token>` resolves to a merchant and the scopes
//! the request holds, or 401. An OAuth access token (`POST /oauth/token`) carries the
//! scopes its client was granted; a legacy API key (`tk_...`) is an alias for a client
//! with every scope.

use super::problem::{ApiError, ProblemKind};
use super::Request;
use crate::app::oauth::Refused;
use crate::app::AppState;
use crate::domain::merchant::{ApiKeyHash, Merchant};
use crate::domain::oauth::{Scope, Scopes};
use http::{header, HeaderValue};

const SCHEME: &str = "Bearer ";
const API_KEY_PREFIX: &str = "tk_";

/// The merchant the route table authenticated for this request.
pub fn authenticated(req: &Request) -> Result<Merchant, ApiError> {
    req.extensions()
        .get::<Merchant>()
        .cloned()
        .ok_or_else(|| ApiError::new(ProblemKind::NaoAutenticado, "A valid access token is required."))
}

fn unauthenticated(invalid_token: bool) -> ApiError {
    let mut e = ApiError::new(
        ProblemKind::NaoAutenticado,
        "A valid access token is required: Authorization: Bearer <token> (POST /oauth/token issues one).",
    );
    // RFC 6750 §3: no error code when no credentials were sent.
    let challenge = if invalid_token { r#"Bearer error="invalid_token""# } else { "Bearer" };
    e.headers.push((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
    e
}

/// The merchant behind the request's credentials, with the scopes they hold.
pub async fn authenticate(state: &AppState, req: &Request) -> Result<(Merchant, Scopes), ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.get(..SCHEME.len()).filter(|s| s.eq_ignore_ascii_case(SCHEME)).map(|_| h[SCHEME.len()..].trim())
        })
        .filter(|k| !k.is_empty())
        .ok_or_else(|| unauthenticated(false))?;
    let (merchant, scopes) = if presented.starts_with(API_KEY_PREFIX) {
        if presented.len() > 128 {
            return Err(unauthenticated(true));
        }
        let merchant =
            state.merchants.by_api_key(&ApiKeyHash::of(presented)).await?.ok_or_else(|| unauthenticated(true))?;
        (merchant, Scopes::all())
    } else {
        let now = state.clock.now();
        match state.tokens.admit(presented, now, &*state.clients, &*state.merchants).await {
            Ok(admitted) => admitted,
            Err(Refused::Invalid) => return Err(unauthenticated(true)),
            Err(Refused::Store(e)) => return Err(e.into()),
        }
    };
    tracing::Span::current().record("merchant_id", tracing::field::display(merchant.id));
    Ok((merchant, scopes))
}

/// 403 unless `scopes` include `needed` (RFC 6750 §3.1 `insufficient_scope`).
pub fn require(scopes: Scopes, needed: Scope) -> Result<(), ApiError> {
    if scopes.contains(needed) {
        return Ok(());
    }
    let mut e = ApiError::new(
        ProblemKind::AcessoNegado,
        format!("The access token does not grant the scope this operation needs ({needed})."),
    );
    let challenge = format!(r#"Bearer error="insufficient_scope", scope="{needed}""#);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        e.headers.push((header::WWW_AUTHENTICATE, v));
    }
    Err(e)
}

//! Authentication: `Authorization: Bearer <api key>` resolves to a merchant, or 401.

use super::problem::{ApiError, ProblemKind};
use super::Request;
use crate::app::AppState;
use crate::domain::merchant::{ApiKeyHash, Merchant};
use http::header;

const SCHEME: &str = "Bearer ";

/// The merchant the route table authenticated for this request.
pub fn authenticated(req: &Request) -> Result<Merchant, ApiError> {
    req.extensions().get::<Merchant>().cloned().ok_or_else(|| {
        ApiError::new(ProblemKind::NaoAutenticado, "A valid API key is required: Authorization: Bearer <api key>.")
    })
}

/// The merchant behind the request's API key.
pub async fn authenticate(state: &AppState, req: &Request) -> Result<Merchant, ApiError> {
    let unauthenticated = || {
        let mut e =
            ApiError::new(ProblemKind::NaoAutenticado, "A valid API key is required: Authorization: Bearer <api key>.");
        e.headers.push((header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer")));
        e
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.get(..SCHEME.len()).filter(|s| s.eq_ignore_ascii_case(SCHEME)).map(|_| h[SCHEME.len()..].trim())
        })
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .ok_or_else(unauthenticated)?;
    let merchant = state.merchants.by_api_key(&ApiKeyHash::of(presented)).await?.ok_or_else(unauthenticated)?;
    tracing::Span::current().record("merchant_id", tracing::field::display(merchant.id));
    Ok(merchant)
}

//! `POST /oauth/token`: the OAuth2 client credentials grant (RFC 6749 §4.4).
//!
//! The client authenticates with HTTP Basic (`client_id:client_secret`, §2.3.1) or with
//! `client_id` and `client_secret` in the body (`client_secret_post`), never both. The body
//! is a form (the RFC) or a JSON object (as several PSP SDKs send it). Answers and errors
//! are plain JSON as §5.1 and §5.2 define them, not problem+json.

use crate::app::oauth::{self, GrantError};
use crate::app::AppState;
use crate::http::problem::ApiError;
use crate::http::{json, Request, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http::{header, HeaderValue, StatusCode};
use percent_encoding::percent_decode_str;
use std::collections::HashMap;

/// An RFC 6749 §5.2 error.
struct OAuthError {
    code: &'static str,
    description: &'static str,
}

impl OAuthError {
    fn new(code: &'static str, description: &'static str) -> Self {
        OAuthError { code, description }
    }

    fn into_response(self) -> Response {
        let status = if self.code == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
        let mut res = json(status, &serde_json::json!({"error": self.code, "error_description": self.description}));
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="tucano""#));
        }
        no_store(res)
    }
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The request's parameters: a form or a flat JSON object of strings.
fn parameters(req: &Request) -> Result<HashMap<String, String>, OAuthError> {
    let bad_body =
        || OAuthError::new("invalid_request", "Send a form (application/x-www-form-urlencoded) or a JSON object.");
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut out = HashMap::new();
    match content_type.as_str() {
        "application/x-www-form-urlencoded" => {
            for (k, v) in form_urlencoded::parse(req.body()) {
                // §3.2: a parameter sent twice is an error, not a choice.
                if out.insert(k.into_owned(), v.into_owned()).is_some() {
                    return Err(OAuthError::new("invalid_request", "A parameter is repeated."));
                }
            }
        }
        "application/json" => {
            let value: serde_json::Value = serde_json::from_slice(req.body()).map_err(|_| bad_body())?;
            let object = value.as_object().ok_or_else(bad_body)?;
            for (k, v) in object {
                match v {
                    serde_json::Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    serde_json::Value::Null => {}
                    _ => return Err(OAuthError::new("invalid_request", "Every parameter must be a string.")),
                }
            }
        }
        _ if req.body().is_empty() => {}
        _ => return Err(bad_body()),
    }
    if out.values().any(|v| v.len() > 1024 || v.chars().any(char::is_control)) {
        return Err(OAuthError::new("invalid_request", "A parameter is too long or has control characters."));
    }
    Ok(out)
}

/// `client_id:client_secret` from `Authorization: Basic`, each form-decoded (§2.3.1).
fn basic_credentials(req: &Request) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::new("invalid_client", "The client could not be authenticated.");
    let value = value.to_str().map_err(|_| bad())?;
    let encoded =
        value.get(..6).filter(|s| s.eq_ignore_ascii_case("basic ")).map(|_| value[6..].trim()).ok_or_else(bad)?;
    let decoded = B64.decode(encoded).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let form_decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8().map(|c| c.into_owned());
    Ok(Some((form_decode(id).map_err(|_| bad())?, form_decode(secret).map_err(|_| bad())?)))
}

pub async fn token(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    match grant(state, req).await {
        Ok(res) => Ok(res),
        Err(Failure::OAuth(e)) => Ok(e.into_response()),
        Err(Failure::Api(e)) => Err(e),
    }
}

enum Failure {
    OAuth(OAuthError),
    Api(ApiError),
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Self {
        Failure::OAuth(e)
    }
}

async fn grant(state: &AppState, req: &Request) -> Result<Response, Failure> {
    let params = parameters(req)?;
    let basic = basic_credentials(req)?;
    let posted = (params.get("client_id"), params.get("client_secret"));
    let (client_id, secret) = match (basic, posted) {
        (Some(_), (_, Some(_))) => {
            return Err(OAuthError::new("invalid_request", "Authenticate the client one way: Basic or the body.").into())
        }
        (Some((id, secret)), (posted_id, None)) => {
            // A client_id in the body beside Basic must name the same client.
            if posted_id.is_some_and(|p| *p != id) {
                return Err(
                    OAuthError::new("invalid_request", "client_id differs from the authenticated client.").into()
                );
            }
            (id, secret)
        }
        (None, (Some(id), Some(secret))) => (id.clone(), secret.clone()),
        (None, _) => {
            return Err(OAuthError::new("invalid_client", "The client could not be authenticated.").into());
        }
    };
    match params.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new("unsupported_grant_type", "Only client_credentials is supported.").into())
        }
        None => return Err(OAuthError::new("invalid_request", "grant_type is required.").into()),
    }
    match oauth::issue(state, &client_id, &secret, params.get("scope").map(String::as_str)).await {
        Ok(g) => Ok(no_store(json(
            StatusCode::OK,
            &serde_json::json!({
                "access_token": g.access_token,
                "token_type": "Bearer",
                "expires_in": g.expires_in,
                "scope": g.scopes.to_string(),
            }),
        ))),
        Err(GrantError::InvalidClient) => {
            Err(OAuthError::new("invalid_client", "The client could not be authenticated.").into())
        }
        Err(GrantError::InvalidScope) => Err(OAuthError::new(
            "invalid_scope",
            "The requested scope is unknown or exceeds what the client was granted.",
        )
        .into()),
        Err(GrantError::Store(e)) => Err(Failure::Api(e.into())),
    }
}

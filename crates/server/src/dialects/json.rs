//! Body parsing shared by the dialects: bytes within the limit, then JSON, then the DTO, with the
//! failing field's path. Each dialect turns a [`BodyError`] into its own envelope.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::state::AppState;

/// Why a body was refused: the field (or `body`) and a reason.
#[derive(Debug)]
pub struct BodyError {
    pub field: String,
    pub reason: String,
}

/// Reads and parses a JSON body.
pub async fn parse_json<T: DeserializeOwned>(req: Request, state: &AppState) -> Result<T, BodyError> {
    let bytes = Bytes::from_request(req, state).await.map_err(|e| BodyError {
        field: "body".into(),
        reason: if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            format!("larger than {} bytes", state.settings.body_limit_bytes)
        } else {
            "unreadable body".into()
        },
    })?;
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let reason = if inner.is_syntax() || inner.is_eof() {
            "malformed JSON".to_string()
        } else {
            // serde's messages name the expected type; strip the position suffix.
            inner.to_string().split(" at line ").next().unwrap_or_default().to_string()
        };
        let field = match path.as_str() {
            "." | "" => missing_field(&reason).unwrap_or_else(|| "body".into()),
            p => p.to_string(),
        };
        BodyError { field, reason }
    })
}

fn missing_field(reason: &str) -> Option<String> {
    reason.strip_prefix("missing field `").and_then(|r| r.split('`').next()).map(str::to_string)
}

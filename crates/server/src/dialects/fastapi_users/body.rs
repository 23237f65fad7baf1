//! JSON bodies read the way FastAPI (pydantic 2) validates them, so that a failure is the 422 list
//! a client of the library already parses.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value, json};

use super::error::{FuError, FuResult, missing};
use crate::state::AppState;

/// The fields of a JSON object body.
pub struct Body(Map<String, Value>);

impl Body {
    pub async fn read(req: Request, state: &AppState) -> FuResult<Body> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            FuError::unprocessable(vec![json!({"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error",
                                               "input": {}, "ctx": {"error": "unreadable or too large body"}})])
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(FuError::unprocessable(vec![
                json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}),
            ]));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            FuError::unprocessable(vec![json!({"type": "json_invalid", "loc": ["body", e.column().saturating_sub(1)],
                                               "msg": "JSON decode error", "input": {}, "ctx": {"error": e.to_string()}})])
        })?;
        match value {
            Value::Object(map) => Ok(Body(map)),
            other => Err(FuError::unprocessable(vec![json!({"type": "model_attributes_type", "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from", "input": other})])),
        }
    }

    /// Collects the errors of several fields before answering, as pydantic does.
    pub fn fields<const N: usize>(&self, spec: [(&str, bool); N]) -> FuResult<[Option<String>; N]> {
        let mut errors = Vec::new();
        let values = spec.map(|(name, required)| match self.0.get(name) {
            None | Some(Value::Null) if required => {
                errors.push(missing(name));
                None
            }
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                errors.push(json!({"type": "string_type", "loc": ["body", name], "msg": "Input should be a valid string", "input": other}));
                None
            }
        });
        if errors.is_empty() { Ok(values) } else { Err(FuError::unprocessable(errors)) }
    }
}

/// pydantic's `EmailStr` refusal.
pub fn invalid_email(input: &str) -> FuError {
    let reason = "The email address is not valid.";
    FuError::unprocessable(vec![json!({"type": "value_error", "loc": ["body", "email"],
        "msg": format!("value is not a valid email address: {reason}"), "input": input, "ctx": {"reason": reason}})])
}

//! JSON bodies read the way FastAPI (pydantic 2) validates them, so that a failure is the 422 list
//! a client of the library already parses.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value, json};

use super::error::{FuError, FuResult, missing};
use crate::dialects::json::is_json;
use crate::state::AppState;

/// How the library's route declares its body, which decides FastAPI's answer to a body that is
/// not a JSON object.
#[derive(Clone, Copy)]
pub enum Declared {
    /// One pydantic model (`user_create: UserCreate`): the body as a whole is refused.
    Model,
    /// Fields taken with `Body(..., embed=True)` or several `Body()` parameters: each required
    /// field is reported missing.
    Embedded,
}

/// The fields of a JSON object body.
pub struct Body(Map<String, Value>);

impl Body {
    /// Reads the body. As FastAPI (0.132 and later, `strict_content_type`) does, a non-empty body
    /// must be declared `application/json` or `application/*+json`; any other is read as text that
    /// is no object, which also refuses the form and `text/plain` bodies a page on another site
    /// could post without a preflight.
    pub async fn read(req: Request, state: &AppState, declared: Declared) -> FuResult<Body> {
        let json = is_json(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            FuError::unprocessable(vec![json!({"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error",
                                               "input": {}, "ctx": {"error": "unreadable or too large body"}})])
        })?;
        if !bytes.is_empty() && !json {
            return Body::not_an_object(declared, Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Body::not_an_object(declared, Value::Null);
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            FuError::unprocessable(vec![json!({"type": "json_invalid", "loc": ["body", e.column().saturating_sub(1)],
                                               "msg": "JSON decode error", "input": {}, "ctx": {"error": e.to_string()}})])
        })?;
        match value {
            Value::Object(map) => Ok(Body(map)),
            other => Body::not_an_object(declared, other),
        }
    }

    /// FastAPI's answer to a body that is absent (`Null`), not JSON (its text) or not an object:
    /// an embedded route finds none of its fields, a model route refuses the body.
    fn not_an_object(declared: Declared, input: Value) -> FuResult<Body> {
        match (declared, input) {
            (Declared::Embedded, _) => Ok(Body(Map::new())),
            (Declared::Model, Value::Null) => Err(FuError::unprocessable(vec![
                json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}),
            ])),
            (Declared::Model, input) => {
                Err(FuError::unprocessable(vec![json!({"type": "model_attributes_type", "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from", "input": input})]))
            }
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

//! MOSIP's request and response envelopes, its error list, and the mapping of core errors onto
//! its codes. Errors answer HTTP 200 with `errors` set, as MOSIP does; only a body that is not
//! JSON at all is a 400 (still an envelope), a rate limit a 429, a server fault a 500.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use serde_json::{Map, Value, json};

use crate::dialects::json::read_json_body;
use crate::state::AppState;

/// A MOSIP error: HTTP status, `errorCode` and `message`.
#[derive(Debug)]
pub struct MosipError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<i64>,
}

impl MosipError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        MosipError { status: StatusCode::OK, code, message: message.into(), retry_after: None }
    }

    /// `KER-ATH-004`: the request is not what the service takes.
    pub fn invalid(field: &str, reason: &str) -> Self {
        Self::new("KER-ATH-004", format!("Error while validating the request: {field}: {reason}"))
    }

    /// `KER-ATH-019`: a required field is missing or blank.
    pub fn missing(field: &str) -> Self {
        Self::new("KER-ATH-019", format!("{field} should not be null or empty"))
    }

    /// `KER-ATH-026` for an appId that names no realm.
    pub fn realm_not_found(app_id: &str) -> Self {
        Self::new("KER-ATH-026", format!("Realm not found:: {app_id}"))
    }

    pub fn invalid_token() -> Self {
        Self::new("KER-ATH-401", "Authentication Failed : Invalid Token :Token verification failed")
    }

    pub fn cookies_empty() -> Self {
        Self::new("KER-ATH-006", "Cookies are empty")
    }

    pub fn too_many(seconds: i64) -> Self {
        MosipError {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(seconds),
            ..Self::new("KER-ATH-429", "Too many requests; try again later")
        }
    }

    #[cfg(test)]
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<CoreError> for MosipError {
    fn from(e: CoreError) -> Self {
        match e {
            // A locked account answers as a wrong password does: MOSIP has no lockout code.
            CoreError::InvalidCredentials | CoreError::EmailNotVerified | CoreError::AccountLocked { .. } => {
                Self::new("KER-ATH-023", "Invalid Credentials")
            }
            CoreError::UserNotFound => Self::new("AUTH_ERR_USER_NOT_FOUND", "The passed in user is not found"),
            // The source's own message for this code.
            CoreError::NoChannelAddress => Self::new("AUTH_ERR_CHANNELPATH_NOT_FOUND", "The passed in user is not found"),
            CoreError::TooManyChannels => {
                Self::new("AUTH_ERR_MULTIPLE_CHANNELS", "Multiple channels are not supported in your module.")
            }
            CoreError::InvalidOtp { .. } | CoreError::ChallengeExhausted | CoreError::InvalidMfaCode => {
                Self::new("AUTH_ERR_INVALIDOTP", "The passed in OTP is invalid")
            }
            CoreError::OtpExpired => Self::new("AUTH_ERR_EXPIREDOTP", "The passed OTP is expired"),
            CoreError::InvalidRefreshToken | CoreError::RefreshTokenReused => {
                Self::new("KER-ATH-401", "Authentication Failed : Invalid Token :Refresh token verification failed")
            }
            CoreError::Unauthorized | CoreError::InvalidToken | CoreError::Forbidden => Self::invalid_token(),
            CoreError::UnknownApplication | CoreError::TenantNotFound | CoreError::Disabled | CoreError::NotFound => {
                Self::new("KER-ATH-401", "Authentication Failed")
            }
            CoreError::RateLimited { retry_after_seconds } => Self::too_many(retry_after_seconds),
            CoreError::Overloaded => Self::too_many(1),
            CoreError::Validation(map) => {
                let detail = map.iter().map(|(f, r)| format!("{f}: {r}")).collect::<Vec<_>>().join("; ");
                Self::new("KER-ATH-004", format!("Error while validating the request: {detail}"))
            }
            CoreError::WeakPassword(_) | CoreError::Conflict(_) => Self::new("KER-ATH-004", e.to_string()),
            CoreError::Storage(cause) if castellan_core::error::unavailable(cause.as_ref()) => {
                tracing::warn!(cause = %castellan_core::error::Chain(cause.as_ref()), "mosip: database unavailable");
                MosipError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    ..Self::new("KER-ATH-500", "Service temporarily unavailable, please retry")
                }
            }
            CoreError::Storage(cause) | CoreError::Internal(cause) => {
                tracing::error!(cause = %castellan_core::error::Chain(cause.as_ref()), "mosip: internal error");
                MosipError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    ..Self::new("KER-ATH-500", "Server error occured,Please check the logs")
                }
            }
        }
    }
}

pub type MosipResult<T> = Result<T, MosipError>;

/// A successful answer: the `response` object and any headers (token, cookies).
pub struct Reply {
    pub response: Value,
    pub headers: HeaderMap,
}

impl Reply {
    pub fn new(response: Value) -> Self {
        Reply { response, headers: HeaderMap::new() }
    }
}

/// `responsetime`: ISO-8601 UTC with milliseconds, from the wall clock (a fake clock in tests
/// moves token times, not this stamp).
fn response_time() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

fn envelope(id: Option<&str>, response: Value, errors: Value) -> Value {
    json!({
        "id": id,
        "version": "1.0",
        "ver": "1.0",
        "responsetime": response_time(),
        "metadata": null,
        "response": response,
        "errors": errors,
    })
}

/// The answer of a service: `id` is its service id, else the request's.
pub fn respond(id: Option<&str>, result: MosipResult<Reply>) -> Response {
    match result {
        Ok(reply) => {
            let mut response = Json(envelope(id, reply.response, Value::Null)).into_response();
            response.headers_mut().extend(reply.headers);
            response
        }
        Err(e) => error_response(id, e),
    }
}

pub fn error_response(id: Option<&str>, e: MosipError) -> Response {
    let body = envelope(id, Value::Null, json!([{ "errorCode": e.code, "message": e.message }]));
    let mut response = (e.status, Json(body)).into_response();
    if let Some(s) = e.retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// A request envelope: `id` and the `request` object, whose field names match case-insensitively.
pub struct Envelope {
    pub id: Option<String>,
    pub request: Fields,
}

/// Why an envelope could not be read, and the id to answer with (if one was readable).
pub struct Refused {
    pub id: Option<String>,
    pub error: MosipError,
}

impl Envelope {
    /// Parses a body. `request_required`: whether a missing `request` is an error.
    pub fn parse(bytes: &[u8], request_required: bool) -> Result<Envelope, Refused> {
        let refuse = |id: Option<String>, error| Refused { id, error };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            if request_required {
                return Err(refuse(None, MosipError::missing("request")));
            }
            return Ok(Envelope { id: None, request: Fields::default() });
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|_| Refused {
            id: None,
            error: MosipError { status: StatusCode::BAD_REQUEST, ..MosipError::invalid("body", "malformed JSON") },
        })?;
        let Value::Object(top) = value else {
            return Err(refuse(None, MosipError::invalid("body", "must be a JSON object")));
        };
        let top = Fields::from_map(top);
        let id = match top.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= 200 => Some(s.clone()),
            Some(_) => return Err(refuse(None, MosipError::invalid("id", "must be a string of at most 200 characters"))),
        };
        if let Some(v) = top.get("requesttime")
            && !(v.is_string() || v.is_null())
        {
            return Err(refuse(id, MosipError::invalid("requesttime", "must be an ISO-8601 string")));
        }
        let request = match top.get("request") {
            None | Some(Value::Null) if request_required => return Err(refuse(id, MosipError::missing("request"))),
            None | Some(Value::Null) => Fields::default(),
            Some(Value::Object(m)) => Fields::from_map(m.clone()),
            Some(_) => return Err(refuse(id, MosipError::invalid("request", "must be an object"))),
        };
        Ok(Envelope { id, request })
    }
}

/// The fields of an object, keyed by lower-cased name.
#[derive(Debug, Default)]
pub struct Fields(Map<String, Value>);

impl Fields {
    fn from_map(map: Map<String, Value>) -> Self {
        let mut lowered = Map::new();
        for (k, v) in map {
            // The first spelling wins if a client sends the same name twice in different cases.
            lowered.entry(k.to_ascii_lowercase()).or_insert(v);
        }
        Fields(lowered)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(&name.to_ascii_lowercase())
    }

    /// A string field (a number is taken as its digits, since ids like UINs arrive either way).
    pub fn text(&self, name: &str, max: usize) -> MosipResult<Option<String>> {
        let s = match self.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(MosipError::invalid(name, "must be a string")),
        };
        if s.len() > max {
            return Err(MosipError::invalid(name, &format!("longer than {max} characters")));
        }
        Ok(Some(s).filter(|s| !s.is_empty()))
    }

    /// A required, non-blank string field.
    pub fn required(&self, name: &str, max: usize) -> MosipResult<String> {
        self.text(name, max)?.ok_or_else(|| MosipError::missing(name))
    }

    /// An array of strings (a lone string is taken as an array of one).
    pub fn strings(&self, name: &str) -> MosipResult<Option<Vec<String>>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(items)) if items.len() <= 10 => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| MosipError::invalid(name, "must be an array of strings")))
                .collect::<MosipResult<Vec<_>>>()
                .map(Some),
            Some(_) => Err(MosipError::invalid(name, "must be an array of at most 10 strings")),
        }
    }

    /// An object of string values (template variables): at most 20, each at most 200 characters.
    pub fn string_map(&self, name: &str) -> MosipResult<Vec<(String, String)>> {
        let bad = || MosipError::invalid(name, "must be an object of at most 20 short string values");
        match self.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(m)) if m.len() <= 20 => m
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err(bad()),
                    };
                    if k.len() > 64 || v.len() > 200 { Err(bad()) } else { Ok((k.clone(), v)) }
                })
                .collect(),
            Some(_) => Err(bad()),
        }
    }
}

/// The body of a request as an envelope; `Err` is already a MOSIP answer.
pub async fn read_envelope(
    req: Request,
    state: &AppState,
    service_id: Option<&str>,
    request_required: bool,
) -> Result<Envelope, Response> {
    // A body that is not declared JSON is refused as one that is not JSON: 400, KER-ATH-004.
    let bytes = read_json_body(req, state).await.map_err(|e| {
        error_response(service_id, MosipError { status: StatusCode::BAD_REQUEST, ..MosipError::invalid(&e.field, &e.reason) })
    })?;
    Envelope::parse(&bytes, request_required).map_err(|r| error_response(service_id.or(r.id.as_deref()), r.error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_field_names_match_whatever_their_case() {
        let body = br#"{"id":"x","request":{"UserID":"110006","otpchannel":["email"],"APPID":"ida"}}"#;
        let env = Envelope::parse(body, true).ok();
        assert_eq!(env.as_ref().and_then(|e| e.id.as_deref()), Some("x"));
        let field = |name: &str| env.as_ref().and_then(|e| e.request.required(name, 100).ok());
        assert_eq!(field("userId").as_deref(), Some("110006"));
        assert_eq!(field("appId").as_deref(), Some("ida"));
        let channels = env.as_ref().and_then(|e| e.request.strings("otpChannel").ok().flatten());
        assert_eq!(channels, Some(vec!["email".to_string()]));
    }

    #[test]
    fn malformed_envelopes_are_refused_with_codes() {
        let code = |body: &[u8]| Envelope::parse(body, true).err().map(|r| (r.error.status, r.error.code));
        assert_eq!(code(b"{not json"), Some((StatusCode::BAD_REQUEST, "KER-ATH-004")));
        assert_eq!(code(b"{}"), Some((StatusCode::OK, "KER-ATH-019")));
        assert_eq!(code(br#"{"request": 5}"#), Some((StatusCode::OK, "KER-ATH-004")));
        assert_eq!(code(br#"{"id": 5, "request": {}}"#), Some((StatusCode::OK, "KER-ATH-004")));
        assert_eq!(code(b"[]"), Some((StatusCode::OK, "KER-ATH-004")));
    }

    #[test]
    fn the_response_time_has_milliseconds_and_zulu() {
        let t = response_time();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.');
    }
}

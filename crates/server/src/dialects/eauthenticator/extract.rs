//! Extractors of the pages and the console API whose refusals stay in the dialect's shape: an
//! HTML page for a form that cannot be read, and an application id that is not a UUID handed to
//! the handler as "names nothing" (axum's own rejections are plain text).

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::de::DeserializeOwned;

use super::html::{Opener, page};

/// A form body (`application/x-www-form-urlencoded`). Another content type answers a 415 page; a
/// repeated field or a value of the wrong type a 400 page.
pub struct PageForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let status = match Form::<T>::from_request(req, state).await {
            Ok(Form(v)) => return Ok(PageForm(v)),
            Err(FormRejection::InvalidFormContentType(_)) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Err(_) => StatusCode::BAD_REQUEST,
        };
        Err(page(
            status,
            "Form not understood",
            "<h1>Form not understood</h1><p>This form must be sent as \
             <code>application/x-www-form-urlencoded</code>, each field once.</p>",
            None,
            &[],
            Opener::Isolated,
        ))
    }
}

/// The `{id}` of an application path: `None` when it is not a UUID, so the handler answers it
/// as an application that does not exist, after its own sign-in check.
pub struct AppPath(pub Option<castellan_core::model::AppId>);

impl<S: Send + Sync> FromRequestParts<S> for AppPath {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let id = Path::<String>::from_request_parts(parts, state).await.ok().and_then(|Path(s)| s.parse().ok());
        Ok(AppPath(id))
    }
}

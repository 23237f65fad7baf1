//! A bare HTTP/1.1 keep-alive connection: one per load worker, so the client spends as little CPU
//! as it can on the two cores it shares with the server.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use tokio::net::TcpStream;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, BoxError>;

pub struct Conn {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

/// What to send: everything but the connection.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

impl Call {
    pub fn get(path: &str) -> Self {
        Call { method: Method::GET, path: path.into(), headers: Vec::new(), body: None }
    }

    pub fn post_json(path: &str, body: String) -> Self {
        Call {
            method: Method::POST,
            path: path.into(),
            headers: vec![("content-type", "application/json".into())],
            body: Some(body),
        }
    }

    /// A POST of an `application/x-www-form-urlencoded` body (already encoded).
    pub fn post_form(path: &str, body: String) -> Self {
        Call {
            method: Method::POST,
            path: path.into(),
            headers: vec![("content-type", "application/x-www-form-urlencoded".into())],
            body: Some(body),
        }
    }

    pub fn method(mut self, m: Method) -> Self {
        self.method = m;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: String) -> Self {
        self.headers.push(("content-type", "application/json".into()));
        self.body = Some(body);
        self
    }
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection ends when the worker drops its sender; its error then is of no interest.
            let _ = conn.await;
        });
        Ok(Conn { addr, sender })
    }

    pub async fn send(&mut self, call: &Call) -> Result<(StatusCode, Bytes)> {
        let (status, _, body) = self.exchange(call).await?;
        Ok((status, body))
    }

    /// [`Conn::send`], with the answer's headers (cookies, `Location`).
    pub async fn exchange(&mut self, call: &Call) -> Result<(StatusCode, HeaderMap, Bytes)> {
        if self.sender.ready().await.is_err() {
            *self = Conn::open(self.addr).await?;
        }
        let mut req = Request::builder().method(call.method.clone()).uri(&call.path).header("host", self.addr.to_string());
        for (name, value) in &call.headers {
            req = req.header(*name, value);
        }
        let body = call.body.clone().map(Bytes::from).unwrap_or_default();
        let (parts, body) = self.sender.send_request(req.body(Full::new(body))?).await?.into_parts();
        let bytes = body.collect().await?.to_bytes();
        Ok((parts.status, parts.headers, bytes))
    }
}

/// One request on a fresh connection, for set-up calls.
pub async fn once(addr: SocketAddr, call: &Call) -> Result<(StatusCode, serde_json::Value)> {
    let (status, body) = Conn::open(addr).await?.send(call).await?;
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Ok((status, json))
}

/// Like `once`, but a non-2xx answer is an error that shows the body.
pub async fn expect_ok(addr: SocketAddr, call: &Call) -> Result<serde_json::Value> {
    let (status, json) = once(addr, call).await?;
    if !status.is_success() {
        return Err(format!("{} {} answered {status}: {json}", call.method, call.path).into());
    }
    Ok(json)
}

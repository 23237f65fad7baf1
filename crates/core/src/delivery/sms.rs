//! SMS through an HTTP provider: a generic JSON webhook, a Twilio-style API or an Africa's
//! Talking-style API, each at a configurable base URL (so a local server can stand in for it).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::SmsSender;
use crate::error::{CoreError, CoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsProvider {
    /// POST `{"to", "message", "id"}` as JSON to the configured URL.
    Webhook,
    /// POST `{base}/2010-04-01/Accounts/{username}/Messages.json`, form `To`, `From`, `Body`,
    /// HTTP basic auth (account SID, auth token).
    Twilio,
    /// POST `{base}/version1/messaging`, form `username`, `to`, `message`, `from`, header `apiKey`.
    AfricasTalking,
}

impl SmsProvider {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webhook" => Some(Self::Webhook),
            "twilio" => Some(Self::Twilio),
            "africastalking" => Some(Self::AfricasTalking),
            _ => None,
        }
    }

    fn default_base(self) -> Option<&'static str> {
        match self {
            Self::Webhook => None,
            Self::Twilio => Some("https://api.twilio.com"),
            Self::AfricasTalking => Some("https://api.africastalking.com"),
        }
    }
}

/// Where and as whom to send.
#[derive(Debug, Clone, Default)]
pub struct SmsCredentials {
    pub url: Option<String>,
    pub username: Option<String>,
    pub api_key: Option<String>,
    pub from: Option<String>,
}

pub struct HttpSms {
    provider: SmsProvider,
    base: String,
    credentials: SmsCredentials,
    client: reqwest::Client,
}

impl HttpSms {
    pub fn new(provider: SmsProvider, credentials: SmsCredentials) -> CoreResult<Self> {
        let base = credentials
            .url
            .clone()
            .filter(|u| !u.is_empty())
            .or_else(|| provider.default_base().map(str::to_string))
            .ok_or_else(|| CoreError::Internal("CASTELLAN_SMS_URL is required for the webhook provider".into()))?;
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CoreError::Internal("CASTELLAN_SMS_URL must be an http(s) URL".into()));
        }
        let needs = |v: &Option<String>, name: &str| {
            if v.as_deref().is_none_or(str::is_empty) {
                Err(CoreError::internal(format!("{name} is required for this SMS provider")))
            } else {
                Ok(())
            }
        };
        if provider != SmsProvider::Webhook {
            needs(&credentials.username, "CASTELLAN_SMS_USERNAME")?;
            needs(&credentials.api_key, "CASTELLAN_SMS_API_KEY")?;
        }
        if provider == SmsProvider::Twilio {
            needs(&credentials.from, "CASTELLAN_SMS_FROM")?;
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(CoreError::internal)?;
        Ok(HttpSms { provider, base: base.trim_end_matches('/').to_string(), credentials, client })
    }

    fn request(&self, to: &str, body: &str, id: &str) -> reqwest::RequestBuilder {
        let c = &self.credentials;
        let from = c.from.clone().unwrap_or_default();
        match self.provider {
            SmsProvider::Webhook => {
                let rb = self.client.post(&self.base).json(&json!({ "to": to, "message": body, "id": id }));
                match c.api_key.as_deref().filter(|k| !k.is_empty()) {
                    Some(key) => rb.bearer_auth(key),
                    None => rb,
                }
            }
            SmsProvider::Twilio => {
                let sid = c.username.clone().unwrap_or_default();
                self.client
                    .post(format!("{}/2010-04-01/Accounts/{sid}/Messages.json", self.base))
                    .basic_auth(&sid, c.api_key.as_deref())
                    .form(&[("To", to), ("From", from.as_str()), ("Body", body)])
            }
            SmsProvider::AfricasTalking => {
                let username = c.username.clone().unwrap_or_default();
                let mut form = vec![("username", username.as_str()), ("to", to), ("message", body)];
                if !from.is_empty() {
                    form.push(("from", from.as_str()));
                }
                self.client
                    .post(format!("{}/version1/messaging", self.base))
                    .header("apiKey", c.api_key.clone().unwrap_or_default())
                    .header("Accept", "application/json")
                    .form(&form)
            }
        }
    }
}

/// At most `n` characters of a provider's answer, for the error log.
fn excerpt(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

#[async_trait]
impl SmsSender for HttpSms {
    fn name(&self) -> &'static str {
        match self.provider {
            SmsProvider::Webhook => "sms-webhook",
            SmsProvider::Twilio => "twilio",
            SmsProvider::AfricasTalking => "africastalking",
        }
    }

    async fn send(&self, to: &str, body: &str, id: &str) -> Result<(), String> {
        let response = self.request(to, body, id).send().await.map_err(|e| format!("{}: {}", self.name(), e.without_url()))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{}: HTTP {} {}", self.name(), status.as_u16(), excerpt(&text, 200)));
        }
        if self.provider == SmsProvider::AfricasTalking {
            // A 201 can still carry per-recipient failures (insufficient balance, invalid number…).
            let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let recipients = parsed.pointer("/SMSMessageData/Recipients").and_then(Value::as_array);
            let accepted = recipients.is_some_and(|r| {
                !r.is_empty() && r.iter().all(|x| matches!(x.get("statusCode").and_then(Value::as_i64), Some(100..=102)))
            });
            if !accepted {
                return Err(format!("{}: not accepted: {}", self.name(), excerpt(&text, 200)));
            }
        }
        Ok(())
    }
}

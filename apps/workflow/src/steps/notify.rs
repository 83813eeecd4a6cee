//! The `notify` step: an e-mail through the kernel mailer (`Platform.mailer`: SMTP, or the
//! outbox directory when `SMTP_HOST` is unset), or a signed webhook through the
//! SSRF-guarded client.
//!
//! Webhook signatures follow Stripe's scheme: the request carries
//! `X-Trellis-Timestamp: <unix seconds>` and
//! `X-Trellis-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, where
//! `<body>` is the exact bytes sent. A receiver recomputes the HMAC over the timestamp, a
//! dot and the raw body, compares in constant time, and rejects timestamps too far from its
//! clock (e.g. 5 minutes) to stop replays. Without a `secret` neither header is sent.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use trellis_kernel::mail::{MailError, Mailer, mask_email};

use super::http::{self, HttpMethod, HttpParams, StepFailure};
use super::net::StepClient;

/// Header carrying the signing time, in unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Trellis-Timestamp";
/// Header carrying `sha256=<hex>` (see the module docs).
pub const SIGNATURE_HEADER: &str = "X-Trellis-Signature";
/// The most response body a webhook call reads (it is only kept as the status anyway).
pub const WEBHOOK_MAX_BODY_BYTES: usize = 64 * 1024;

/// How a `notify` step delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A plain-text e-mail to `to`.
    Email,
    /// A signed JSON POST to `url`.
    Webhook,
}

/// The (rendered) parameters of a `notify` step; which fields are required depends on the
/// channel (checked by [`crate::steps::schema::validate`] and again here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyParams {
    /// `email` or `webhook`.
    pub channel: Channel,
    /// E-mail recipient (email).
    #[serde(default)]
    pub to: Option<String>,
    /// E-mail subject (email).
    #[serde(default)]
    pub subject: Option<String>,
    /// E-mail text (email).
    #[serde(default)]
    pub body: Option<String>,
    /// Target URL (webhook).
    #[serde(default)]
    pub url: Option<String>,
    /// HMAC key for the signature headers (webhook; optional).
    #[serde(default)]
    pub secret: Option<String>,
    /// The JSON to POST (webhook; `null` when absent).
    #[serde(default)]
    pub payload: Option<Value>,
}

/// The signature header value for `body` sent at `timestamp` (unix seconds):
/// `sha256=` and the lower-case hex HMAC-SHA256 keyed by `secret` over
/// `"<timestamp>.<body>"`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[expect(
    clippy::expect_used,
    reason = "HMAC accepts keys of any length: new_from_slice cannot fail for Hmac<Sha256>"
)]
fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// Runs a `notify` step: e-mail through `mailer`, webhook through `client`, signed at
/// `now_unix` (the platform clock's unix seconds). Returns the step output:
/// `{"channel": "email", "to": "a***@example.com"}` or
/// `{"channel": "webhook", "status": 200}`.
///
/// Errors: a missing channel field or an invalid address is permanent; SMTP and outbox
/// failures are retryable; webhook failures are classified as in
/// [`crate::steps::http::execute`].
pub async fn execute(
    client: &StepClient,
    mailer: &Mailer,
    p: NotifyParams,
    now_unix: i64,
) -> Result<Value, StepFailure> {
    match p.channel {
        Channel::Email => {
            let to =
                p.to.ok_or_else(|| StepFailure::permanent("notify email needs 'to'"))?;
            let subject = p.subject.unwrap_or_default();
            let body = p.body.unwrap_or_default();
            email(mailer, &to, &subject, &body).await?;
            Ok(json!({"channel": "email", "to": mask_email(&to)}))
        }
        Channel::Webhook => {
            let url = p
                .url
                .ok_or_else(|| StepFailure::permanent("notify webhook needs 'url'"))?;
            let payload = p.payload.unwrap_or(Value::Null);
            let status = webhook(client, &url, p.secret.as_deref(), &payload, now_unix).await?;
            Ok(json!({"channel": "webhook", "status": status}))
        }
    }
}

/// Sends a plain-text e-mail through the kernel mailer.
///
/// Errors: an invalid address or message is permanent; SMTP or outbox failures retryable.
pub async fn email(
    mailer: &Mailer,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), StepFailure> {
    mailer.send(to, subject, body).await.map_err(|e| {
        let retryable = matches!(e, MailError::Smtp(_) | MailError::Io(_));
        // MailError's Display masks addresses.
        StepFailure {
            message: format!("mail not sent: {e}"),
            retryable,
        }
    })
}

/// POSTs `payload` as JSON to `url` with the signature headers when `secret` is given,
/// and returns the response status (2xx/3xx; other statuses are failures).
pub async fn webhook(
    client: &StepClient,
    url: &str,
    secret: Option<&str>,
    payload: &Value,
    now_unix: i64,
) -> Result<u16, StepFailure> {
    let body = serde_json::to_string(payload)
        .map_err(|e| StepFailure::permanent(format!("payload is not JSON: {e}")))?;
    let mut headers = BTreeMap::new();
    headers.insert("Content-Type".to_string(), "application/json".to_string());
    if let Some(secret) = secret {
        headers.insert(TIMESTAMP_HEADER.to_string(), now_unix.to_string());
        headers.insert(
            SIGNATURE_HEADER.to_string(),
            sign(secret, now_unix, body.as_bytes()),
        );
    }
    let params = HttpParams {
        method: HttpMethod::Post,
        url: url.to_string(),
        headers,
        // A string body is sent byte for byte: exactly what was signed.
        body: Some(Value::String(body)),
        timeout_seconds: None,
        proxy_pool_id: None,
    };
    let out = http::execute(client, params, WEBHOOK_MAX_BODY_BYTES).await?;
    Ok(out.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use std::time::Duration;

    /// Test vector, computed independently (openssl and Python hmac agree):
    /// `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test`.
    #[test]
    fn sign_matches_the_test_vector() {
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn signature_depends_on_every_input() {
        let base = sign("k", 1, b"x");
        assert_ne!(base, sign("k2", 1, b"x"));
        assert_ne!(base, sign("k", 2, b"x"));
        assert_ne!(base, sign("k", 1, b"y"));
        assert!(base.starts_with("sha256=") && base.len() == 7 + 64);
    }

    /// A receiver that verifies the signature as a webhook consumer would.
    async fn verifying_server(secret: &'static str) -> String {
        let router = Router::new().route(
            "/hook",
            post(
                move |headers: HeaderMap, body: axum::body::Bytes| async move {
                    let ts = headers.get(TIMESTAMP_HEADER).and_then(|v| v.to_str().ok());
                    let sig = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
                    let (Some(ts), Some(sig)) = (ts, sig) else {
                        return StatusCode::UNAUTHORIZED;
                    };
                    let Ok(ts) = ts.parse::<i64>() else {
                        return StatusCode::BAD_REQUEST;
                    };
                    let mut mac = hmac_sha256(secret.as_bytes());
                    mac.update(format!("{ts}.").as_bytes());
                    mac.update(&body);
                    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
                        return StatusCode::UNAUTHORIZED;
                    };
                    let Ok(raw) = hex::decode(hex_sig) else {
                        return StatusCode::UNAUTHORIZED;
                    };
                    if mac.verify_slice(&raw).is_err() {
                        return StatusCode::UNAUTHORIZED;
                    }
                    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if payload == json!({"event": "done", "n": 3}) {
                        StatusCode::NO_CONTENT
                    } else {
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                },
            ),
        );
        super::super::http::tests::serve(router).await
    }

    #[tokio::test]
    async fn webhook_signature_is_verified_by_the_server() {
        let base = verifying_server("whsec_abc").await;
        let client = super::super::net::client(true, Duration::from_secs(5)).unwrap();
        let p = NotifyParams {
            channel: Channel::Webhook,
            to: None,
            subject: None,
            body: None,
            url: Some(format!("{base}/hook")),
            secret: Some("whsec_abc".into()),
            payload: Some(json!({"event": "done", "n": 3})),
        };
        let mailer = Mailer::Outbox {
            dir: std::env::temp_dir().join("trellis-notify-unused"),
        };
        let out = execute(&client, &mailer, p.clone(), 1_700_000_000)
            .await
            .unwrap();
        assert_eq!(out, json!({"channel": "webhook", "status": 204}));

        let wrong = NotifyParams {
            secret: Some("other".into()),
            ..p.clone()
        };
        let err = execute(&client, &mailer, wrong, 1_700_000_000)
            .await
            .unwrap_err();
        assert!(err.message.contains("401") && !err.retryable, "{err:?}");

        let unsigned = NotifyParams { secret: None, ..p };
        let err = execute(&client, &mailer, unsigned, 1_700_000_000)
            .await
            .unwrap_err();
        assert!(err.message.contains("401"), "{err:?}");
    }

    #[tokio::test]
    async fn webhook_to_a_private_address_is_refused() {
        let client = super::super::net::client(false, Duration::from_secs(5)).unwrap();
        let err = webhook(
            &client,
            "http://169.254.169.254/hook",
            Some("k"),
            &json!({}),
            1,
        )
        .await
        .unwrap_err();
        assert!(!err.retryable && err.message.contains("SSRF"), "{err:?}");
    }

    #[tokio::test]
    async fn email_goes_through_the_kernel_mailer() {
        let dir = std::env::temp_dir().join(format!("trellis-notify-{}", uuid::Uuid::new_v4()));
        let mailer = Mailer::Outbox { dir: dir.clone() };
        let client = super::super::net::client(false, Duration::from_secs(5)).unwrap();
        let p = NotifyParams {
            channel: Channel::Email,
            to: Some("ada@example.com".into()),
            subject: Some("Run finished".into()),
            body: Some("All 3 steps succeeded.".into()),
            url: None,
            secret: None,
            payload: None,
        };
        let out = execute(&client, &mailer, p.clone(), 0).await.unwrap();
        assert_eq!(out, json!({"channel": "email", "to": "a***@example.com"}));
        let mut entries = std::fs::read_dir(&dir).unwrap();
        let file = entries.next().unwrap().unwrap().path();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("Subject: Run finished") && text.contains("All 3 steps succeeded."));
        let _ = std::fs::remove_dir_all(&dir);

        let bad = NotifyParams {
            to: Some("not an address".into()),
            ..p
        };
        let err = execute(&client, &mailer, bad, 0).await.unwrap_err();
        assert!(!err.retryable, "{err:?}");
    }
}

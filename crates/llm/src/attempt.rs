//! One HTTP attempt against one provider: build the OpenAI-compatible body, POST it with the
//! bearer key, and turn the answer (JSON or event stream) or the failure into an outcome the
//! fallback loop can act on.
//!
//! Classification: 408, 429, 5xx, transport errors (connect, timeout, reset), malformed
//! bodies, errors inside a 200 and streams cut mid-answer are retryable; other statuses are
//! not (401, 402, 403 and 404 also put the provider in cooldown: a wrong key, an empty
//! balance or an unknown model does not heal in seconds). Every reason has the provider's key
//! scrubbed out, in case an upstream echoes it.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::Provider;
use crate::retry::{describe_error_body, describe_error_value, parse_retry_after};
use crate::stream::{self, Collected, DriveError, Piece};
use crate::{ChatRequest, Message, Usage};

/// Largest error body read for the failure reason, in bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The request body (OpenAI chat completions).
#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Value>,
}

/// A successful attempt.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The answer.
    pub content: String,
    /// The reasoning.
    pub reasoning: String,
    /// The provider's usage, when reported.
    pub usage: Option<Usage>,
}

/// What the fallback loop should do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Retry this provider (after `Retry-After` when given, else the backoff).
    Retry(Option<Duration>),
    /// Give up on this provider for this call.
    Fallback,
    /// Give up on this provider and skip it for the cooldown.
    Cooldown,
}

/// A failed attempt.
#[derive(Debug)]
pub(crate) struct Failure {
    /// Why, without secrets.
    pub reason: String,
    /// What to do next.
    pub next: Next,
    /// Tokens the attempt probably cost (a stream that started), zero otherwise.
    pub usage: Usage,
    /// Pieces of this attempt reached the sink.
    pub delivered: bool,
}

/// How an attempt ended badly.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// The caller cancelled; the request was dropped.
    Cancelled,
    /// The provider failed.
    Failed(Failure),
}

/// One attempt. `stream` selects `stream: true` and SSE parsing; pieces go to `emit` as
/// they arrive. `prompt_chars` feeds the usage estimate of a stream that breaks.
pub(crate) async fn run(
    client: &reqwest::Client,
    provider: &Provider,
    req: &ChatRequest,
    stream: bool,
    prompt_chars: usize,
    cancel: &CancellationToken,
    emit: &mut (dyn FnMut(Piece) + Send),
) -> Result<Answer, AttemptError> {
    let key = provider.key.expose_secret();
    let scrub = |reason: String| {
        if key.len() >= 4 {
            reason.replace(key, "[redacted]")
        } else {
            reason
        }
    };
    let fail = |reason: String, next: Next| {
        AttemptError::Failed(Failure {
            reason: scrub(reason),
            next,
            usage: Usage::default(),
            delivered: false,
        })
    };
    let body = WireRequest {
        model: &provider.model,
        messages: &req.messages,
        stream,
        temperature: req.temperature,
        max_tokens: req.max_tokens,
        response_format: req
            .json_mode
            .then(|| serde_json::json!({"type": "json_object"})),
        stream_options: stream.then(|| serde_json::json!({"include_usage": true})),
    };
    let send = client
        .post(&provider.endpoint)
        .bearer_auth(key)
        .header(
            ACCEPT,
            if stream {
                "text/event-stream"
            } else {
                "application/json"
            },
        )
        .json(&body)
        .send();
    let resp = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(AttemptError::Cancelled),
        resp = send => resp,
    };
    let resp = match resp {
        Ok(resp) => resp,
        Err(e) if e.is_builder() => {
            return Err(fail(
                format!("cannot build the request: {}", stream::error_chain(&e)),
                Next::Fallback,
            ));
        }
        Err(e) => return Err(fail(transport_reason(&e), Next::Retry(None))),
    };

    let status = resp.status();
    if !status.is_success() {
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let detail = match read_capped(resp, MAX_ERROR_BODY, cancel).await {
            Ok(body) => describe_error_body(&body),
            Err(ReadError::Cancelled) => return Err(AttemptError::Cancelled),
            Err(ReadError::Failed(_)) => String::new(),
        };
        let mut reason = format!("HTTP {}", status.as_u16());
        if !detail.is_empty() {
            reason = format!("{reason}: {detail}");
        }
        return Err(fail(reason, classify(status, retry_after)));
    }

    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // A provider may ignore `stream` either way (or put an error in a 200 as JSON): the
    // content type decides how the body is read.
    let as_events =
        content_type.contains("event-stream") || (stream && !content_type.contains("json"));
    if as_events {
        return match stream::drive(resp.bytes_stream(), cancel, emit).await {
            Ok(c) => Ok(Answer {
                content: c.content,
                reasoning: c.reasoning,
                usage: c.usage,
            }),
            Err(DriveError::Cancelled) => Err(AttemptError::Cancelled),
            Err(DriveError::Failed { reason, collected }) => Err(AttemptError::Failed(
                broken_stream(scrub(reason), &collected, prompt_chars),
            )),
        };
    }
    let body = match read_capped(resp, stream::MAX_ANSWER_BYTES, cancel).await {
        Ok(body) => body,
        Err(ReadError::Cancelled) => return Err(AttemptError::Cancelled),
        Err(ReadError::Failed(reason)) => return Err(fail(reason, Next::Retry(None))),
    };
    let answer = parse_completion(&body).map_err(|reason| fail(reason, Next::Retry(None)))?;
    if !answer.reasoning.is_empty() {
        emit(Piece::Reasoning(answer.reasoning.clone()));
    }
    if !answer.content.is_empty() {
        emit(Piece::Content(answer.content.clone()));
    }
    Ok(answer)
}

/// The failure of a stream that started: retryable, billed by the provider's usage when it
/// sent one, else by the estimate of the prompt and what arrived.
fn broken_stream(reason: String, c: &Collected, prompt_chars: usize) -> Failure {
    let billed = c.usage.unwrap_or_else(|| {
        if c.delivered() {
            crate::usage::estimate(prompt_chars, c.chars())
        } else {
            Usage::default()
        }
    });
    Failure {
        reason,
        next: Next::Retry(None),
        usage: billed,
        delivered: c.delivered(),
    }
}

/// What a non-2xx status means for the fallback loop.
fn classify(status: StatusCode, retry_after: Option<Duration>) -> Next {
    match status.as_u16() {
        408 | 429 | 500..=599 => Next::Retry(retry_after),
        401..=404 => Next::Cooldown,
        _ => Next::Fallback,
    }
}

/// A transport error as a reason: what failed (connect, timeout, …) and its causes.
fn transport_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{kind}: {}", stream::error_chain(e))
}

/// Parses a non-streamed completion (`choices[0].message.content`, `reasoning_content`,
/// `usage`).
///
/// Errors: not JSON, an `error` object (even in a 200), or no `choices[0]`.
pub(crate) fn parse_completion(body: &[u8]) -> Result<Answer, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        format!(
            "malformed response (not JSON): {}",
            describe_error_body(body)
        )
    })?;
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(format!(
            "error in the response: {}",
            describe_error_value(err)
        ));
    }
    let Some(choice) = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    else {
        return Err("malformed response (no choices)".into());
    };
    let message = choice.get("message");
    let text = |name: &str| {
        message
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let usage = v
        .get("usage")
        .or_else(|| choice.get("usage"))
        .and_then(crate::usage::from_wire);
    let answer = Answer {
        content: text("content"),
        reasoning: text("reasoning_content"),
        usage,
    };
    Ok(answer)
}

/// Why reading a body stopped.
enum ReadError {
    Cancelled,
    Failed(String),
}

/// The body, at most `cap` bytes (more is a failure); stops at once on `cancel`.
async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
    cancel: &CancellationToken,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let chunk = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(ReadError::Cancelled),
            chunk = resp.chunk() => chunk,
        };
        match chunk {
            Ok(Some(bytes)) => {
                if body.len() + bytes.len() > cap {
                    return Err(ReadError::Failed(format!(
                        "response larger than {cap} bytes"
                    )));
                }
                body.extend_from_slice(&bytes);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(ReadError::Failed(format!(
                    "reading the response failed: {}",
                    stream::error_chain(&e)
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let ra = Some(Duration::from_secs(1));
        assert_eq!(classify(StatusCode::TOO_MANY_REQUESTS, ra), Next::Retry(ra));
        assert_eq!(
            classify(StatusCode::REQUEST_TIMEOUT, None),
            Next::Retry(None)
        );
        assert_eq!(classify(StatusCode::BAD_GATEWAY, None), Next::Retry(None));
        assert_eq!(classify(StatusCode::UNAUTHORIZED, None), Next::Cooldown);
        assert_eq!(classify(StatusCode::NOT_FOUND, None), Next::Cooldown);
        assert_eq!(classify(StatusCode::BAD_REQUEST, None), Next::Fallback);
        assert_eq!(
            classify(StatusCode::PAYLOAD_TOO_LARGE, None),
            Next::Fallback
        );
        assert_eq!(classify(StatusCode::FOUND, None), Next::Fallback);
    }

    #[test]
    fn completions_are_parsed() {
        let a = parse_completion(
            br#"{"choices":[{"message":{"role":"assistant","content":"hi","reasoning_content":"hm"}}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}"#,
        )
        .unwrap();
        assert_eq!((a.content.as_str(), a.reasoning.as_str()), ("hi", "hm"));
        assert_eq!(a.usage.unwrap().total_tokens, 3);
        let a = parse_completion(br#"{"choices":[{"message":{"content":null}}]}"#).unwrap();
        assert_eq!(a.content, "");
        assert!(a.usage.is_none());
    }

    #[test]
    fn bad_completions_fail() {
        let err = parse_completion(br#"{"error":{"message":"quota","code":"1113"}}"#).unwrap_err();
        assert!(err.contains("quota (1113)"), "{err}");
        assert!(parse_completion(b"<html>").is_err());
        assert!(parse_completion(br#"{"choices":[]}"#).is_err());
    }

    #[test]
    fn the_body_has_the_openai_shape() {
        let messages = [Message::user("hi")];
        let body = WireRequest {
            model: "m",
            messages: &messages,
            stream: true,
            temperature: Some(0.5),
            max_tokens: None,
            response_format: Some(serde_json::json!({"type": "json_object"})),
            stream_options: Some(serde_json::json!({"include_usage": true})),
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": true,
                "temperature": 0.5,
                "response_format": {"type": "json_object"},
                "stream_options": {"include_usage": true}
            })
        );
    }
}

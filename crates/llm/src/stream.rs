//! Reading an OpenAI-compatible `chat.completion.chunk` event stream.
//!
//! The SSE framing is parsed by `eventsource-stream` (comment lines such as `: keep-alive`,
//! blank lines, `\r\n` line ends and events split across network reads are its business).
//! This module interprets each event's data:
//!
//! - `[DONE]` ends the stream;
//! - a JSON object with a non-null `error` (or an event named `error`) is a provider failure,
//!   even inside a 200;
//! - `choices[0].delta.content` and `choices[0].delta.reasoning_content` are pieces of the
//!   answer and of the reasoning; `null` or empty pieces are skipped;
//! - `choices: []` (the usage chunk of `stream_options.include_usage`) and chunks without
//!   `choices` are fine;
//! - `usage` at the top level, or inside the choice (Moonshot's habit), is recorded;
//! - a non-null `finish_reason` marks the answer complete.
//!
//! A stream that ends (cleanly or not) before `[DONE]` and before any `finish_reason` was
//! cut mid-answer and is a failure.

use std::fmt::Write as _;

use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::Usage;
use crate::retry::describe_error_value;

/// Largest answer plus reasoning accepted, in bytes (a guard against a runaway stream).
pub(crate) const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// A piece of a streamed answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Part of the answer.
    Content(String),
    /// Part of the reasoning.
    Reasoning(String),
}

/// What a stream delivered so far.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// The answer so far.
    pub content: String,
    /// The reasoning so far.
    pub reasoning: String,
    /// The provider's usage, when it sent one.
    pub usage: Option<Usage>,
    /// A `finish_reason` arrived.
    pub finished: bool,
    /// `[DONE]` arrived.
    pub done: bool,
}

impl Collected {
    /// Characters delivered (answer plus reasoning), for the usage estimate.
    pub fn chars(&self) -> usize {
        self.content.chars().count() + self.reasoning.chars().count()
    }

    /// True once any piece was delivered.
    pub fn delivered(&self) -> bool {
        !self.content.is_empty() || !self.reasoning.is_empty()
    }
}

/// How reading a stream ended badly.
#[derive(Debug)]
pub(crate) enum DriveError {
    /// The caller cancelled; the stream was dropped.
    Cancelled,
    /// The provider failed; `collected` is what arrived before.
    Failed {
        /// Why (no secrets: built from the provider's words and transport errors).
        reason: String,
        /// What arrived before the failure.
        collected: Collected,
    },
}

/// Interprets one event, returning the pieces to deliver (see the module doc).
///
/// Errors: a provider error in the stream, data that is not JSON, or a chunk whose `choices`
/// is neither an array nor null.
pub(crate) fn on_event(c: &mut Collected, event: &Event) -> Result<Vec<Piece>, String> {
    let data = event.data.trim();
    if event.event == "error" {
        return Err(format!(
            "error event in the stream: {}",
            describe_error_value(&serde_json::from_str(data).unwrap_or(Value::String(data.into())))
        ));
    }
    if data.is_empty() {
        return Ok(Vec::new());
    }
    if data == "[DONE]" {
        c.done = true;
        return Ok(Vec::new());
    }
    let chunk: Value =
        serde_json::from_str(data).map_err(|_| "malformed stream chunk (not JSON)".to_string())?;
    if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
        return Err(format!(
            "error in the stream: {}",
            describe_error_value(err)
        ));
    }
    if let Some(u) = chunk.get("usage").and_then(crate::usage::from_wire) {
        c.usage = Some(u);
    }
    let choice = match chunk.get("choices") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(choices)) => match choices.first() {
            Some(choice) => choice,
            None => return Ok(Vec::new()),
        },
        Some(_) => return Err("malformed stream chunk (choices is not an array)".into()),
    };
    if let Some(u) = choice.get("usage").and_then(crate::usage::from_wire) {
        c.usage = Some(u);
    }
    let mut pieces = Vec::new();
    if let Some(delta) = choice.get("delta") {
        let text = |name: &str| {
            delta
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        if let Some(r) = text("reasoning_content") {
            c.reasoning.push_str(&r);
            pieces.push(Piece::Reasoning(r));
        }
        if let Some(t) = text("content") {
            c.content.push_str(&t);
            pieces.push(Piece::Content(t));
        }
    }
    if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
        c.finished = true;
    }
    if c.content.len() + c.reasoning.len() > MAX_ANSWER_BYTES {
        return Err(format!("answer larger than {MAX_ANSWER_BYTES} bytes"));
    }
    Ok(pieces)
}

/// Reads `bytes` as an event stream until `[DONE]` or its end, handing every piece to `emit`
/// as it arrives. Stops at once when `cancel` fires (dropping `bytes`, which closes the
/// connection).
pub(crate) async fn drive<S, B, E>(
    bytes: S,
    cancel: &CancellationToken,
    emit: &mut (dyn FnMut(Piece) + Send),
) -> Result<Collected, DriveError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut events = std::pin::pin!(bytes.eventsource());
    let mut c = Collected::default();
    loop {
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(DriveError::Cancelled),
            next = events.next() => next,
        };
        let event = match next {
            None => break,
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                return Err(DriveError::Failed {
                    reason: format!("stream interrupted: {}", error_chain(&e)),
                    collected: c,
                });
            }
        };
        match on_event(&mut c, &event) {
            Ok(pieces) => pieces.into_iter().for_each(&mut *emit),
            Err(reason) => {
                return Err(DriveError::Failed {
                    reason,
                    collected: c,
                });
            }
        }
        if c.done {
            break;
        }
    }
    if c.done || c.finished {
        Ok(c)
    } else {
        Err(DriveError::Failed {
            reason: "stream ended before [DONE] or a finish_reason (dropped mid-answer)".into(),
            collected: c,
        })
    }
}

/// `e` and its sources, joined by `: `.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            let _ = write!(out, ": {text}");
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parts: &[&str]) -> (Result<Collected, DriveError>, Vec<Piece>) {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = parts
            .iter()
            .map(|p| Ok(bytes::Bytes::copy_from_slice(p.as_bytes())))
            .collect();
        let mut pieces = Vec::new();
        let cancel = CancellationToken::new();
        let result =
            futures::executor::block_on(drive(futures::stream::iter(chunks), &cancel, &mut |p| {
                pieces.push(p)
            }));
        (result, pieces)
    }

    const ROLE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";

    #[test]
    fn a_full_stream_with_keepalives_reasoning_and_usage() {
        let (result, pieces) = run(&[
            ": keep-alive\n\n",
            ROLE,
            "\n",
            "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"think\",\"content\":null}}]}\n\n",
            ": keep-alive\n",
            "\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n",
            "data: {\"choices\":[{\"del",
            "ta\":{\"content\":\"lo\"},\"finish_reason\":null}]}\n\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
            "data: [DONE]\n\n",
        ]);
        let c = result.unwrap();
        assert_eq!(c.content, "Hello");
        assert_eq!(c.reasoning, "think");
        assert_eq!(c.usage.unwrap().total_tokens, 7);
        assert!(c.done && c.finished);
        assert_eq!(
            pieces,
            [
                Piece::Reasoning("think".into()),
                Piece::Content("Hel".into()),
                Piece::Content("lo".into())
            ]
        );
    }

    #[test]
    fn finish_reason_without_done_is_complete() {
        let (result, _) = run(&[
            "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}]}\n\n",
        ]);
        let c = result.unwrap();
        assert_eq!(c.usage.unwrap().total_tokens, 2);
    }

    #[test]
    fn a_stream_cut_mid_answer_fails_with_what_arrived() {
        let (result, pieces) =
            run(&["data: {\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\n"]);
        match result {
            Err(DriveError::Failed { reason, collected }) => {
                assert!(reason.contains("ended before [DONE]"), "{reason}");
                assert_eq!(collected.content, "par");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pieces, [Piece::Content("par".into())]);
    }

    #[test]
    fn errors_inside_the_stream_fail() {
        for body in [
            "data: {\"error\":{\"message\":\"overloaded\",\"code\":\"503\"}}\n\n",
            "event: error\ndata: {\"message\":\"overloaded\"}\n\n",
            "data: not json\n\n",
            "data: {\"choices\":{}}\n\n",
        ] {
            let (result, _) = run(&[body]);
            assert!(matches!(result, Err(DriveError::Failed { .. })), "{body}");
        }
        let (result, _) = run(&["data: {\"error\":{\"message\":\"overloaded\"}}\n\n"]);
        let Err(DriveError::Failed { reason, .. }) = result else {
            panic!("expected a failure")
        };
        assert!(reason.contains("overloaded"));
    }

    #[test]
    fn a_null_error_field_is_not_an_error() {
        let (result, _) = run(&[
            "data: {\"error\":null,\"choices\":[{\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n",
        ]);
        assert_eq!(result.unwrap().content, "ok");
    }

    #[test]
    fn a_transport_error_fails() {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
            Ok(bytes::Bytes::from_static(
                b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
            )),
            Err(std::io::Error::other("connection reset")),
        ];
        let cancel = CancellationToken::new();
        let result =
            futures::executor::block_on(drive(futures::stream::iter(chunks), &cancel, &mut |_| {}));
        let Err(DriveError::Failed { reason, collected }) = result else {
            panic!("expected a failure")
        };
        assert!(reason.contains("connection reset"), "{reason}");
        assert!(collected.delivered());
    }

    #[test]
    fn cancel_wins() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let result = futures::executor::block_on(drive(
            futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>(),
            &cancel,
            &mut |_| {},
        ));
        assert!(matches!(result, Err(DriveError::Cancelled)));
    }
}

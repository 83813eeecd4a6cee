//! The frame envelope of seed 002 "消息格式": `{id, message_type, data, timestamp,
//! from_user_id?, to_user_id?}`, one JSON text frame each way.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `message_type` values (seed 002 "支持的消息类型", originals §2.6, plus `event` for
/// change-log entries and `command`/`command_response`/`initial_data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// Free text between users (`/ws/send`).
    Text,
    /// A notification (`/ws/send`, `/ws/broadcast`).
    Notification,
    /// Server information: connected, subscription dropped, resync required.
    SystemMessage,
    /// Client heartbeat; answered with `pong` to the same socket.
    Ping,
    /// Heartbeat answer.
    Pong,
    /// A user came online in the workspace (first socket).
    UserJoined,
    /// A user went offline in the workspace (last socket closed).
    UserLeft,
    /// A frame the server could not use.
    Error,
    /// A command in the original's envelope form.
    Command,
    /// The one reply to a command.
    CommandResponse,
    /// What the client needs at connect.
    InitialData,
    /// One change-log entry.
    Event,
}

/// An outgoing frame.
#[derive(Serialize)]
struct Out<'a, T: Serialize> {
    id: Uuid,
    message_type: MessageType,
    data: &'a T,
    timestamp: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_user_id: Option<Uuid>,
}

/// Serializes a frame; `data` must serialize (every caller's type does; a failure yields an
/// `error` frame rather than a panic).
pub fn frame<T: Serialize>(
    message_type: MessageType,
    data: &T,
    now: DateTime<Utc>,
    from: Option<Uuid>,
    to: Option<Uuid>,
) -> Bytes {
    let out = Out {
        id: Uuid::now_v7(),
        message_type,
        data,
        timestamp: now,
        from_user_id: from,
        to_user_id: to,
    };
    match serde_json::to_vec(&out) {
        Ok(v) => Bytes::from(v),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize a frame");
            Bytes::from_static(br#"{"message_type":"error","data":{"code":"INTERNAL","message":"frame not serializable"}}"#)
        }
    }
}

/// A plain frame from the server.
pub fn simple<T: Serialize>(message_type: MessageType, data: &T, now: DateTime<Utc>) -> Bytes {
    frame(message_type, data, now, None, None)
}

/// An `error` frame `{code, message}` for a frame the server could not use.
pub fn error(code: &str, message: &str, now: DateTime<Utc>) -> Bytes {
    simple(
        MessageType::Error,
        &serde_json::json!({"code": code, "message": message}),
        now,
    )
}

/// `system_message` `{type, message, ...}`.
pub fn system(kind: &str, message: &str, extra: serde_json::Value, now: DateTime<Utc>) -> Bytes {
    let mut data = serde_json::json!({"type": kind, "message": message});
    if let (Some(d), serde_json::Value::Object(extra)) = (data.as_object_mut(), extra) {
        d.extend(extra);
    }
    simple(MessageType::SystemMessage, &data, now)
}

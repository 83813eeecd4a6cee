//! Placeholder replaced by the commands dispatcher (helper branch ws-commands).

use serde_json::Value;
use trellis_identity::Principal;

use crate::error::MomentumError;
use crate::state::MomentumState;

/// A parsed command.
pub struct Command {
    /// The `type`.
    pub kind: String,
    /// The client's `request_id`.
    pub request_id: Option<String>,
    /// Every other key.
    pub args: serde_json::Map<String, Value>,
}

/// A failed command.
pub struct CommandError {
    /// Stable code.
    pub code: String,
    /// Message.
    pub message: String,
    /// The failing field.
    pub field: Option<String>,
    /// All field errors.
    pub details: Option<Value>,
    /// For RATE_LIMITED.
    pub retry_after_ms: Option<u64>,
}

impl From<MomentumError> for CommandError {
    fn from(e: MomentumError) -> Self {
        CommandError {
            code: "ERROR".into(),
            message: e.to_string(),
            field: None,
            details: None,
            retry_after_ms: None,
        }
    }
}

impl Command {
    /// Parses either form.
    pub fn parse(frame: &Value) -> Result<Command, CommandError> {
        let obj = match frame.get("message_type") {
            Some(_) => frame.get("data"),
            None => Some(frame),
        }
        .and_then(Value::as_object)
        .ok_or(CommandError {
            code: "INVALID_COMMAND".into(),
            message: "not an object".into(),
            field: None,
            details: None,
            retry_after_ms: None,
        })?;
        let mut args = obj.clone();
        let kind = args
            .remove("type")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let request_id = args
            .remove("request_id")
            .and_then(|v| v.as_str().map(str::to_string));
        Ok(Command {
            kind,
            request_id,
            args,
        })
    }
}

/// Runs a business command.
pub async fn run(
    _st: &MomentumState,
    _p: &Principal,
    cmd: &Command,
) -> Result<Value, CommandError> {
    Err(CommandError {
        code: "UNKNOWN_COMMAND".into(),
        message: format!("unknown command {}", cmd.kind),
        field: None,
        details: None,
        retry_after_ms: None,
    })
}

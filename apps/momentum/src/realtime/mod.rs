//! Momentum's realtime layer (issue 9): WebSocket commands.

pub mod commands;

//! The daemon's Unix socket (`<runtime dir>/daemon.sock`, newline-delimited JSON): the
//! protocol, the server the daemon runs and the client the CLI and the TUI use.

pub mod client;
pub mod protocol;
pub mod server;

pub use client::{Client, ClientError};
pub use protocol::{
    CaptureAnswer, CaptureNotice, CaptureState, ClientMessage, Hello, LogLevel, PROTOCOL_VERSION,
    ServerMessage,
};
pub use server::{ClientRequest, IpcError, Peer, Server, ServerHandle, ServerOptions, ServerStats};

//! The daemon: single instance, the sampler thread on its ticker, the pipeline, the writer and
//! the socket server, and an orderly shutdown.

pub mod lock;
pub mod ticker;

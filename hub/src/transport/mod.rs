//! How bytes come in and leave the hub: the HTTP server the API runs on, and HTTP sinks.

pub mod dir;
pub mod http_in;
pub mod http_sink;
pub mod poll;
pub mod smtp;
pub mod smtp_sink;

//! How bytes leave the hub. (Bytes come in through the HTTP API, `crate::api`.)

pub mod http_sink;

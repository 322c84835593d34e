//! Okno: an integration hub for a government body's work with its clients.
//!
//! A message's way through the hub, by module: `transport` (bytes in and out) →
//! `pipeline` (decode, classify, decide, route, deliver) with `runtime` running the
//! plugins, `store` keeping everything durable, `sla` counting deadlines, `api` and `cli`
//! for people and systems, `config` for what an admin writes.

pub mod api;
pub mod audit;
pub mod auth;
pub mod classifier_table;
pub mod cli;
pub mod config;
pub mod files;
pub mod memory;
pub mod model;
pub mod observability;
pub mod pipeline;
pub mod runtime;
pub mod sla;
pub mod store;
pub mod tls;
pub mod transport;

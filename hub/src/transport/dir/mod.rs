//! Directories: a source that ingests the files other systems drop into an inbox
//! (`inbox`), and a sink that writes each encoded packet into an outbox (`outbox`), for
//! the systems a ministry exchanges with through shared folders (МЭДО among them).

pub mod config;
mod inbox;
mod outbox;

pub use inbox::start;
pub use outbox::{file_name, write_packet};

//! Simulator: see lib.rs.

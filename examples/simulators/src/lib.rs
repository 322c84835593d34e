//! Simulators of the systems a ministry's hub exchanges with. Each behaves like the
//! real system as far as a connector can tell: the same envelopes, the same order of
//! calls, the same faults. `okno demo` and the end-to-end tests start them in-process.

pub mod edms;
pub mod json_http;
pub mod knd;
pub mod smev;
pub mod sog;

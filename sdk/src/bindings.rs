//! Bindings generated from `wit/`. The host interfaces and types are generated once, in
//! [`host`]; each world reuses them, so a `Message` is the same Rust type in every world.

/// The types and host interfaces of `okno:plugin`.
pub mod host {
    wit_bindgen::generate!({
        world: "host",
        path: "../wit",
        generate_all,
    });
}

/// The `connector` world's exports.
pub mod connector {
    wit_bindgen::generate!({
        world: "connector",
        path: "../wit",
        with: {
            "okno:plugin/types@0.1.1": crate::bindings::host::okno::plugin::types,
            "okno:plugin/log@0.1.1": crate::bindings::host::okno::plugin::log,
            "okno:plugin/config@0.1.1": crate::bindings::host::okno::plugin::config,
            "okno:plugin/kv@0.1.1": crate::bindings::host::okno::plugin::kv,
            "okno:plugin/clock@0.1.1": crate::bindings::host::okno::plugin::clock,
            "okno:plugin/calendar@0.1.1": crate::bindings::host::okno::plugin::calendar,
            "okno:plugin/http@0.1.1": crate::bindings::host::okno::plugin::http,
        },
        pub_export_macro: true,
        export_macro_name: "export_connector_bindings",
        default_bindings_module: "::okno_sdk::bindings::connector",
    });
}

/// The `classifier` world's exports.
pub mod classifier {
    wit_bindgen::generate!({
        world: "classifier",
        path: "../wit",
        with: {
            "okno:plugin/types@0.1.1": crate::bindings::host::okno::plugin::types,
            "okno:plugin/log@0.1.1": crate::bindings::host::okno::plugin::log,
            "okno:plugin/config@0.1.1": crate::bindings::host::okno::plugin::config,
            "okno:plugin/kv@0.1.1": crate::bindings::host::okno::plugin::kv,
            "okno:plugin/clock@0.1.1": crate::bindings::host::okno::plugin::clock,
            "okno:plugin/calendar@0.1.1": crate::bindings::host::okno::plugin::calendar,
            "okno:plugin/http@0.1.1": crate::bindings::host::okno::plugin::http,
        },
        pub_export_macro: true,
        export_macro_name: "export_classifier_bindings",
        default_bindings_module: "::okno_sdk::bindings::classifier",
    });
}

/// The `policy` world's exports.
pub mod policy {
    wit_bindgen::generate!({
        world: "policy",
        path: "../wit",
        with: {
            "okno:plugin/types@0.1.1": crate::bindings::host::okno::plugin::types,
            "okno:plugin/log@0.1.1": crate::bindings::host::okno::plugin::log,
            "okno:plugin/config@0.1.1": crate::bindings::host::okno::plugin::config,
            "okno:plugin/kv@0.1.1": crate::bindings::host::okno::plugin::kv,
            "okno:plugin/clock@0.1.1": crate::bindings::host::okno::plugin::clock,
            "okno:plugin/calendar@0.1.1": crate::bindings::host::okno::plugin::calendar,
            "okno:plugin/http@0.1.1": crate::bindings::host::okno::plugin::http,
        },
        pub_export_macro: true,
        export_macro_name: "export_policy_bindings",
        default_bindings_module: "::okno_sdk::bindings::policy",
    });
}

/// The `poller` world's exports: a connector's `decode` and `encode`, plus `poll` and `ack`.
pub mod poller {
    wit_bindgen::generate!({
        world: "poller",
        path: "../wit",
        with: {
            "okno:plugin/types@0.1.1": crate::bindings::host::okno::plugin::types,
            "okno:plugin/log@0.1.1": crate::bindings::host::okno::plugin::log,
            "okno:plugin/config@0.1.1": crate::bindings::host::okno::plugin::config,
            "okno:plugin/kv@0.1.1": crate::bindings::host::okno::plugin::kv,
            "okno:plugin/clock@0.1.1": crate::bindings::host::okno::plugin::clock,
            "okno:plugin/calendar@0.1.1": crate::bindings::host::okno::plugin::calendar,
            "okno:plugin/http@0.1.1": crate::bindings::host::okno::plugin::http,
        },
        pub_export_macro: true,
        export_macro_name: "export_poller_bindings",
        default_bindings_module: "::okno_sdk::bindings::poller",
    });
}

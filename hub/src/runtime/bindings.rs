//! Host-side bindings generated from `wit/`. The host interfaces are generated once (world
//! `host`) and reused by the plugin worlds, so a `Message` is one Rust type here.

pub mod host_world {
    wasmtime::component::bindgen!({
        world: "host",
        path: "../wit",
        imports: { default: async | trappable },
    });
}

pub mod connector {
    wasmtime::component::bindgen!({
        world: "connector",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "okno:plugin": super::host_world::okno::plugin },
    });
}

pub mod classifier {
    wasmtime::component::bindgen!({
        world: "classifier",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "okno:plugin": super::host_world::okno::plugin },
    });
}

pub mod policy {
    wasmtime::component::bindgen!({
        world: "policy",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "okno:plugin": super::host_world::okno::plugin },
    });
}

pub mod poller {
    wasmtime::component::bindgen!({
        world: "poller",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        // `polling` is exported, so generated here: the host world does not have it.
        with: {
            "okno:plugin/types": super::host_world::okno::plugin::types,
            "okno:plugin/log": super::host_world::okno::plugin::log,
            "okno:plugin/config": super::host_world::okno::plugin::config,
            "okno:plugin/kv": super::host_world::okno::plugin::kv,
            "okno:plugin/clock": super::host_world::okno::plugin::clock,
            "okno:plugin/calendar": super::host_world::okno::plugin::calendar,
            "okno:plugin/http": super::host_world::okno::plugin::http,
        },
    });
}

pub use host_world::okno::plugin::types as wit;

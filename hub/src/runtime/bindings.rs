//! Host-side bindings generated from `wit/`. The host interfaces are generated once (world
//! `host`) and reused by the three plugin worlds, so a `Message` is one Rust type here.

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

pub use host_world::okno::plugin::types as wit;

//! The plugin project templates and the contract's WIT files, embedded at build time
//! (see `hub/build.rs`): `TEMPLATES` holds `sdk/templates/<lang>/<world>/...`, `WIT`
//! holds `wit/...`, each as (relative path, bytes).

include!(concat!(env!("OUT_DIR"), "/templates.rs"));

/// The files of the template for `lang` and `world`, with paths relative to its folder.
pub fn files(lang: &str, world: &str) -> Vec<(&'static str, &'static [u8])> {
    let prefix = format!("{lang}/{world}/");
    TEMPLATES
        .iter()
        .filter_map(|(path, bytes)| path.strip_prefix(prefix.as_str()).map(|p| (p, *bytes)))
        .collect()
}

/// Every `lang/world` a template exists for.
pub fn available() -> Vec<String> {
    let mut pairs: Vec<String> = TEMPLATES
        .iter()
        .filter_map(|(path, _)| {
            let mut parts = path.splitn(3, '/');
            Some(format!("{}/{}", parts.next()?, parts.next()?))
        })
        .collect();
    pairs.dedup();
    pairs
}

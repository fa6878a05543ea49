//! The built-in laws as data: one entry per law, in the order `mixlaw laws` lists them.
//!
//! An entry says everything the rest of mixlaw needs to know about a law besides its
//! mathematics: the name `--law` accepts, the formula, the parameter-count rule, which inputs it
//! reads, the shader function that evaluates it (its [`Kernel`] id is its position here, and the
//! GPU backend generates the shader's law ids and dispatch from this table) and the conventions
//! its fits default to. The tests of the law module run every entry through the gradient,
//! parameter-count and nesting checks.

use std::sync::OnceLock;

use super::{additive, chinchilla, datamix, full, joint, linear, simple};
use super::{Conventions, Definition, Kernel, Law, Nested};
use crate::{Error, Result};

/// The entries, with kernel ids still to be assigned.
fn definitions() -> Vec<Definition> {
    let def = |name: &str,
               formula: &str,
               parameters: &str,
               uses_mixture: bool,
               uses_scale: bool,
               kernel: &'static str,
               conventions: Conventions,
               nested: Option<Nested>,
               family: Box<dyn super::Family>| Definition {
        name: name.into(),
        formula: formula.into(),
        parameters: parameters.into(),
        uses_mixture,
        uses_scale,
        kernel: Some(Kernel::Builtin {
            id: 0,
            function: kernel,
        }),
        conventions,
        nested,
        source: None,
        family,
    };
    vec![
        def(
            "chinchilla",
            "L = E + A/N^α + B/D^β",
            "5",
            false,
            true,
            "chinchilla",
            Conventions::HOFFMANN,
            None,
            Box::new(chinchilla::Chinchilla),
        ),
        def(
            "additive",
            "L = E + 1/(Σ_i C_i h_i^γ_i) + A/N^α + B/D^β",
            "5+2k",
            true,
            true,
            "additive",
            Conventions::SHUKOR,
            None,
            Box::new(additive::Additive),
        ),
        def(
            "joint",
            "L = E + 1/(Σ_i C_i h_i^γ_i) + (Σ_i CA_i h_i)^γA/N^α + (Σ_i CB_i h_i)^γB/D^β",
            "5+4k",
            true,
            true,
            "joint",
            Conventions::SHUKOR,
            Some(Nested {
                law: "additive",
                embed: joint::from_additive,
            }),
            Box::new(joint::Joint),
        ),
        def(
            "simple",
            "L = E + (Σ_i C_i h_i)^γ + A/N^α + B/D^β",
            "6+k",
            true,
            true,
            "simple",
            Conventions::SHUKOR,
            None,
            Box::new(simple::Simple),
        ),
        def(
            "full",
            "L = E + 1/(Σ_i C_i h_i^γ_i) + A_h/N^α_h + B_h/D^β_h, A_h = (Σ_i CA_i h_i)^γA, \
             B_h = (Σ_i CB_i h_i)^γB, α_h = (Σ_i Cα_i h_i)^γα, β_h = (Σ_i Cβ_i h_i)^γβ",
            "5+6k",
            true,
            true,
            "full",
            Conventions::SHUKOR,
            Some(Nested {
                law: "joint",
                embed: full::from_joint,
            }),
            Box::new(full::Full),
        ),
        def(
            "datamix",
            "L = E + C·exp(Σ_i γ_i h_i)",
            "2+k",
            true,
            false,
            "datamix",
            Conventions::SHUKOR,
            None,
            Box::new(datamix::DataMix),
        ),
        def(
            "linear",
            "L = E + Σ_i C_i h_i",
            "1+k",
            true,
            false,
            "linear",
            Conventions::SHUKOR,
            None,
            Box::new(linear::Linear),
        ),
    ]
}

/// Every built-in law, in the order `mixlaw laws` lists them.
pub fn builtin() -> &'static [Law] {
    static LAWS: OnceLock<Vec<Law>> = OnceLock::new();
    LAWS.get_or_init(|| {
        definitions()
            .into_iter()
            .enumerate()
            .map(|(i, mut d)| {
                if let Some(Kernel::Builtin { id, .. }) = d.kernel.as_mut() {
                    *id = i as u32;
                }
                Law::new(d)
            })
            .collect()
    })
}

/// The built-in law called `name`.
pub fn by_name(name: &str) -> Option<Law> {
    builtin().iter().find(|l| l.name() == name).cloned()
}

/// The built-in law called `name`, or the law file at path `name` (a name with a `/` or ending
/// in `.toml`), or an error listing the laws there are.
pub fn lookup(name: &str) -> Result<Law> {
    lookup_warned(name).map(|(law, _)| law)
}

/// The law file `name` stands for, if it names one rather than a built-in law: a file the
/// command reads, which no output may replace.
pub fn law_file(name: &str) -> Option<&std::path::Path> {
    let file = by_name(name).is_none()
        && (name.ends_with(".toml")
            || name.contains(std::path::MAIN_SEPARATOR)
            || name.contains('/'));
    file.then(|| std::path::Path::new(name))
}

/// [`lookup`], with a law file's warnings (parameters its formula does not use).
pub fn lookup_warned(name: &str) -> Result<(Law, Vec<String>)> {
    if let Some(law) = by_name(name) {
        return Ok((law, Vec::new()));
    }
    if let Some(path) = law_file(name) {
        return super::formula::file::load_warned(path);
    }
    Err(Error::usage(format!(
        "unknown law '{name}'; the laws are {}, or a law file (a path ending in .toml)",
        names().join(", ")
    )))
}

/// The law a fit file or bootstrap study names: the law file text it stored (a formula law), or
/// else the built-in law of that name.
pub fn stored(name: &str, source: Option<&str>) -> std::result::Result<Law, String> {
    match source {
        Some(text) => super::formula::file::from_toml(text, std::path::Path::new("the stored law"))
            .map_err(|e| e.to_string()),
        None => by_name(name).ok_or_else(|| format!("unknown law '{name}'")),
    }
}

/// The names of the built-in laws, in registry order.
pub fn names() -> Vec<&'static str> {
    builtin().iter().map(|l| l.name()).collect()
}

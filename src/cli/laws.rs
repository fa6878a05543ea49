//! `mixlaw laws`: the law families, their formulas and parameter counts.

use clap::Args;

use crate::law::registry;
use crate::report::TextTable;
use crate::Result;

#[derive(Args)]
pub struct LawsCmd {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(c: LawsCmd) -> Result<()> {
    if c.json {
        super::print_json(&json());
        return Ok(());
    }
    let mut t = TextTable::new(["law", "parameters", "formula"]);
    for l in registry::builtin() {
        t.row([
            l.name().to_string(),
            l.parameters().to_string(),
            l.formula().to_string(),
        ]);
    }
    out!("{}", t.render());
    outln!("\nk is the number of domains. N and D are in fit units (N in millions, D in billions by default).");
    Ok(())
}

/// The built-in laws as `--json` lists them: name, formula, parameter count and names (per-domain
/// ones for a domain called `<domain>`), and which inputs each reads.
pub fn json() -> serde_json::Value {
    let example: Vec<String> = vec!["<domain>".into()];
    registry::builtin()
        .iter()
        .map(|l| {
            serde_json::json!({
                "name": l.name(),
                "formula": l.formula(),
                "parameters": l.parameters(),
                "uses_mixture": l.uses_mixture(),
                "uses_scale": l.uses_scale(),
                "parameter_names": l.params(&example).iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect()
}

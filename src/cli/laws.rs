//! `mixlaw laws`: the law families, their formulas and parameter counts.

use clap::Args;

use mixlaw::report::Table;
use mixlaw::Result;

#[derive(Args)]
pub struct LawsCmd {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(c: LawsCmd) -> Result<()> {
    let example: Vec<String> = vec!["<domain>".into()];
    if c.json {
        let laws: Vec<serde_json::Value> = mixlaw::law::all()
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name(),
                    "formula": l.formula(),
                    "parameters": l.count_formula(),
                    "uses_mixture": l.uses_mixture(),
                    "uses_scale": l.uses_scale(),
                    "parameter_names": l.params(&example).iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&laws).expect("serialisable")
        );
        return Ok(());
    }
    let mut t = Table::new(["law", "parameters", "formula"]);
    for l in mixlaw::law::all() {
        t.row([
            l.name().to_string(),
            l.count_formula().to_string(),
            l.formula().to_string(),
        ]);
    }
    print!("{}", t.render());
    println!("\nk is the number of domains. N and D are in fit units (N in millions, D in billions by default).");
    Ok(())
}

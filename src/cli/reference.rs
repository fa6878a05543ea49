//! The flag reference (`docs/reference/flags.md`), rendered from the clap definitions.
//!
//! The definitions in this module's siblings are the one source of every flag's name, value,
//! default and help text; `--help` prints them, and this renders the same definitions as
//! Markdown, so the reference cannot say anything `--help` does not. A test of the suite
//! (`docs::the_flag_reference_is_the_clap_definitions`) compares the committed file with this
//! rendering and fails when they drift; `MIXLAW_BLESS=1` rewrites the file.

use clap::{Arg, ArgAction, Command, CommandFactory};

use super::Cli;

/// The whole flag reference, as Markdown: a section per command (and per subcommand, in the
/// order `--help` lists them), a table row per argument.
pub fn markdown() -> String {
    let mut root = Cli::command();
    root.build();
    let mut out = String::from(
        "# Flag reference\n\n\
         Every command and flag, generated from the definitions that `--help` prints (do not edit: \
         `MIXLAW_BLESS=1 cargo test --test suite docs::` rewrites this file from \
         `src/cli/`). The [documentation](../README.md) explains them in context; in Python, keyword \
         `n_col=` is flag `--n-col`.\n\n",
    );
    out.push_str("| command | what it does |\n|---|---|\n");
    for cmd in root.get_subcommands().filter(|c| c.get_name() != "help") {
        out.push_str(&format!(
            "| [`mixlaw {name}`](#mixlaw-{name}) | {} |\n",
            cell(&text(cmd.get_about())),
            name = cmd.get_name()
        ));
    }
    for cmd in root
        .get_subcommands_mut()
        .filter(|c| c.get_name() != "help")
    {
        section(&mut out, "mixlaw", cmd);
    }
    out
}

/// One command's section (and its subcommands').
fn section(out: &mut String, parent: &str, cmd: &mut Command) {
    let name = format!("{parent} {}", cmd.get_name());
    out.push_str(&format!("\n## `{name}`\n\n"));
    let about = text(cmd.get_long_about().or(cmd.get_about()));
    if !about.is_empty() {
        out.push_str(&format!("{about}\n\n"));
    }
    let usage = cmd.render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ").trim();
    out.push_str(&format!("```text\n{usage}\n```\n\n"));
    let args: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version"))
        .collect();
    if !args.is_empty() {
        out.push_str("| argument | value | default | what it does |\n|---|---|---|---|\n");
        for arg in args {
            out.push_str(&row(arg));
        }
    }
    for sub in cmd.get_subcommands_mut().filter(|c| c.get_name() != "help") {
        section(out, &name, sub);
    }
}

/// A table row: the flag (or positional), its value, its default and its help.
fn row(arg: &Arg) -> String {
    let takes_value = !matches!(
        arg.get_action(),
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count | ArgAction::Help
    );
    let values = arg
        .get_value_names()
        .map(|v| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
    let flag = if arg.is_positional() {
        format!("`{values}`")
    } else {
        let mut f = arg
            .get_long()
            .map(|l| format!("`--{l}`"))
            .unwrap_or_default();
        if let Some(s) = arg.get_short() {
            f = format!("`-{s}`, {f}");
        }
        f
    };
    let mut value = String::new();
    if takes_value {
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|p| !p.is_hide_set())
            .map(|p| p.get_name().to_string())
            .collect();
        value = if possible.is_empty() || arg.is_positional() {
            if arg.is_positional() {
                String::new()
            } else {
                format!("`{values}`")
            }
        } else {
            format!("`{}`", possible.join("|"))
        };
    }
    let default: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    let default = if default.is_empty() || !takes_value {
        String::new()
    } else {
        format!("`{}`", default.join(","))
    };
    let mut help = text(arg.get_long_help().or(arg.get_help()));
    if arg.is_required_set() {
        help = format!("(required) {help}");
    }
    let list = arg.get_value_delimiter().is_some()
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
    if matches!(arg.get_action(), ArgAction::Append) && !list && !help.contains("repeatable") {
        help.push_str(" (repeatable)");
    }
    format!(
        "| {} | {} | {} | {} |\n",
        cell(&flag),
        cell(&value),
        cell(&default),
        cell(&help)
    )
}

/// Help text on one line.
fn text(s: Option<&clap::builder::StyledStr>) -> String {
    s.map(|s| {
        s.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    })
    .unwrap_or_default()
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_and_a_known_flag_is_in_the_reference() {
        let md = super::markdown();
        for cmd in ["fit", "eval", "bootstrap", "plot", "report", "merge"] {
            assert!(md.contains(&format!("\n## `mixlaw {cmd}`\n")), "{cmd}");
        }
        assert!(md.contains("| `--n-col` |"), "{md}");
        assert!(!md.contains("| `--help` |"));
    }
}

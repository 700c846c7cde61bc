//! `slipway cli-reference` (hidden): the CLI reference in Markdown, written from clap's own description
//! of the commands, so `docs/cli.md` cannot drift from the binary (a test compares them).

use std::fmt::Write as _;

use clap::Command;

/// The reference for `root` and every subcommand under it, depth first.
pub(crate) fn markdown(root: &Command) -> String {
    let mut out = String::from(
        "# slipway command reference\n\nGenerated from the binary's own help by `slipway cli-reference` \
         (`bash scripts/gen-cli-reference.sh`); do not edit by hand.\n",
    );
    section(&mut out, root, &[]);
    out
}

fn section(out: &mut String, cmd: &Command, parents: &[&str]) {
    if cmd.is_hide_set() {
        return;
    }
    let mut path: Vec<&str> = parents.to_vec();
    path.push(cmd.get_name());
    let title = path.join(" ");
    let _ = write!(out, "\n## `{title}`\n\n");
    let about = cmd
        .get_long_about()
        .or_else(|| cmd.get_about())
        .map(ToString::to_string)
        .unwrap_or_default();
    if !about.is_empty() {
        let _ = writeln!(out, "{}\n", about.trim_end());
    }
    let mut usage_cmd = cmd.clone().bin_name(title.clone());
    let usage = usage_cmd.render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ").trim();
    let _ = writeln!(out, "```text\n{usage}\n```");
    let args: Vec<_> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
        .collect();
    if !args.is_empty() {
        out.push_str("\n| argument | meaning |\n|---|---|\n");
        for a in args {
            let mut name = match (a.get_short(), a.get_long()) {
                (Some(s), Some(l)) => format!("`-{s}`, `--{l}`"),
                (None, Some(l)) => format!("`--{l}`"),
                (Some(s), None) => format!("`-{s}`"),
                (None, None) => format!("`{}`", a.get_id().as_str().to_ascii_uppercase()),
            };
            if (a.get_long().is_some() || a.get_short().is_some())
                && let Some(values) = a
                    .get_value_names()
                    .filter(|_| a.get_action().takes_values())
            {
                let values: Vec<String> = values.iter().map(|v| format!("<{v}>")).collect();
                let _ = write!(name, " `{}`", values.join(" "));
            }
            let mut help = a
                .get_long_help()
                .or_else(|| a.get_help())
                .map(ToString::to_string)
                .unwrap_or_default()
                .replace('\n', " ")
                .replace('|', "\\|");
            let defaults: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() {
                let _ = write!(help, " (default: `{}`)", defaults.join(","));
            }
            let _ = writeln!(out, "| {name} | {} |", help.trim());
        }
    }
    for sub in cmd.get_subcommands() {
        if sub.get_name() != "help" {
            section(out, sub, &path);
        }
    }
}

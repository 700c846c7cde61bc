//! The typed view of a go.work file (x/mod's work.go).

use std::collections::HashSet;

use super::chars::auto_quote;
use super::rule::{
    GoStmt, Godebug, ModuleVersion, Replace, Toolchain, add_godebug, add_replace, compare_line,
    drop_lines, drop_replace, parse_godebug, parse_replace, parse_string, remove_replace_dups,
    sort_blocks,
};
use super::syntax::{self, FileSyntax, LineId, Stmt};
use super::{Error, Problem, Result};
use crate::version;

/// One `use` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The module directory, as written.
    pub path: String,
    /// The module path recorded for it by edits; parsing leaves it empty (as x/mod does).
    pub module_path: String,
    /// Its line.
    pub syntax: LineId,
}

/// A parsed go.work file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkFile {
    /// The `go` statement.
    pub go: Option<GoStmt>,
    /// The `toolchain` statement.
    pub toolchain: Option<Toolchain>,
    /// `godebug` settings in file order.
    pub godebug: Vec<Godebug>,
    /// Module directories in file order.
    pub uses: Vec<Use>,
    /// Replacements in file order.
    pub replace: Vec<Replace>,
    /// The syntax tree.
    pub syntax: FileSyntax,
}

const WORK_BLOCKS: &[&str] = &["godebug", "use", "replace"];

impl WorkFile {
    /// Parses a go.work file (x/mod's `ParseWork`): `go`, `toolchain`, `godebug`, `use` and `replace`.
    pub fn parse(file: &str, src: &str) -> Result<WorkFile> {
        let syntax = syntax::parse(file, src)?;
        let mut f = WorkFile {
            syntax,
            ..WorkFile::default()
        };
        let mut errs = Vec::new();
        for i in 0..f.syntax.stmts.len() {
            let (verb, lines, skip) = match &f.syntax.stmts[i] {
                Stmt::Line(id) => (f.syntax.line(*id).tokens[0].clone(), vec![*id], 1),
                Stmt::Block(b) => {
                    if b.tokens.len() != 1 || !WORK_BLOCKS.contains(&b.tokens[0].as_str()) {
                        errs.push(Error::at(
                            file,
                            b.start,
                            Problem::UnknownBlockType {
                                tokens: b.tokens.join(" "),
                            },
                        ));
                        continue;
                    }
                    (b.tokens[0].clone(), b.lines.clone(), 0)
                }
                Stmt::Comments(_) => continue,
            };
            for id in lines {
                let start = f.syntax.line(id).start;
                let mut args = f.syntax.line(id).tokens[skip..].to_vec();
                let result = f.directive(id, &verb, &mut args);
                f.syntax.line_mut(id).tokens.splice(skip.., args);
                if let Err(problem) = result {
                    errs.push(Error::at(file, start, problem));
                }
            }
        }
        if errs.is_empty() {
            Ok(f)
        } else {
            Err(Error::List { errors: errs })
        }
    }

    fn directive(&mut self, id: LineId, verb: &str, args: &mut [String]) -> Result<(), Problem> {
        match verb {
            "go" => {
                if self.go.is_some() {
                    return Err(Problem::Repeated { verb: "go" });
                }
                if args.len() != 1 {
                    return Err(Problem::ExactlyOneArgument { verb: "go" });
                }
                if !version::is_valid_go_line(&args[0]) {
                    return Err(Problem::InvalidGoVersion {
                        version: args[0].clone(),
                    });
                }
                self.go = Some(GoStmt {
                    version: args[0].clone(),
                    syntax: id,
                });
            }
            "toolchain" => {
                if self.toolchain.is_some() {
                    return Err(Problem::Repeated { verb: "toolchain" });
                }
                if args.len() != 1 {
                    return Err(Problem::ExactlyOneArgument { verb: "toolchain" });
                }
                if !version::is_valid_toolchain_line(&args[0]) {
                    return Err(Problem::InvalidToolchain {
                        version: args[0].clone(),
                    });
                }
                self.toolchain = Some(Toolchain {
                    name: args[0].clone(),
                    syntax: id,
                });
            }
            "godebug" => {
                let (key, value) = parse_godebug(args)?;
                self.godebug.push(Godebug {
                    key,
                    value,
                    syntax: id,
                });
            }
            "use" => {
                if args.len() != 1 {
                    return Err(Problem::Usage {
                        usage: "use local/dir".to_owned(),
                    });
                }
                let path = parse_string(&mut args[0])
                    .map_err(|problem| Problem::InvalidQuotedString { problem })?;
                self.uses.push(Use {
                    path,
                    module_path: String::new(),
                    syntax: id,
                });
            }
            "replace" => {
                let (old, new) = parse_replace(verb, args, None)?;
                self.replace.push(Replace {
                    old,
                    new,
                    syntax: id,
                });
            }
            _ => {
                return Err(Problem::UnknownDirective {
                    verb: verb.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Formats the file as x/mod's `Format` does.
    pub fn format(&self) -> String {
        syntax::format(&self.syntax)
    }

    /// Removes duplicate replacements (the last wins), drops empty blocks and sorts every block's lines.
    pub fn sort_blocks(&mut self) {
        let mut kill = HashSet::new();
        remove_replace_dups(&mut self.replace, &mut kill);
        drop_lines(&mut self.syntax, &kill);
        sort_blocks(&mut self.syntax, |_| compare_line);
    }

    /// Drops removed lines and empty blocks, and turns one-line blocks into lines.
    pub fn cleanup(&mut self) {
        // As in x/mod: entries with an empty key leave the typed view (see `ModFile::cleanup`).
        self.uses.retain(|u| !u.path.is_empty());
        self.replace.retain(|r| !r.old.path.is_empty());
        self.syntax.cleanup();
    }

    /// Sets the `go` line, adding it before the first statement that is not a comment block.
    pub fn add_go_stmt(&mut self, version: &str) -> Result<()> {
        if !version::is_valid_go_line(version) {
            return Err(Error::InvalidLanguageVersion {
                version: version.to_owned(),
            });
        }
        let tokens = [String::from("go"), version.to_owned()];
        if let Some(g) = &mut self.go {
            version.clone_into(&mut g.version);
            self.syntax.update_line(g.syntax, &tokens);
            return Ok(());
        }
        let id = self.syntax.push_detached(syntax::Line {
            tokens: tokens.to_vec(),
            ..syntax::Line::default()
        });
        let at = self
            .syntax
            .stmts
            .iter()
            .position(|s| !matches!(s, Stmt::Comments(_)))
            .unwrap_or(self.syntax.stmts.len());
        self.syntax.stmts.insert(at, Stmt::Line(id));
        self.go = Some(GoStmt {
            version: version.to_owned(),
            syntax: id,
        });
        Ok(())
    }

    /// Removes the `go` line.
    pub fn drop_go_stmt(&mut self) {
        if let Some(g) = self.go.take() {
            self.syntax.mark_removed(g.syntax);
        }
    }

    /// Sets the `toolchain` line, adding it after the `go` line (or before the first statement).
    pub fn add_toolchain_stmt(&mut self, name: &str) -> Result<()> {
        if !version::is_valid_toolchain_line(name) {
            return Err(Error::InvalidToolchainName {
                name: name.to_owned(),
            });
        }
        let tokens = [String::from("toolchain"), name.to_owned()];
        if let Some(t) = &mut self.toolchain {
            name.clone_into(&mut t.name);
            self.syntax.update_line(t.syntax, &tokens);
            return Ok(());
        }
        let id = self.syntax.push_detached(syntax::Line {
            tokens: tokens.to_vec(),
            ..syntax::Line::default()
        });
        let stmts = &self.syntax.stmts;
        let after_go = stmts.iter().position(|s| match s {
            Stmt::Line(l) => self
                .syntax
                .line(*l)
                .tokens
                .first()
                .is_some_and(|t| t == "go"),
            _ => false,
        });
        let at = after_go.map_or_else(
            || {
                stmts
                    .iter()
                    .position(|s| !matches!(s, Stmt::Comments(_)))
                    .unwrap_or(stmts.len())
            },
            |i| i + 1,
        );
        self.syntax.stmts.insert(at, Stmt::Line(id));
        self.toolchain = Some(Toolchain {
            name: name.to_owned(),
            syntax: id,
        });
        Ok(())
    }

    /// Removes the `toolchain` line.
    pub fn drop_toolchain_stmt(&mut self) {
        if let Some(t) = self.toolchain.take() {
            self.syntax.mark_removed(t.syntax);
        }
    }

    /// Sets the first `godebug` line for `key` and removes the others.
    pub fn add_godebug(&mut self, key: &str, value: &str) {
        add_godebug(&mut self.syntax, &mut self.godebug, key, value);
    }

    /// Adds a `use` line for `disk_path` unless there is one, removing duplicates (x/mod's `AddUse`).
    pub fn add_use(&mut self, disk_path: &str, module_path: &str) {
        let tokens = [String::from("use"), auto_quote(disk_path)];
        let mut need = true;
        let syntax = &mut self.syntax;
        self.uses.retain_mut(|u| {
            if u.path != disk_path {
                return true;
            }
            if need {
                module_path.clone_into(&mut u.module_path);
                syntax.update_line(u.syntax, &tokens);
                need = false;
                true
            } else {
                syntax.mark_removed(u.syntax);
                false
            }
        });
        if need {
            let id = self.syntax.add_line(None, &tokens);
            self.uses.push(Use {
                path: disk_path.to_owned(),
                module_path: module_path.to_owned(),
                syntax: id,
            });
        }
    }

    /// Removes the `use` lines for `path`.
    pub fn drop_use(&mut self, path: &str) {
        let syntax = &mut self.syntax;
        self.uses.retain(|u| {
            let keep = u.path != path;
            if !keep {
                syntax.mark_removed(u.syntax);
            }
            keep
        });
    }

    /// Adds or updates a replacement (see [`super::ModFile::add_replace`]).
    pub fn add_replace(&mut self, old_path: &str, old_vers: &str, new_path: &str, new_vers: &str) {
        add_replace(
            &mut self.syntax,
            &mut self.replace,
            old_path,
            old_vers,
            new_path,
            new_vers,
        );
    }

    /// Removes the replacement of `old_path` at exactly `old_vers`.
    pub fn drop_replace(&mut self, old_path: &str, old_vers: &str) {
        drop_replace(&mut self.syntax, &mut self.replace, old_path, old_vers);
    }

    /// The replacements as (old, new) pairs.
    pub fn replacements(&self) -> impl Iterator<Item = (&ModuleVersion, &ModuleVersion)> {
        self.replace.iter().map(|r| (&r.old, &r.new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_edits_a_workspace() {
        let mut w = WorkFile::parse(
            "go.work",
            "// ws\n\nuse (\n\t./b\n\t\"./a\"\n)\n\nreplace x.com/y v1.0.0 => ./y\n",
        )
        .unwrap();
        assert_eq!(w.uses.len(), 2);
        w.add_go_stmt("1.23").unwrap();
        w.add_toolchain_stmt("go1.23.4").unwrap();
        w.add_use("./c", "");
        w.drop_use("./b");
        w.sort_blocks();
        w.cleanup();
        assert_eq!(
            w.format(),
            "// ws\n\ngo 1.23\n\ntoolchain go1.23.4\n\nuse (\n\t./a\n\t./c\n)\n\nreplace x.com/y v1.0.0 => ./y\n"
        );
        assert_eq!(w.replacements().count(), 1);
    }
}

//! Rewriting the whole requirement list with direct and indirect requirements in separate blocks
//! (x/mod's `SetRequireSeparateIndirect`, the shape `go mod tidy` writes).

use std::collections::{HashMap, HashSet};

use super::chars::{auto_quote, trim_space};
use super::rule::{ModFile, ModuleVersion, Require, is_indirect_line, set_indirect};
use super::syntax::{Comments, Line, LineBlock, LineId, Stmt};

// Comments other than a bare `// indirect` make a line or block "commented": such syntax is left where
// it is, because moving it would separate the comments from what they describe.
fn has_comments(c: &Comments) -> bool {
    !c.before.is_empty()
        || !c.after.is_empty()
        || c.suffix.len() > 1
        || (c.suffix.len() == 1
            && trim_space(
                c.suffix[0]
                    .token
                    .strip_prefix("//")
                    .unwrap_or(&c.suffix[0].token),
            ) != "indirect")
}

fn set_version(f: &mut ModFile, r: &mut Require, v: &str) {
    v.clone_into(&mut r.module.version);
    let line = f.syntax.line_mut(r.syntax);
    if line.tokens.is_empty() {
        return;
    }
    if line.in_block {
        // A blank line before a changed line would otherwise end up in an odd place (golang.org/issue/33779).
        if line.comments.before.len() == 1 && line.comments.before[0].token.is_empty() {
            line.comments.before.clear();
        }
        if line.tokens.len() >= 2 {
            v.clone_into(&mut line.tokens[1]);
        }
    } else if line.tokens.len() >= 3 {
        v.clone_into(&mut line.tokens[2]);
    }
}

fn block_mut(f: &mut ModFile, i: usize) -> Option<&mut LineBlock> {
    match &mut f.syntax.stmts[i] {
        Stmt::Block(b) => Some(b.as_mut()),
        _ => None,
    }
}

// Moves an existing requirement line (a copy: the old one is removed by cleanup) into block `i`.
fn move_existing(f: &mut ModFile, r: &mut Require, i: usize) {
    let old = f.syntax.line(r.syntax).clone();
    let mut line = old.clone();
    if !line.in_block && line.tokens.first().is_some_and(|t| t == "require") {
        line.tokens.remove(0);
    }
    line.in_block = true;
    f.syntax.line_mut(r.syntax).tokens.clear();
    let id = f.syntax.push_detached(line);
    r.syntax = id;
    if let Some(b) = block_mut(f, i) {
        b.lines.push(id);
    }
}

// One function, like x/mod's, so the two can be read side by side.
#[allow(clippy::too_many_lines)]
pub(crate) fn set_require_separate_indirect(f: &mut ModFile, req: &[(ModuleVersion, bool)]) {
    let need: HashMap<&str, (&str, bool)> = req
        .iter()
        .map(|(m, ind)| (m.path.as_str(), (m.version.as_str(), *ind)))
        .collect();

    let mut last_direct: Option<usize> = None;
    let mut last_indirect: Option<usize> = None;
    let mut last_require: Option<usize> = None;
    let mut count = 0;
    // The lines of each existing require block, by statement index.
    let mut block_lines: HashMap<usize, HashSet<LineId>> = HashMap::new();
    for (i, stmt) in f.syntax.stmts.iter().enumerate() {
        match stmt {
            Stmt::Line(id) => {
                let line = f.syntax.line(*id);
                if line.tokens.first().is_none_or(|t| t != "require") {
                    continue;
                }
                last_require = Some(i);
                count += 1;
                if !has_comments(&line.comments) {
                    if is_indirect_line(line) {
                        last_indirect = Some(i);
                    } else {
                        last_direct = Some(i);
                    }
                }
            }
            Stmt::Block(b) => {
                if b.tokens.first().is_none_or(|t| t != "require") {
                    continue;
                }
                last_require = Some(i);
                count += 1;
                let mut all_direct = !b.lines.is_empty() && !has_comments(&b.comments);
                let mut all_indirect = all_direct;
                for id in &b.lines {
                    let line = f.syntax.line(*id);
                    if has_comments(&line.comments) {
                        all_direct = false;
                        all_indirect = false;
                    } else if is_indirect_line(line) {
                        all_direct = false;
                    } else {
                        all_indirect = false;
                    }
                }
                if all_direct {
                    last_direct = Some(i);
                }
                if all_indirect {
                    last_indirect = Some(i);
                }
                block_lines.insert(i, b.lines.iter().copied().collect());
            }
            Stmt::Comments(_) => {}
        }
    }

    let one_flat_uncommented = count == 1
        && last_require.is_some_and(|i| match &f.syntax.stmts[i] {
            Stmt::Line(id) => !has_comments(&f.syntax.line(*id).comments),
            Stmt::Block(b) => !has_comments(&b.comments),
            Stmt::Comments(c) => !has_comments(&c.comments),
        });

    let insert_block = |f: &mut ModFile, i: usize| {
        f.syntax.stmts.insert(
            i,
            Stmt::Block(Box::new(LineBlock {
                tokens: vec!["require".into()],
                ..LineBlock::default()
            })),
        );
    };
    let ensure_block = |f: &mut ModFile, i: usize| {
        if let Stmt::Line(id) = f.syntax.stmts[i] {
            let line = f.syntax.line_mut(id);
            if !line.tokens.is_empty() {
                line.tokens.remove(0);
            }
            line.in_block = true;
            f.syntax.stmts[i] = Stmt::Block(Box::new(LineBlock {
                tokens: vec!["require".into()],
                lines: vec![id],
                ..LineBlock::default()
            }));
        }
    };

    // Where the direct and indirect blocks are; statement indexes shift when a block is inserted before.
    let (direct, direct_lines) = if let Some(i) = last_direct {
        let lines = block_lines.get(&i).cloned().unwrap_or_default();
        ensure_block(f, i);
        (i, lines)
    } else {
        let i = if let Some(ind) = last_indirect {
            last_indirect = Some(ind + 1);
            ind
        } else if let Some(r) = last_require {
            r + 1
        } else {
            f.syntax.stmts.len()
        };
        insert_block(f, i);
        (i, HashSet::new())
    };
    let (indirect, indirect_lines) = if let Some(i) = last_indirect {
        // When the direct block was inserted before it, the indirect block moved down by one.
        let lines = block_lines
            .get(&(i - usize::from(i > direct && last_direct.is_none())))
            .cloned();
        ensure_block(f, i);
        (i, lines.unwrap_or_default())
    } else {
        insert_block(f, direct + 1);
        (direct + 1, HashSet::new())
    };

    let mut have: HashSet<String> = HashSet::new();
    let mut require = std::mem::take(&mut f.require);
    let mut kept = Vec::with_capacity(require.len());
    for mut r in require.drain(..) {
        let Some(&(v, ind)) = need.get(r.module.path.as_str()) else {
            f.syntax.mark_removed(r.syntax);
            continue;
        };
        if !have.insert(r.module.path.clone()) {
            f.syntax.mark_removed(r.syntax);
            continue;
        }
        set_version(f, &mut r, v);
        set_indirect(&mut f.syntax, &mut r, ind);
        if ind && (one_flat_uncommented || direct_lines.contains(&r.syntax)) {
            move_existing(f, &mut r, indirect);
        } else if !ind && (one_flat_uncommented || indirect_lines.contains(&r.syntax)) {
            move_existing(f, &mut r, direct);
        }
        kept.push(r);
    }
    for (m, ind) in req {
        if have.contains(&m.path) {
            continue;
        }
        have.insert(m.path.clone());
        let id = f.syntax.push_detached(Line {
            tokens: vec![auto_quote(&m.path), m.version.clone()],
            in_block: true,
            ..Line::default()
        });
        let mut r = Require {
            module: m.clone(),
            indirect: false,
            syntax: id,
        };
        if *ind {
            set_indirect(&mut f.syntax, &mut r, true);
        }
        if let Some(b) = block_mut(f, if *ind { indirect } else { direct }) {
            b.lines.push(id);
        }
        kept.push(r);
    }
    f.require = kept;
    f.sort_blocks();
}

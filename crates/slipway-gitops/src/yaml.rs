//! A small scanner for block-style YAML that records the byte span of every node, so that an edit replaces
//! exactly the bytes of one value (or inserts or removes whole lines) and leaves every other byte alone.
//!
//! It reads what `GitOps` files are made of: documents separated by `---`, block mappings and sequences
//! (indented or not), compact `- key: value` items, plain, single- and double-quoted scalars, comments,
//! anchors, tags and aliases. Flow collections, block scalars (`|`, `>`) and multi-line scalars are kept as
//! opaque spans: they are never edited, only stepped over.

use std::ops::Range;

use crate::error::{Error, Result};

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Single,
    Double,
}

/// A one-line scalar: where its text is (quotes included) and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scalar {
    pub span: Range<usize>,
    pub style: Style,
    pub value: String,
}

/// A node with the spans an edit needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A block mapping whose keys start at column `indent`.
    Map {
        indent: usize,
        entries: Vec<Entry>,
    },
    /// A block sequence whose dashes are at column `indent`.
    Seq {
        indent: usize,
        items: Vec<Item>,
    },
    Scalar(Scalar),
    /// No value (`key:` with nothing after it); `at` is where a value could be written on the key's line.
    Empty {
        at: usize,
    },
    /// Flow collections, block scalars, aliases, multi-line scalars: never edited.
    Opaque,
}

/// One `key: value` of a block mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: String,
    /// First byte of the line holding the key (the key itself when it follows a `- ` on that line).
    pub line_start: usize,
    /// One past the last byte (newline included) of the entry's last content line.
    pub end: usize,
    pub value: Node,
}

/// One `- item` of a block sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub line_start: usize,
    pub end: usize,
    pub value: Node,
}

/// One YAML document of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Document {
    pub root: Node,
    /// One past the last byte of its last content line (where something can be appended).
    pub end: usize,
}

#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// End of the content, before `\r\n` or `\n`.
    end: usize,
    /// After the newline (or the end of the text).
    next: usize,
    indent: usize,
}

/// Parses every document of `text`. `file` only names the file in errors.
pub(crate) fn parse(file: &str, text: &str) -> Result<Vec<Document>> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let nl = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let next = if nl < text.len() { nl + 1 } else { nl };
        let end = if nl > start && text.as_bytes()[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let indent = text[start..end].bytes().take_while(|&b| b == b' ').count();
        lines.push(Line {
            start,
            end,
            next,
            indent,
        });
        start = next;
    }
    let mut parser = Parser {
        file,
        text,
        lines,
        pos: 0,
    };
    let mut docs = Vec::new();
    loop {
        // Directives and the `---` that opens a document.
        let mut explicit = false;
        let mut opaque_root = false;
        while let Some(line) = parser.lines.get(parser.pos).copied() {
            let content = &text[line.start..line.end];
            if parser.is_blank(line) || content.starts_with('%') {
                parser.pos += 1;
            } else if is_marker(content, "---") {
                explicit = true;
                let rest = content[3..].trim_start();
                opaque_root = !(rest.is_empty() || rest.starts_with('#'));
                parser.pos += 1;
                break;
            } else {
                break;
            }
        }
        let at_end = parser.pos >= parser.lines.len();
        if at_end && !explicit {
            break;
        }
        let root = if opaque_root {
            parser.skip_document();
            Node::Opaque
        } else {
            match parser.next_content() {
                Some(line) if !parser.is_doc_boundary(line) => {
                    let line = parser.lines[line];
                    parser.block(line.indent, line.start + line.indent, false)?
                }
                _ => Node::Empty {
                    at: parser.offset(),
                },
            }
        };
        let end = parser.last_content_end();
        // Anything left over at this point (less indented than the root, or a stray line) is not ours to read.
        if let Some(i) = parser.next_content()
            && !parser.is_doc_boundary(i)
        {
            let line = parser.lines[i];
            return Err(parser.error(
                line.start + line.indent,
                "unexpected content after the document's root",
            ));
        }
        docs.push(Document { root, end });
        // `...` closes a document.
        if let Some(i) = parser.next_content()
            && is_marker(&text[parser.lines[i].start..parser.lines[i].end], "...")
        {
            parser.pos = i + 1;
        }
        if parser.next_content().is_none() {
            break;
        }
    }
    Ok(docs)
}

fn is_marker(content: &str, marker: &str) -> bool {
    content.starts_with(marker)
        && content[3..]
            .chars()
            .next()
            .is_none_or(|c| c == ' ' || c == '\t')
}

struct Parser<'a> {
    file: &'a str,
    text: &'a str,
    lines: Vec<Line>,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, offset: usize, reason: &'static str) -> Error {
        let (line, column) = line_column(self.text, offset);
        Error::Yaml {
            file: self.file.to_owned(),
            line,
            column,
            reason,
        }
    }

    fn is_blank(&self, line: Line) -> bool {
        let content = self.text[line.start..line.end].trim_start_matches([' ', '\t']);
        content.is_empty() || content.starts_with('#')
    }

    fn is_doc_boundary(&self, i: usize) -> bool {
        let line = self.lines[i];
        let content = &self.text[line.start..line.end];
        is_marker(content, "---") || is_marker(content, "...")
    }

    /// Index of the next line that is neither blank nor a comment.
    fn next_content(&self) -> Option<usize> {
        (self.pos..self.lines.len()).find(|&i| !self.is_blank(self.lines[i]))
    }

    fn offset(&self) -> usize {
        self.lines
            .get(self.pos)
            .map_or(self.text.len(), |l| l.start)
    }

    /// One past the end of the last content line consumed so far.
    fn last_content_end(&self) -> usize {
        (0..self.pos)
            .rev()
            .map(|i| self.lines[i])
            .find(|l| !self.is_blank(*l))
            .map_or(0, |l| l.next)
    }

    fn skip_document(&mut self) {
        while self.pos < self.lines.len() && !self.is_doc_boundary(self.pos) {
            self.pos += 1;
        }
    }

    /// Skips the lines of a value more indented than `indent` (block scalars, continuation lines).
    fn skip_deeper(&mut self, indent: usize) {
        while let Some(i) = self.next_content() {
            if self.lines[i].indent > indent && !self.is_doc_boundary(i) {
                self.pos = i + 1;
            } else {
                break;
            }
        }
    }

    /// Parses the block node that starts at byte `at` (column `col` of the current line). `in_item` is true
    /// when the node follows a `- ` on the same line.
    fn block(&mut self, col: usize, at: usize, in_item: bool) -> Result<Node> {
        let i = self.pos_of(at);
        let line = self.lines[i];
        let rest = &self.text[at..line.end];
        if rest.starts_with("- ") || rest == "-" {
            return self.seq(col);
        }
        if split_key(rest).is_some() {
            return self.map(col, at, in_item);
        }
        // A scalar or opaque node alone on its line(s).
        self.pos = i + 1;
        let node = self.value(at, line.end, col)?;
        Ok(node)
    }

    fn pos_of(&self, offset: usize) -> usize {
        self.lines
            .partition_point(|l| l.next <= offset)
            .min(self.lines.len().saturating_sub(1))
    }

    fn seq(&mut self, indent: usize) -> Result<Node> {
        let mut items = Vec::new();
        while let Some(i) = self.next_content() {
            let line = self.lines[i];
            let content = &self.text[line.start + line.indent.min(line.end - line.start)..line.end];
            if line.indent != indent
                || self.is_doc_boundary(i)
                || !(content.starts_with("- ") || content == "-")
            {
                if line.indent > indent && !self.is_doc_boundary(i) {
                    return Err(self.error(
                        line.start + line.indent,
                        "a line is indented more than its sequence",
                    ));
                }
                break;
            }
            let after_dash = line.start + indent + 1;
            let spaces = self.text[after_dash..line.end]
                .bytes()
                .take_while(|&b| b == b' ')
                .count();
            let at = after_dash + spaces;
            let value = if at >= line.end || self.text[at..line.end].starts_with('#') {
                self.pos = i + 1;
                self.nested(indent, line.end, true)?
            } else {
                self.pos = i;
                self.block(indent + 1 + spaces, at, true)?
            };
            items.push(Item {
                line_start: line.start,
                end: self.last_content_end(),
                value,
            });
        }
        Ok(Node::Seq { indent, items })
    }

    fn map(&mut self, indent: usize, first: usize, _in_item: bool) -> Result<Node> {
        let mut entries = Vec::new();
        let mut at = first;
        loop {
            let i = self.pos_of(at);
            let line = self.lines[i];
            let rest = &self.text[at..line.end];
            let Some((key, after_colon)) = split_key(rest) else {
                return Err(self.error(at, "expected `key: value`"));
            };
            let line_start = if at == line.start + line.indent {
                line.start
            } else {
                at
            };
            let value_at = at + after_colon;
            let value_text = &self.text[value_at..line.end];
            let lead = value_text.len() - value_text.trim_start_matches(' ').len();
            let value_at = value_at + lead;
            let value = self.entry_value(indent, value_at, line, i)?;
            entries.push(Entry {
                key,
                line_start,
                end: self.last_content_end(),
                value,
            });
            // The next entry: a content line at exactly this indent that is not a sequence dash.
            match self.next_content() {
                Some(j) if !self.is_doc_boundary(j) => {
                    let next = self.lines[j];
                    let content = &self.text[next.start + next.indent..next.end];
                    if next.indent == indent && !content.starts_with("- ") && content != "-" {
                        at = next.start + next.indent;
                    } else if next.indent > indent {
                        return Err(self.error(
                            next.start + next.indent,
                            "a line is indented more than its mapping",
                        ));
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        Ok(Node::Map { indent, entries })
    }

    /// The value after `key:`, which starts at `at` on line `i` (or on the following lines).
    fn entry_value(&mut self, indent: usize, at: usize, line: Line, i: usize) -> Result<Node> {
        let mut at = at;
        // Anchors and tags before the value.
        loop {
            let rest = &self.text[at..line.end];
            if rest.starts_with('&') || rest.starts_with('!') {
                let len = rest.find(' ').unwrap_or(rest.len());
                let skip = rest[len..].len() - rest[len..].trim_start_matches(' ').len();
                at += len + skip;
            } else {
                break;
            }
        }
        let rest = &self.text[at..line.end];
        if rest.is_empty() || rest.starts_with('#') {
            self.pos = i + 1;
            let node = self.nested(indent, at, false)?;
            return Ok(node);
        }
        self.pos = i + 1;
        self.value(at, line.end, indent)
    }

    /// A value on following lines, below a key or dash at column `indent`.
    fn nested(&mut self, indent: usize, empty_at: usize, after_dash: bool) -> Result<Node> {
        match self.next_content() {
            Some(j) if !self.is_doc_boundary(j) => {
                let next = self.lines[j];
                let content = &self.text[next.start + next.indent..next.end];
                let is_dash = content.starts_with("- ") || content == "-";
                if next.indent > indent || (!after_dash && next.indent == indent && is_dash) {
                    self.pos = j;
                    self.block(next.indent, next.start + next.indent, false)
                } else {
                    Ok(Node::Empty { at: empty_at })
                }
            }
            _ => Ok(Node::Empty { at: empty_at }),
        }
    }

    /// A value that starts on its line at `at` (up to `end`); the caller's line is already consumed.
    fn value(&mut self, at: usize, end: usize, indent: usize) -> Result<Node> {
        let rest = &self.text[at..end];
        let first = rest.as_bytes()[0];
        match first {
            b'|' | b'>' | b'*' => {
                self.skip_deeper(indent);
                Ok(Node::Opaque)
            }
            b'[' | b'{' => {
                // A flow collection may run over several lines: step over lines more indented than the key.
                self.skip_deeper(indent);
                Ok(Node::Opaque)
            }
            b'"' | b'\'' => {
                if let Some((len, value)) = quoted(rest) {
                    let after = rest[len..].trim_start_matches([' ', '\t']);
                    if !(after.is_empty() || after.starts_with('#')) {
                        return Err(self.error(at + len, "unexpected text after a quoted scalar"));
                    }
                    let style = if first == b'"' {
                        Style::Double
                    } else {
                        Style::Single
                    };
                    Ok(Node::Scalar(Scalar {
                        span: at..at + len,
                        style,
                        value,
                    }))
                } else {
                    // A quoted scalar that runs over several lines.
                    self.skip_deeper(indent);
                    Ok(Node::Opaque)
                }
            }
            _ => {
                let len = plain_len(rest);
                let before = self.pos;
                self.skip_deeper(indent);
                if self.pos != before {
                    return Ok(Node::Opaque);
                }
                Ok(Node::Scalar(Scalar {
                    span: at..at + len,
                    style: Style::Plain,
                    value: rest[..len].to_owned(),
                }))
            }
        }
    }
}

/// `key: …` at the start of `rest`: the key's meaning and the offset just after the colon.
fn split_key(rest: &str) -> Option<(String, usize)> {
    let first = rest.as_bytes().first()?;
    if *first == b'"' || *first == b'\'' {
        let (len, key) = quoted(rest)?;
        let after = &rest[len..];
        let trimmed = after.trim_start_matches(' ');
        let colon = len + (after.len() - trimmed.len());
        return (trimmed.starts_with(':')
            && (trimmed.len() == 1 || trimmed[1..].starts_with([' ', '\t'])))
        .then(|| (key, colon + 1));
    }
    if matches!(
        first,
        b'#' | b'[' | b'{' | b'&' | b'*' | b'!' | b'|' | b'>' | b'?'
    ) {
        return None;
    }
    if rest.starts_with("- ") || rest == "-" {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':'
            && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t')
        {
            let key = rest[..i].trim_end().to_owned();
            return (!key.is_empty()).then_some((key, i + 1));
        }
        if bytes[i] == b'#' && i > 0 && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            return None;
        }
        i += 1;
    }
    None
}

/// The length of a one-line quoted scalar at the start of `rest` and its meaning; `None` when it does not
/// close on this line.
fn quoted(rest: &str) -> Option<(usize, String)> {
    let quote = rest.as_bytes()[0];
    let mut value = String::new();
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == b'\'' && c == '\'' {
            if chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
                value.push('\'');
                continue;
            }
            return Some((i + 1, value));
        }
        if quote == b'"' && c == '"' {
            return Some((i + 1, value));
        }
        if quote == b'"' && c == '\\' {
            let (_, escaped) = chars.next()?;
            value.push(match escaped {
                'n' => '\n',
                't' => '\t',
                '0' => '\0',
                other => other,
            });
            continue;
        }
        value.push(c);
    }
    None
}

/// The length of a plain scalar: up to a ` #` comment or the end of the line, trailing blanks dropped.
fn plain_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut end = bytes.len();
    for i in 1..bytes.len() {
        if bytes[i] == b'#' && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            end = i;
            break;
        }
    }
    rest[..end].trim_end_matches([' ', '\t']).len()
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Whether `value` written plain reads back as the same string (not a number, bool, null, date, or
/// something YAML gives another meaning).
pub(crate) fn plain_is_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    // A leading `-` is fine (`-rc1`) unless it starts a sequence or a negative number.
    let dash_ok =
        first == '-' && value.len() > 1 && !value.starts_with("- ") && !looks_numeric(value);
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) && !dash_ok {
        return false;
    }
    if value.contains(": ") || value.contains(" #") || value.ends_with(':') || value.trim() != value
    {
        return false;
    }
    if value.chars().any(|c| c.is_control() || c == '\t') {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) {
        return false;
    }
    !looks_numeric(value)
}

/// Numbers (ints, floats, hex, octal, sexagesimal) and dates, in YAML 1.1 and 1.2: anything made only of
/// digits and number punctuation, or starting like a date.
fn looks_numeric(value: &str) -> bool {
    let v = value.trim_start_matches(['+', '-']);
    if v.starts_with("0x") || v.starts_with("0o") || v.starts_with("0b") {
        return true;
    }
    let bytes = v.as_bytes();
    if bytes.len() >= 5 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' {
        return true;
    }
    v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b"._+-:eE".contains(&b))
}

/// `value` written in `style` (a plain style that would change its meaning becomes double-quoted).
pub(crate) fn render(value: &str, style: Style) -> String {
    match style {
        Style::Plain if plain_is_safe(value) => value.to_owned(),
        Style::Single if !value.chars().any(char::is_control) => {
            format!("'{}'", value.replace('\'', "''"))
        }
        _ => {
            let mut out = String::with_capacity(value.len() + 2);
            out.push('"');
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

/// The line ending the file uses (`\r\n` when its first line ends so).
pub(crate) fn newline(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

impl Node {
    /// The entry `key` of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        match self {
            Node::Map { entries, .. } => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The scalar's text, if this is a scalar.
    pub(crate) fn scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// Byte-range replacements applied together; ranges never overlap.
#[derive(Debug, Default)]
pub(crate) struct Edits {
    changes: Vec<(Range<usize>, String)>,
}

impl Edits {
    pub(crate) fn replace(&mut self, span: Range<usize>, text: String) {
        self.changes.push((span, text));
    }

    pub(crate) fn insert(&mut self, at: usize, text: String) {
        self.changes.push((at..at, text));
    }

    /// Applies the edits to `text`.
    pub(crate) fn apply(mut self, text: &str) -> String {
        // Later offsets first so earlier ones stay valid; insertions at one offset keep their order.
        self.changes.sort_by_key(|(r, _)| (r.start, r.end));
        let mut out = String::with_capacity(text.len() + 64);
        let mut at = 0;
        for (range, new) in self.changes {
            out.push_str(&text[at..range.start]);
            out.push_str(&new);
            at = range.end;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// Writes `value` over a scalar in its own quoting style, unless it already means `value`.
pub(crate) fn set_scalar(edits: &mut Edits, scalar: &Scalar, value: &str) {
    if scalar.value != value {
        edits.replace(scalar.span.clone(), render(value, scalar.style));
    }
}

/// The text that appends a line to a file ending at `at`: a newline first when the file does not end in one.
pub(crate) fn line_prefix(text: &str, at: usize) -> &'static str {
    if at > 0 && !text[..at].ends_with('\n') {
        newline(text)
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        parse("t.yaml", text).expect("parses").remove(0).root
    }

    #[test]
    fn spans_cover_only_the_value() {
        let text = "a: 1 # one\nb:\n  c: 'x''y'  # q\n  d: \"q\\\"\"\nlist:\n- name: n\n  newTag: v1\n- plain\n";
        let r = root(text);
        let c = r
            .get("b")
            .expect("b")
            .value
            .get("c")
            .expect("c")
            .value
            .scalar()
            .expect("scalar")
            .clone();
        assert_eq!(&text[c.span.clone()], "'x''y'");
        assert_eq!(c.value, "x'y");
        let d = r
            .get("b")
            .expect("b")
            .value
            .get("d")
            .expect("d")
            .value
            .scalar()
            .expect("scalar")
            .clone();
        assert_eq!(d.value, "q\"");
        let Node::Seq { items, indent } = &r.get("list").expect("list").value else {
            panic!("seq")
        };
        assert_eq!(*indent, 0);
        assert_eq!(items.len(), 2);
        let tag = items[0]
            .value
            .get("newTag")
            .expect("newTag")
            .value
            .scalar()
            .expect("s")
            .clone();
        assert_eq!(&text[tag.span], "v1");
        assert_eq!(items[1].value.scalar().expect("s").value, "plain");
    }

    #[test]
    fn documents_anchors_and_block_scalars() {
        let text =
            "---\na: &x 1\nb: *x\nc: |\n  text: not a key\nd: [1, 2]\n...\n---\n# c\ne: !!str 5\n";
        let docs = parse("t.yaml", text).expect("parses");
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0]
                .root
                .get("a")
                .expect("a")
                .value
                .scalar()
                .expect("s")
                .value,
            "1"
        );
        assert_eq!(docs[0].root.get("b").expect("b").value, Node::Opaque);
        assert_eq!(docs[0].root.get("c").expect("c").value, Node::Opaque);
        assert!(docs[0].root.get("d").is_some());
        assert_eq!(
            docs[1]
                .root
                .get("e")
                .expect("e")
                .value
                .scalar()
                .expect("s")
                .value,
            "5"
        );
    }

    #[test]
    fn plain_values_that_change_meaning_are_quoted() {
        for v in [
            "1.10",
            "10",
            "true",
            "no",
            "2024-01-01",
            "0x1f",
            "1e3",
            "",
            "a: b",
            "#x",
            "1:20",
        ] {
            assert!(!plain_is_safe(v), "{v}");
        }
        for v in [
            "v1.10",
            "latest",
            "sha256:abc",
            "ghcr.io/a/b",
            "1.2.3-rc.1",
            "main-abc123",
        ] {
            assert!(plain_is_safe(v), "{v}");
        }
        assert_eq!(render("1.10", Style::Plain), "\"1.10\"");
        assert_eq!(render("it's", Style::Single), "'it''s'");
    }

    #[test]
    fn bad_indentation_is_reported_with_its_position() {
        let err = parse("f.yaml", "a:\n  b:\n    c: 1\n  d: 2\n e: 3\n").expect_err("refused");
        assert!(
            matches!(
                err,
                Error::Yaml {
                    line: 5,
                    column: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

//! Function extents from Go source, without the Go toolchain.
//!
//! `go tool cover -func` parses each file with `go/parser` and records every top-level function
//! declaration that has a body: its name (methods without their receiver), the position of the `func`
//! keyword and the position just past the closing brace. Positions come from `go/token`'s
//! `Position`, which honours `//line` directives (while the compiler's coverage blocks do not), so a
//! directive shifts the function but not its blocks; we reproduce that.
//!
//! Only as much of Go is scanned as is needed to find those declarations exactly: comments, every
//! string and rune literal form, brackets, and automatic semicolons (which tell a declaration's `func`
//! from a function literal). Source that `go/parser` would reject still yields a best-effort answer.

/// A function declaration with a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncExtent {
    /// The function's name (a method's name without its receiver).
    pub name: String,
    /// A method's receiver type as Go tools qualify it: `T` or `*T` (type parameters dropped).
    pub receiver: Option<String>,
    /// Line of the `func` keyword (after `//line` adjustment).
    pub start_line: u32,
    /// Column of the `func` keyword (bytes, 1-based; 0 when a `//line` directive left it unknown).
    pub start_col: u32,
    /// Line of the closing brace (after `//line` adjustment).
    pub end_line: u32,
    /// Column just past the closing brace.
    pub end_col: u32,
}

/// Finds every top-level function declaration with a body, in source order.
///
/// ```
/// let src = "package p\n\nfunc (t *T[K]) Get() K {\n\treturn t.k\n}\n\nvar f = func() {}\n";
/// let funcs = slipway_cover::find_funcs(src.as_bytes());
/// assert_eq!(funcs.len(), 1);
/// assert_eq!((funcs[0].name.as_str(), funcs[0].start_line, funcs[0].end_line, funcs[0].end_col), ("Get", 3, 5, 2));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn find_funcs(src: &[u8]) -> Vec<FuncExtent> {
    let mut lexer = Lexer::new(src);
    let mut funcs = Vec::new();
    let mut depth = 0usize;
    // Whether the next token starts a declaration: true after a (possibly automatic) semicolon.
    let mut at_decl_start = true;
    loop {
        let tok = lexer.next();
        match tok.kind {
            Kind::Eof => break,
            Kind::Semi => at_decl_start = true,
            Kind::Ident if depth == 0 && at_decl_start && lexer.text(&tok) == b"func" => {
                if let Some(f) = func_decl(&mut lexer, &tok) {
                    funcs.push(f);
                }
                // The declaration (or what could be read of it) is consumed; its end is the next
                // declaration's start.
                at_decl_start = true;
            }
            kind => {
                match kind {
                    Kind::Open => depth += 1,
                    Kind::Close => depth = depth.saturating_sub(1),
                    _ => {}
                }
                at_decl_start = false;
            }
        }
    }
    funcs
}

/// Reads a function declaration after its `func` keyword; `None` when it has no body.
fn func_decl(lexer: &mut Lexer<'_>, func: &Token) -> Option<FuncExtent> {
    let mut tok = lexer.next();
    let mut receiver = None;
    if tok.kind == Kind::Open && lexer.byte(tok.start) == b'(' {
        receiver = Some(receiver_type(lexer)?);
        tok = lexer.next();
    }
    if tok.kind != Kind::Ident {
        return None;
    }
    let name = String::from_utf8_lossy(lexer.text(&tok)).into_owned();
    // Signature: type parameters, parameters, results. The body is the first `{` at this level that
    // does not open a `struct` or `interface` type; a semicolon first means there is no body.
    let mut prev_is_type_keyword = false;
    loop {
        let tok = lexer.next();
        match tok.kind {
            Kind::Eof | Kind::Semi | Kind::Close => return None,
            Kind::Open if lexer.byte(tok.start) == b'{' && !prev_is_type_keyword => {
                let close = skip_group(lexer)?;
                let (start_line, start_col) = lexer.position(func.start);
                let (end_line, end_col) = lexer.position(close + 1);
                return Some(FuncExtent {
                    name,
                    receiver,
                    start_line,
                    start_col,
                    end_line,
                    end_col,
                });
            }
            Kind::Open => {
                skip_group(lexer);
                prev_is_type_keyword = false;
            }
            Kind::Ident => {
                let word = lexer.text(&tok);
                prev_is_type_keyword = word == b"struct" || word == b"interface";
            }
            _ => prev_is_type_keyword = false,
        }
    }
}

/// Reads a receiver up to its `)`: the type is the last identifier outside brackets, a pointer when a
/// `*` precedes it (`(l *List[T])` is `*List`).
fn receiver_type(lexer: &mut Lexer<'_>) -> Option<String> {
    let mut pointer = false;
    let mut name: &[u8] = b"";
    loop {
        let tok = lexer.next();
        match tok.kind {
            Kind::Eof => return None,
            Kind::Close => break,
            Kind::Open => {
                skip_group(lexer)?;
            }
            Kind::Ident => name = lexer.text(&tok),
            Kind::Other if lexer.byte(tok.start) == b'*' => pointer = true,
            _ => {}
        }
    }
    let name = String::from_utf8_lossy(name);
    Some(if pointer {
        format!("*{name}")
    } else {
        name.into_owned()
    })
}

/// Skips to the bracket closing the one just read; returns its offset (`None` at end of input).
fn skip_group(lexer: &mut Lexer<'_>) -> Option<usize> {
    let mut depth = 1usize;
    loop {
        let tok = lexer.next();
        match tok.kind {
            Kind::Eof => return None,
            Kind::Open => depth += 1,
            Kind::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some(tok.start);
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Literal,
    Open,
    Close,
    /// `;`, or a newline where Go inserts one.
    Semi,
    /// `++` / `--`: like closing brackets, they end a line with a semicolon.
    IncDec,
    Other,
    Eof,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// A `//line` directive in effect from `offset` on.
#[derive(Debug, Clone, Copy)]
struct LineInfo {
    offset: usize,
    line: u32,
    column: u32,
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    /// Offsets at which lines start, as `go/token` records them.
    lines: Vec<usize>,
    infos: Vec<LineInfo>,
    /// Whether a newline now would insert a semicolon (Go's rule: after an identifier, literal, `)`,
    /// `]`, `}`, `++`, `--`; keywords other than break/continue/fallthrough/return count as not).
    insert_semi: bool,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            lines: vec![0],
            infos: Vec::new(),
            insert_semi: false,
        }
    }

    fn byte(&self, at: usize) -> u8 {
        self.src.get(at).copied().unwrap_or(0)
    }

    fn text(&self, tok: &Token) -> &'a [u8] {
        &self.src[tok.start..tok.end]
    }

    fn newline_at(&mut self, at: usize) {
        // Each newline is seen once, in order, so the table stays sorted.
        if self.lines.last().is_none_or(|&last| last < at + 1) {
            self.lines.push(at + 1);
        }
    }

    fn next(&mut self) -> Token {
        let tok = self.scan();
        self.insert_semi = match tok.kind {
            Kind::Ident => {
                let word = &self.src[tok.start..tok.end];
                !is_keyword(word)
                    || matches!(word, b"break" | b"continue" | b"fallthrough" | b"return")
            }
            Kind::Literal | Kind::IncDec | Kind::Close => true,
            _ => false,
        };
        tok
    }

    fn scan(&mut self) -> Token {
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                if self.insert_semi {
                    self.insert_semi = false;
                    return self.token(Kind::Semi, self.pos, self.pos);
                }
                return self.token(Kind::Eof, self.pos, self.pos);
            };
            let start = self.pos;
            match c {
                b'\n' => {
                    self.newline_at(start);
                    self.pos += 1;
                    if self.insert_semi {
                        return self.token(Kind::Semi, start, start + 1);
                    }
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'/' if self.byte(start + 1) == b'/' => self.line_comment(start),
                b'/' if self.byte(start + 1) == b'*' => {
                    if let Some(semi) = self.block_comment(start) {
                        return semi;
                    }
                }
                b'"' | b'\'' => {
                    self.pos = self.quoted(start + 1, c);
                    return self.token(Kind::Literal, start, self.pos);
                }
                b'`' => {
                    let end = memchr(b'`', &self.src[start + 1..])
                        .map_or(self.src.len(), |i| start + 1 + i + 1);
                    for i in start..end {
                        if self.src[i] == b'\n' {
                            self.newline_at(i);
                        }
                    }
                    self.pos = end;
                    return self.token(Kind::Literal, start, end);
                }
                b'0'..=b'9' => {
                    self.pos = self.number(start);
                    return self.token(Kind::Literal, start, self.pos);
                }
                b'.' if self.byte(start + 1).is_ascii_digit() => {
                    self.pos = self.number(start);
                    return self.token(Kind::Literal, start, self.pos);
                }
                b'(' | b'[' | b'{' => {
                    self.pos += 1;
                    return self.token(Kind::Open, start, start + 1);
                }
                b')' | b']' | b'}' => {
                    self.pos += 1;
                    return self.token(Kind::Close, start, start + 1);
                }
                b';' => {
                    self.pos += 1;
                    return self.token(Kind::Semi, start, start + 1);
                }
                b'+' | b'-' if self.byte(start + 1) == c => {
                    self.pos += 2;
                    return self.token(Kind::IncDec, start, start + 2);
                }
                c if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                    let end = self.ident_end(start);
                    if end == start {
                        // A non-letter, non-ASCII character (or invalid UTF-8): skip it.
                        self.pos = (start + utf8_len(c)).min(self.src.len());
                        return self.token(Kind::Other, start, self.pos);
                    }
                    self.pos = end;
                    return self.token(Kind::Ident, start, end);
                }
                _ => {
                    self.pos += 1;
                    return self.token(Kind::Other, start, start + 1);
                }
            }
        }
    }

    fn token(&self, kind: Kind, start: usize, end: usize) -> Token {
        debug_assert!(start <= end && end <= self.src.len());
        Token { kind, start, end }
    }

    /// Skips a `//` comment. It acts like the newline that ends it, and that newline is scanned next,
    /// so it can still insert a semicolon.
    fn line_comment(&mut self, start: usize) {
        let end = memchr(b'\n', &self.src[start..]).map_or(self.src.len(), |i| start + i);
        self.pos = end;
        let line_start = *self.lines.last().unwrap_or(&0);
        // go/scanner honours `//line` only at the start of a line.
        if start == line_start {
            self.line_directive(start, end, true);
        }
    }

    /// Skips a `/* */` comment; one spanning lines acts like a newline (a semicolon, when one is due).
    fn block_comment(&mut self, start: usize) -> Option<Token> {
        let body = &self.src[start + 2..];
        let (end, closed) = match find2(body, b'*', b'/') {
            Some(i) => (start + 2 + i + 2, true),
            None => (self.src.len(), false),
        };
        let mut had_newline = false;
        for i in start..end {
            if self.src[i] == b'\n' {
                self.newline_at(i);
                had_newline = true;
            }
        }
        self.pos = end;
        if closed {
            self.line_directive(start, end, false);
        }
        (had_newline && self.insert_semi).then(|| self.token(Kind::Semi, start, end))
    }

    /// The end of an interpreted string or rune literal starting after `quote`. A newline ends an
    /// unterminated literal (as in Go, where that is an error).
    fn quoted(&self, mut i: usize, quote: u8) -> usize {
        while let Some(&c) = self.src.get(i) {
            match c {
                b'\\' => i += 2,
                b'\n' => return i,
                c if c == quote => return i + 1,
                _ => i += 1,
            }
        }
        self.src.len()
    }

    fn number(&self, start: usize) -> usize {
        let mut i = start;
        while let Some(&c) = self.src.get(i) {
            // An exponent's sign belongs to the number (`1e+9`), except in hex where `e` is a digit.
            let exponent_sign = (c == b'+' || c == b'-')
                && matches!(self.src.get(i - 1), Some(b'e' | b'E' | b'p' | b'P'))
                && !is_hex_prefixed(&self.src[start..i]);
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
                i += 1;
            } else {
                break;
            }
        }
        i
    }

    fn ident_end(&self, start: usize) -> usize {
        let mut i = start;
        while let Some(&c) = self.src.get(i) {
            if c == b'_' || c.is_ascii_alphanumeric() {
                i += 1;
            } else if c >= 0x80 {
                let len = utf8_len(c);
                let Some(ch) = self
                    .src
                    .get(i..i + len)
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| s.chars().next())
                else {
                    break;
                };
                if ch.is_alphanumeric() {
                    i += len;
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        i
    }

    /// Records a `//line` or `/*line */` directive found at `start..end`, following go/scanner: the
    /// text after `line ` ends in `:line` or `:line:col`; the new position starts right after the
    /// comment (after its newline for `//line`). Malformed directives are ignored (Go reports them).
    fn line_directive(&mut self, start: usize, end: usize, line_comment: bool) {
        let comment = &self.src[start..end];
        let mut text = &comment[2..];
        if !line_comment {
            text = &text[..text.len().saturating_sub(2)];
        } else if let Some(stripped) = text.strip_suffix(b"\r") {
            text = stripped;
        }
        let Some(text) = text.strip_prefix(b"line ") else {
            return;
        };
        let next = if line_comment {
            if end < self.src.len() { end + 1 } else { end }
        } else {
            end
        };
        let Some((head, last)) = trailing_number(text) else {
            return;
        };
        let (line, column) = match trailing_number(head) {
            Some((_, line)) => (line, last),
            None => (last, 0),
        };
        let max = 1u64 << 30;
        if line == 0
            || line > max
            || column > max
            || (column == 0 && trailing_number(head).is_some())
        {
            return;
        }
        if next >= self.src.len() || self.infos.last().is_some_and(|i| i.offset >= next) {
            return;
        }
        self.infos.push(LineInfo {
            offset: next,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        });
    }

    /// `go/token`'s adjusted position of byte `offset`.
    fn position(&self, offset: usize) -> (u32, u32) {
        let line_index = line_index(&self.lines, offset);
        let line = line_index + 1;
        let column = offset - self.lines[line_index] + 1;
        let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        let i = self.infos.partition_point(|info| info.offset <= offset);
        let Some(info) = i.checked_sub(1).map(|i| self.infos[i]) else {
            return (to_u32(line), to_u32(column));
        };
        let info_line = line_index_of(&self.lines, info.offset) + 1;
        let distance = line - info_line;
        let adjusted_line = u64::from(info.line) + distance as u64;
        let adjusted_column = if info.column == 0 {
            0
        } else if distance == 0 {
            u64::from(info.column) + (offset - info.offset) as u64
        } else {
            column as u64
        };
        (
            u32::try_from(adjusted_line).unwrap_or(u32::MAX),
            u32::try_from(adjusted_column).unwrap_or(u32::MAX),
        )
    }
}

/// The index of the line containing `offset` (lines recorded so far).
fn line_index(lines: &[usize], offset: usize) -> usize {
    lines
        .partition_point(|&start| start <= offset)
        .saturating_sub(1)
}

/// Like [`line_index`], named for the directive lookup (kept apart for clarity at the call site).
fn line_index_of(lines: &[usize], offset: usize) -> usize {
    line_index(lines, offset)
}

/// Splits `text` at its last `:` and parses the digits after it (`strconv.ParseUint`: digits only).
fn trailing_number(text: &[u8]) -> Option<(&[u8], u64)> {
    let colon = text.iter().rposition(|&b| b == b':')?;
    let digits = &text[colon + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some((&text[..colon], value))
}

fn is_hex_prefixed(number: &[u8]) -> bool {
    number.len() >= 2 && number[0] == b'0' && matches!(number[1], b'x' | b'X')
}

fn is_keyword(word: &[u8]) -> bool {
    matches!(
        word,
        b"break"
            | b"case"
            | b"chan"
            | b"const"
            | b"continue"
            | b"default"
            | b"defer"
            | b"else"
            | b"fallthrough"
            | b"for"
            | b"func"
            | b"go"
            | b"goto"
            | b"if"
            | b"import"
            | b"interface"
            | b"map"
            | b"package"
            | b"range"
            | b"return"
            | b"select"
            | b"struct"
            | b"switch"
            | b"type"
            | b"var"
    )
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn find2(haystack: &[u8], a: u8, b: u8) -> Option<usize> {
    haystack.windows(2).position(|w| w[0] == a && w[1] == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<(String, u32, u32, u32, u32)> {
        find_funcs(src.as_bytes())
            .into_iter()
            .map(|f| (f.name, f.start_line, f.start_col, f.end_line, f.end_col))
            .collect()
    }

    #[test]
    fn skips_bodiless_and_literal_functions() {
        let src = "package p\nfunc asm(x int) int\nvar f = func() { g() }\nvar h func()\nfunc real() {}\n";
        assert_eq!(names(src), vec![("real".into(), 5, 1, 5, 15)]);
    }

    #[test]
    fn braces_in_literals_and_comments_do_not_count() {
        let src = "package p\nfunc a() {\n\ts := \"}\" + `}\n}` + string('}') // }\n\t/* } */\n}\nfunc b() {}\n";
        assert_eq!(
            names(src),
            vec![("a".into(), 2, 1, 6, 2), ("b".into(), 7, 1, 7, 12)]
        );
    }

    #[test]
    fn struct_and_interface_results_are_not_bodies() {
        let src = "package p\nfunc a() struct{ x int } { return struct{ x int }{} }\nfunc b() interface{ M() } { return nil }\nfunc c[T interface{ ~int }]() {}\n";
        let got = names(src);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].4, 54);
        assert_eq!(got[2].0, "c");
    }

    #[test]
    fn line_directives_adjust_positions() {
        let src = "package p\n//line x.go:100\nfunc a() {\n}\n/*line x.go:20:5*/ func b() {}\n//line :7\nfunc c() {}\n";
        assert_eq!(
            names(src),
            vec![
                // No column in the directive: go/token reports column 0 until the next directive.
                ("a".into(), 100, 0, 101, 0),
                // The directive's position applies right after `*/`, to the space before `func`.
                ("b".into(), 20, 6, 20, 17),
                ("c".into(), 7, 0, 7, 0),
            ]
        );
    }

    #[test]
    fn receivers_are_named_like_go_tools_name_them() {
        let src = "package p\nfunc (r Rect) A() {}\nfunc (r *Rect) B() {}\nfunc (l *List[K, V]) C() {}\nfunc (Pair[K, V]) D() {}\nfunc (*T) E() {}\nfunc F() {}\n";
        let got: Vec<_> = find_funcs(src.as_bytes())
            .into_iter()
            .map(|f| (f.receiver, f.name))
            .collect();
        let want = [
            ("Rect", "A"),
            ("*Rect", "B"),
            ("*List", "C"),
            ("Pair", "D"),
            ("*T", "E"),
        ];
        for (i, (r, n)) in want.iter().enumerate() {
            assert_eq!((got[i].0.as_deref(), got[i].1.as_str()), (Some(*r), *n));
        }
        assert_eq!(got[5], (None, "F".to_owned()));
    }

    #[test]
    fn func_keyword_on_its_own_line() {
        let src = "package p\nfunc\nMulti() int {\n\treturn 1\n}\n";
        assert_eq!(names(src), vec![("Multi".into(), 2, 1, 5, 2)]);
    }

    #[test]
    fn unterminated_input_does_not_panic() {
        // A truncated UTF-8 lead byte at the end once moved the scanner past the input.
        assert!(find_funcs(b"``\xC0").is_empty());
        for src in [
            "func",
            "func (",
            "func a(",
            "func a() {",
            "package p\nfunc a() { \"",
            "/*",
            "`",
            "'",
        ] {
            let _ = find_funcs(src.as_bytes());
        }
    }
}

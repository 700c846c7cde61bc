//! The lossless syntax tree of go.mod and go.work files, and the lexer and parser that build it.
//!
//! The tree keeps everything `go mod edit -fmt` keeps: whole-line comments (attached to the statement that
//! follows them), end-of-line comments (attached to the line they end), blocks and the blank lines inside
//! them. Lines live in an arena owned by [`FileSyntax`] and are named by [`LineId`], so the typed view and
//! the edit operations can refer to a line wherever it sits (top level or inside a block).

use super::chars::{is_print, is_space, trim_space};
use super::{Error, Problem};

/// A position in the source: 1-based line, 1-based column counted in characters, 0-based byte offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Line number, starting at 1 (0 for syntax made by edits).
    pub line: usize,
    /// Column in characters, starting at 1.
    pub column: usize,
    /// Byte offset, starting at 0.
    pub byte: usize,
}

impl Position {
    // The position just after `s`, which starts at `self` (used for one-byte punctuation).
    fn add(self, s: &str) -> Position {
        let mut p = self;
        p.byte += s.len();
        let mut tail = s;
        if let Some(i) = s.rfind('\n') {
            p.line += s.matches('\n').count();
            tail = &s[i + 1..];
            p.column = 1;
        }
        p.column += tail.chars().count();
        p
    }
}

/// One `//` comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comment {
    /// Where the comment starts.
    pub start: Position,
    /// The comment text including `//`, without the line ending. Empty for the marker of a blank line kept
    /// inside a block.
    pub token: String,
    /// Whether this is an end-of-line comment (something precedes it on its line).
    pub suffix: bool,
}

/// The comments attached to a piece of syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comments {
    /// Whole-line comments before it.
    pub before: Vec<Comment>,
    /// End-of-line comments after it.
    pub suffix: Vec<Comment>,
    /// Whole-line comments after it (top-level statements only; made by edits).
    pub after: Vec<Comment>,
}

/// Names a [`Line`] in a [`FileSyntax`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineId(pub(crate) usize);

/// One line of tokens: a statement (`require example.com/m v1.0.0`) or a line in a block
/// (`example.com/m v1.0.0`, without the block's verb).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// Attached comments.
    pub comments: Comments,
    /// Where the first token starts.
    pub start: Position,
    /// The tokens as written (quoted tokens keep their quotes). Empty once the line has been removed.
    pub tokens: Vec<String>,
    /// Whether the line sits inside a block.
    pub in_block: bool,
    /// Where the last token ends.
    pub end: Position,
}

/// An opening or closing parenthesis of a block: a place for comments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paren {
    /// End-of-line comments after `(`, or whole-line comments before `)`.
    pub comments: Comments,
    /// Where the parenthesis is.
    pub pos: Position,
}

/// A factored block: `require (` … `)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineBlock {
    /// Attached comments.
    pub comments: Comments,
    /// Where the verb starts.
    pub start: Position,
    /// The `(`.
    pub lparen: Paren,
    /// The tokens before `(` (normally just the verb).
    pub tokens: Vec<String>,
    /// The lines inside, in order.
    pub lines: Vec<LineId>,
    /// The `)`.
    pub rparen: Paren,
}

/// A run of whole-line comments standing on its own (separated from the next statement by a blank line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommentBlock {
    /// The comments (in `before`).
    pub comments: Comments,
    /// Where the first comment starts.
    pub start: Position,
}

/// A top-level statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    /// Comments on their own.
    Comments(CommentBlock),
    /// A single-line statement.
    Line(LineId),
    /// A block (boxed: blocks are rare and much larger than lines).
    Block(Box<LineBlock>),
}

/// A whole go.mod or go.work file as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSyntax {
    /// The file name used in positions and errors.
    pub name: String,
    /// Comments of the whole file (`before`: end-of-line comments no statement took; `after`: trailing).
    pub comments: Comments,
    /// The statements in order.
    pub stmts: Vec<Stmt>,
    lines: Vec<Line>,
}

impl FileSyntax {
    /// The line named `id`.
    pub fn line(&self, id: LineId) -> &Line {
        &self.lines[id.0]
    }

    /// The line named `id`, to change.
    pub fn line_mut(&mut self, id: LineId) -> &mut Line {
        &mut self.lines[id.0]
    }

    /// Adds a line to the arena without placing it in any statement.
    pub(crate) fn push_detached(&mut self, line: Line) -> LineId {
        self.lines.push(line);
        LineId(self.lines.len() - 1)
    }

    /// Replaces the tokens of a line; `tokens` starts with the verb, which is dropped for lines in a block
    /// (x/mod's `updateLine`).
    pub(crate) fn update_line(&mut self, id: LineId, tokens: &[String]) {
        let line = self.line_mut(id);
        line.tokens = if line.in_block {
            tokens[1..].to_vec()
        } else {
            tokens.to_vec()
        };
    }

    /// Marks a line (and its end-of-line comment) for removal by [`FileSyntax::cleanup`].
    pub(crate) fn mark_removed(&mut self, id: LineId) {
        let line = self.line_mut(id);
        line.tokens.clear();
        line.comments.suffix.clear();
    }

    /// Adds a line with `tokens` (verb first), as x/mod's `addLine` does: next to `hint` (a line or the
    /// block holding it) when given, else at the end of the last block or line with the same verb, else at
    /// the end of the file. A single line with the same verb becomes a block.
    pub(crate) fn add_line(&mut self, hint: Option<LineId>, tokens: &[String]) -> LineId {
        let verb = tokens[0].as_str();
        // Which statement is the hint: (statement index, Some(index in block) when the hint is a block line).
        let mut target: Option<(usize, Option<usize>)> = None;
        if let Some(h) = hint {
            'find: for (i, stmt) in self.stmts.iter().enumerate() {
                match stmt {
                    Stmt::Line(id) if *id == h => {
                        target = Some((i, None));
                        break 'find;
                    }
                    Stmt::Block(b) => {
                        if let Some(j) = b.lines.iter().position(|l| *l == h) {
                            target = Some((i, Some(j)));
                            break 'find;
                        }
                    }
                    _ => {}
                }
            }
        } else {
            for (i, stmt) in self.stmts.iter().enumerate().rev() {
                let matches = match stmt {
                    Stmt::Line(id) => self.line(*id).tokens.first().is_some_and(|t| t == verb),
                    Stmt::Block(b) => b.tokens.first().is_some_and(|t| t == verb),
                    Stmt::Comments(_) => false,
                };
                if matches {
                    // The block itself is the hint: add at its end.
                    target = Some((i, None));
                    break;
                }
            }
        }
        let Some((i, in_block)) = target else {
            let id = self.push_detached(Line {
                tokens: tokens.to_vec(),
                ..Line::default()
            });
            self.stmts.push(Stmt::Line(id));
            return id;
        };
        let same_verb = match &self.stmts[i] {
            Stmt::Line(id) => self.line(*id).tokens.first().is_some_and(|t| t == verb),
            Stmt::Block(b) => b.tokens.first().is_some_and(|t| t == verb),
            Stmt::Comments(_) => false,
        };
        if !same_verb {
            let id = self.push_detached(Line {
                tokens: tokens.to_vec(),
                ..Line::default()
            });
            self.stmts.insert(i + 1, Stmt::Line(id));
            return id;
        }
        let new = self.push_detached(Line {
            tokens: tokens[1..].to_vec(),
            in_block: true,
            ..Line::default()
        });
        match &mut self.stmts[i] {
            Stmt::Line(old) => {
                // Convert the line into a block holding it and the new line.
                let old = *old;
                let line = &mut self.lines[old.0];
                line.in_block = true;
                let verb_token = line.tokens.remove(0);
                self.stmts[i] = Stmt::Block(Box::new(LineBlock {
                    tokens: vec![verb_token],
                    lines: vec![old, new],
                    ..LineBlock::default()
                }));
            }
            Stmt::Block(b) => match in_block {
                Some(j) => b.lines.insert(j + 1, new),
                None => b.lines.push(new),
            },
            Stmt::Comments(_) => {}
        }
        new
    }

    /// Appends a top-level line at the end of the file.
    ///
    /// x/mod's `AddExclude` and `AddReplace` pass a nil `*Line` hint to `addLine`, which in Go is a
    /// non-nil interface value: no statement matches it and the line always lands at the end of the file,
    /// not in an existing block. `go mod edit -exclude` / `-replace` behave so; this reproduces it.
    pub(crate) fn append_line(&mut self, tokens: &[String]) -> LineId {
        let id = self.push_detached(Line {
            tokens: tokens.to_vec(),
            ..Line::default()
        });
        self.stmts.push(Stmt::Line(id));
        id
    }

    /// Drops removed lines and empty blocks, and turns blocks left with one line into single lines
    /// (x/mod's `Cleanup`).
    pub fn cleanup(&mut self) {
        let stmts = std::mem::take(&mut self.stmts);
        for stmt in stmts {
            match stmt {
                Stmt::Line(id) if self.line(id).tokens.is_empty() => {}
                Stmt::Block(mut b) => {
                    b.lines.retain(|id| !self.lines[id.0].tokens.is_empty());
                    if b.lines.is_empty() {
                        continue;
                    }
                    if b.lines.len() == 1 && b.rparen.comments.before.is_empty() {
                        // Keep the line's identity: the typed view refers to it.
                        let id = b.lines[0];
                        let old = std::mem::take(&mut self.lines[id.0]);
                        let mut comments = b.comments;
                        comments.before.extend(old.comments.before);
                        let mut suffix = old.comments.suffix;
                        suffix.extend(comments.suffix);
                        let mut after = old.comments.after;
                        after.extend(comments.after);
                        let mut tokens = b.tokens;
                        tokens.extend(old.tokens);
                        self.lines[id.0] = Line {
                            comments: Comments {
                                before: comments.before,
                                suffix,
                                after,
                            },
                            tokens,
                            ..Line::default()
                        };
                        self.stmts.push(Stmt::Line(id));
                        continue;
                    }
                    self.stmts.push(Stmt::Block(b));
                }
                other => self.stmts.push(other),
            }
        }
    }

    /// Every line of the file in order, with the block verb for lines inside blocks.
    pub fn lines(&self) -> impl Iterator<Item = (Option<&LineBlock>, LineId)> + '_ {
        self.stmts
            .iter()
            .flat_map(|stmt| -> Box<dyn Iterator<Item = _>> {
                match stmt {
                    Stmt::Line(id) => Box::new(std::iter::once((None, *id))),
                    Stmt::Block(b) => Box::new(b.lines.iter().map(move |id| (Some(&**b), *id))),
                    Stmt::Comments(_) => Box::new(std::iter::empty()),
                }
            })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    EolComment,
    Ident,
    String,
    Comment,
    // Newline and punctuation: the byte itself.
    Punct(u8),
}

impl Kind {
    fn is_eol(self) -> bool {
        matches!(self, Kind::Eof | Kind::EolComment | Kind::Punct(b'\n'))
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    pos: Position,
    end: Position,
    text: String,
}

struct Input<'a> {
    file: &'a str,
    src: &'a str,
    // Byte offset of the remaining input.
    rest: usize,
    token_start: usize,
    token: Token,
    pos: Position,
    comments: Vec<Comment>,
    syntax: FileSyntax,
}

type Parse<T = ()> = Result<T, Error>;

impl<'a> Input<'a> {
    fn new(file: &'a str, src: &'a str) -> Self {
        Input {
            file,
            src,
            rest: 0,
            token_start: 0,
            token: Token {
                kind: Kind::Eof,
                pos: Position::default(),
                end: Position::default(),
                text: String::new(),
            },
            pos: Position {
                line: 1,
                column: 1,
                byte: 0,
            },
            comments: Vec::new(),
            syntax: FileSyntax::default(),
        }
    }

    fn error(&self, problem: Problem) -> Error {
        Error::at(self.file, self.pos, problem)
    }

    fn eof(&self) -> bool {
        self.rest >= self.src.len()
    }

    fn remaining(&self) -> &'a str {
        &self.src[self.rest..]
    }

    // The next character, or NUL at the end (as Go's peekRune returns 0).
    fn peek_char(&self) -> char {
        self.remaining().chars().next().unwrap_or('\0')
    }

    fn read_char(&mut self) -> char {
        let Some(c) = self.remaining().chars().next() else {
            return '\0';
        };
        self.rest += c.len_utf8();
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        self.pos.byte += c.len_utf8();
        c
    }

    // Consumes the rest of the line including its newline (the body of a comment).
    fn skip_line(&mut self) {
        let rest = self.remaining();
        if let Some(i) = rest.find('\n') {
            self.rest += i + 1;
            self.pos.byte += i + 1;
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.rest += rest.len();
            self.pos.byte += rest.len();
            self.pos.column += rest.chars().count();
        }
    }

    // Consumes a run of printable ASCII identifier characters other than `/` (which may start a comment):
    // the common case of an identifier, without decoding characters one by one.
    fn skip_ascii_ident(&mut self) {
        let n = self
            .remaining()
            .bytes()
            .take_while(|&b| {
                b.is_ascii_graphic()
                    && !matches!(b, b'(' | b')' | b'[' | b']' | b'{' | b'}' | b',' | b'/')
            })
            .count();
        self.rest += n;
        self.pos.byte += n;
        self.pos.column += n;
    }

    fn start_token(&mut self) {
        self.token_start = self.rest;
        self.token.pos = self.pos;
    }

    fn end_token(&mut self, kind: Kind) {
        self.token.kind = kind;
        let mut text = &self.src[self.token_start..self.rest];
        if matches!(kind, Kind::Comment | Kind::EolComment) {
            text = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .unwrap_or(text);
        }
        self.token.text = text.to_owned();
        self.token.end = self.pos;
    }

    fn lex(&mut self) -> Parse<Token> {
        // read_token overwrites every field of the lookahead, so it can be moved out instead of cloned.
        let tok = std::mem::replace(
            &mut self.token,
            Token {
                kind: Kind::Eof,
                pos: Position::default(),
                end: Position::default(),
                text: String::new(),
            },
        );
        self.read_token()?;
        Ok(tok)
    }

    fn peek(&self) -> Kind {
        self.token.kind
    }

    fn read_token(&mut self) -> Parse {
        while !self.eof() {
            let c = self.peek_char();
            if matches!(c, ' ' | '\t' | '\r') {
                self.read_char();
                continue;
            }
            if self.remaining().starts_with("//") {
                self.start_token();
                // A comment is an end-of-line comment when something other than space precedes it.
                let line_start = self.src[..self.pos.byte].rfind('\n').map_or(0, |i| i + 1);
                let suffix = !trim_space(&self.src[line_start..self.pos.byte]).is_empty();
                self.read_char();
                self.read_char();
                self.skip_line();
                if !suffix {
                    self.end_token(Kind::Comment);
                    return Ok(());
                }
                self.end_token(Kind::EolComment);
                self.comments.push(Comment {
                    start: self.token.pos,
                    token: self.token.text.clone(),
                    suffix: true,
                });
                return Ok(());
            }
            if self.remaining().starts_with("/*") {
                return Err(self.error(Problem::BlockComment));
            }
            break;
        }
        self.start_token();
        if self.eof() {
            self.end_token(Kind::Eof);
            return Ok(());
        }
        match self.peek_char() {
            c @ ('\n' | '(' | ')' | '[' | ']' | '{' | '}' | ',') => {
                self.read_char();
                // All of these are ASCII.
                self.end_token(Kind::Punct(u8::try_from(c).unwrap_or(b'\n')));
                return Ok(());
            }
            quote @ ('"' | '`') => {
                self.read_char();
                loop {
                    if self.eof() {
                        self.pos = self.token.pos;
                        return Err(self.error(Problem::EofInString));
                    }
                    if self.peek_char() == '\n' {
                        return Err(self.error(Problem::NewlineInString));
                    }
                    let c = self.read_char();
                    if c == quote {
                        break;
                    }
                    if c == '\\' && quote != '`' {
                        if self.eof() {
                            self.pos = self.token.pos;
                            return Err(self.error(Problem::EofInString));
                        }
                        self.read_char();
                    }
                }
                self.end_token(Kind::String);
                return Ok(());
            }
            _ => {}
        }
        let c = self.peek_char();
        if !is_ident(c) {
            return Err(self.error(Problem::UnexpectedCharacter { ch: c }));
        }
        while !self.eof() && is_ident(self.peek_char()) {
            self.skip_ascii_ident();
            if self.eof() || !is_ident(self.peek_char()) {
                break;
            }
            if self.remaining().starts_with("//") {
                break;
            }
            if self.remaining().starts_with("/*") {
                return Err(self.error(Problem::BlockComment));
            }
            self.read_char();
        }
        self.end_token(Kind::Ident);
        Ok(())
    }

    // ----- parser

    fn parse_file(&mut self) -> Parse {
        let mut pending: Option<CommentBlock> = None;
        loop {
            match self.peek() {
                Kind::Punct(b'\n') => {
                    self.lex()?;
                    if let Some(cb) = pending.take() {
                        self.syntax.stmts.push(Stmt::Comments(cb));
                    }
                }
                Kind::Comment => {
                    let tok = self.lex()?;
                    let cb = pending.get_or_insert_with(|| CommentBlock {
                        start: tok.pos,
                        ..CommentBlock::default()
                    });
                    cb.comments.before.push(Comment {
                        start: tok.pos,
                        token: tok.text,
                        suffix: false,
                    });
                }
                Kind::Eof => {
                    if let Some(cb) = pending.take() {
                        self.syntax.stmts.push(Stmt::Comments(cb));
                    }
                    return Ok(());
                }
                _ => {
                    self.parse_stmt()?;
                    if let Some(cb) = pending.take() {
                        let before = cb.comments.before;
                        match self.syntax.stmts.last_mut() {
                            Some(Stmt::Line(id)) => {
                                let id = *id;
                                self.syntax.line_mut(id).comments.before = before;
                            }
                            Some(Stmt::Block(b)) => b.comments.before = before,
                            Some(Stmt::Comments(c)) => c.comments.before = before,
                            None => {}
                        }
                    }
                }
            }
        }
    }

    fn parse_stmt(&mut self) -> Parse {
        let tok = self.lex()?;
        let start = tok.pos;
        let mut end = tok.end;
        let mut tokens = vec![tok.text];
        loop {
            let tok = self.lex()?;
            if tok.kind.is_eol() {
                let id = self.syntax.push_detached(Line {
                    start,
                    tokens,
                    end,
                    ..Line::default()
                });
                self.syntax.stmts.push(Stmt::Line(id));
                return Ok(());
            }
            if tok.kind == Kind::Punct(b'(') {
                let next = self.peek();
                if next.is_eol() {
                    let block = self.parse_line_block(start, tokens, &tok)?;
                    self.syntax.stmts.push(Stmt::Block(Box::new(block)));
                    return Ok(());
                } else if next == Kind::Punct(b')') {
                    let rparen = self.lex()?;
                    if self.peek().is_eol() {
                        // An empty block: `require ()`.
                        self.lex()?;
                        self.syntax.stmts.push(Stmt::Block(Box::new(LineBlock {
                            start,
                            tokens,
                            lparen: Paren {
                                pos: tok.pos,
                                ..Paren::default()
                            },
                            rparen: Paren {
                                pos: rparen.pos,
                                ..Paren::default()
                            },
                            ..LineBlock::default()
                        })));
                        return Ok(());
                    }
                    // `( )` in the middle of a line is just two tokens.
                    tokens.push(tok.text);
                    tokens.push(rparen.text);
                } else {
                    tokens.push(tok.text);
                }
                continue;
            }
            tokens.push(tok.text);
            end = tok.end;
        }
    }

    fn parse_line_block(
        &mut self,
        start: Position,
        tokens: Vec<String>,
        lparen: &Token,
    ) -> Parse<LineBlock> {
        let mut block = LineBlock {
            start,
            tokens,
            lparen: Paren {
                pos: lparen.pos,
                ..Paren::default()
            },
            ..LineBlock::default()
        };
        let mut comments: Vec<Comment> = Vec::new();
        loop {
            match self.peek() {
                Kind::EolComment => {
                    // Attached later, by position.
                    self.lex()?;
                }
                Kind::Punct(b'\n') => {
                    self.lex()?;
                    // A blank line is kept as an empty comment, once per run of blank lines.
                    let keep = if comments.is_empty() {
                        !block.lines.is_empty()
                    } else {
                        comments.last().is_some_and(|c| !c.token.is_empty())
                    };
                    if keep {
                        comments.push(Comment::default());
                    }
                }
                Kind::Comment => {
                    let tok = self.lex()?;
                    comments.push(Comment {
                        start: tok.pos,
                        token: tok.text,
                        suffix: false,
                    });
                }
                Kind::Eof => {
                    return Err(self.error(Problem::UnterminatedBlock {
                        file: self.file.to_owned(),
                        line: block.start.line,
                        column: block.start.column,
                    }));
                }
                Kind::Punct(b')') => {
                    let rparen = self.lex()?;
                    // A blank line right before `)` is not kept.
                    if comments.len() == 1 && comments[0] == Comment::default() {
                        comments.clear();
                    }
                    block.rparen.comments.before = comments;
                    block.rparen.pos = rparen.pos;
                    if !self.peek().is_eol() {
                        return Err(self.error(Problem::ExpectedNewlineAfterParen));
                    }
                    self.lex()?;
                    return Ok(block);
                }
                _ => {
                    let mut line = self.parse_line()?;
                    line.comments.before = std::mem::take(&mut comments);
                    let id = self.syntax.push_detached(line);
                    block.lines.push(id);
                }
            }
        }
    }

    fn parse_line(&mut self) -> Parse<Line> {
        let tok = self.lex()?;
        let start = tok.pos;
        let mut end = tok.end;
        let mut tokens = vec![tok.text];
        loop {
            let tok = self.lex()?;
            if tok.kind.is_eol() {
                return Ok(Line {
                    start,
                    tokens,
                    end,
                    in_block: true,
                    ..Line::default()
                });
            }
            tokens.push(tok.text);
            end = tok.end;
        }
    }

    // Attaches each end-of-line comment to the innermost syntax that ends before it on the same line.
    fn assign_comments(&mut self) {
        #[derive(Clone, Copy)]
        enum Target {
            Stmt(usize),
            LParen(usize),
            RParen(usize),
            Line(LineId),
        }
        let syntax = &mut self.syntax;
        // Postorder: a block's parts before the block.
        let mut post: Vec<(Target, Position, Position)> = Vec::new();
        for (i, stmt) in syntax.stmts.iter().enumerate() {
            match stmt {
                Stmt::Comments(cb) => post.push((Target::Stmt(i), cb.start, cb.start)),
                Stmt::Line(id) => {
                    let l = &syntax.lines[id.0];
                    post.push((Target::Line(*id), l.start, l.end));
                }
                Stmt::Block(b) => {
                    post.push((Target::LParen(i), b.lparen.pos, b.lparen.pos.add(")")));
                    for id in &b.lines {
                        let l = &syntax.lines[id.0];
                        post.push((Target::Line(*id), l.start, l.end));
                    }
                    post.push((Target::RParen(i), b.rparen.pos, b.rparen.pos.add(")")));
                    post.push((Target::Stmt(i), b.start, b.rparen.pos.add(")")));
                }
            }
        }
        let mut suffix = std::mem::take(&mut self.comments);
        let mut touched: Vec<Target> = Vec::new();
        for &(target, start, end) in post.iter().rev() {
            // Syntax spanning lines (a block) does not take end-of-line comments: its last line does.
            if start.line != end.line {
                continue;
            }
            let comments = match target {
                Target::Stmt(i) => match &mut syntax.stmts[i] {
                    Stmt::Comments(cb) => &mut cb.comments,
                    Stmt::Block(b) => &mut b.comments,
                    Stmt::Line(id) => &mut syntax.lines[id.0].comments,
                },
                Target::LParen(i) | Target::RParen(i) => match &mut syntax.stmts[i] {
                    Stmt::Block(b) => {
                        if matches!(target, Target::LParen(_)) {
                            &mut b.lparen.comments
                        } else {
                            &mut b.rparen.comments
                        }
                    }
                    _ => continue,
                },
                Target::Line(id) => &mut syntax.lines[id.0].comments,
            };
            let mut took = false;
            while let Some(last) = suffix.last() {
                if end.byte > last.start.byte {
                    break;
                }
                if let Some(c) = suffix.pop() {
                    comments.suffix.push(c);
                    took = true;
                }
            }
            if took {
                touched.push(target);
            }
        }
        // They were taken from the back: restore source order.
        for target in touched {
            let comments = match target {
                Target::Stmt(i) => match &mut syntax.stmts[i] {
                    Stmt::Comments(cb) => &mut cb.comments,
                    Stmt::Block(b) => &mut b.comments,
                    Stmt::Line(id) => &mut syntax.lines[id.0].comments,
                },
                Target::LParen(i) | Target::RParen(i) => match &mut syntax.stmts[i] {
                    Stmt::Block(b) if matches!(target, Target::LParen(_)) => &mut b.lparen.comments,
                    Stmt::Block(b) => &mut b.rparen.comments,
                    _ => continue,
                },
                Target::Line(id) => &mut syntax.lines[id.0].comments,
            };
            comments.suffix.reverse();
        }
        // Comments no syntax took go to the start of the file.
        syntax.comments.before.extend(suffix);
    }
}

// x/mod treats most printable characters as identifier characters.
fn is_ident(c: char) -> bool {
    !matches!(c, ' ' | '(' | ')' | '[' | ']' | '{' | '}' | ',') && !is_space(c) && is_print(c)
}

/// Parses the syntax of a go.mod or go.work file (x/mod's `parse`): only the first syntax error is
/// reported, as Go does.
pub fn parse(file: &str, src: &str) -> Result<FileSyntax, Error> {
    let mut input = Input::new(file, src);
    input.read_token()?;
    input.parse_file()?;
    file.clone_into(&mut input.syntax.name);
    input.assign_comments();
    Ok(input.syntax)
}

// ---------------------------------------------------------------------------------------------------------
// Printer (x/mod's print.go)

struct Printer<'s> {
    syntax: &'s FileSyntax,
    out: Vec<u8>,
    // Pending end-of-line comments, written at the next newline.
    comment: Vec<Comment>,
    margin: usize,
}

impl Printer<'_> {
    fn write(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    // Characters since the last newline.
    fn indent(&self) -> usize {
        self.out.iter().rev().take_while(|&&b| b != b'\n').count()
    }

    fn newline(&mut self) {
        if !self.comment.is_empty() {
            self.write(" ");
            let pending = std::mem::take(&mut self.comment);
            for (i, com) in pending.iter().enumerate() {
                if i > 0 {
                    self.trim();
                    self.write("\n");
                    for _ in 0..self.margin {
                        self.write("\t");
                    }
                }
                self.write(trim_space(&com.token));
            }
        }
        self.trim();
        let b = &self.out;
        // Never more than one blank line in a row, and none at the start.
        let blank =
            b.is_empty() || (b.len() >= 2 && b[b.len() - 1] == b'\n' && b[b.len() - 2] == b'\n');
        if !blank {
            self.write("\n");
        }
        for _ in 0..self.margin {
            self.write("\t");
        }
    }

    fn trim(&mut self) {
        while matches!(self.out.last(), Some(b'\t' | b' ')) {
            self.out.pop();
        }
    }

    fn file(&mut self) {
        let syntax = self.syntax;
        for com in &syntax.comments.before {
            self.write(trim_space(&com.token));
            self.newline();
        }
        for (i, stmt) in syntax.stmts.iter().enumerate() {
            let after = match stmt {
                Stmt::Comments(cb) => {
                    self.before(&cb.comments);
                    self.comment.extend(cb.comments.suffix.iter().cloned());
                    &cb.comments.after
                }
                Stmt::Line(id) => {
                    let line = syntax.line(*id);
                    self.line(line);
                    self.newline();
                    &line.comments.after
                }
                Stmt::Block(b) => {
                    self.block(b);
                    self.newline();
                    &b.comments.after
                }
            };
            for com in after {
                self.write(trim_space(&com.token));
                self.newline();
            }
            if i + 1 < syntax.stmts.len() {
                self.newline();
            }
        }
    }

    fn before(&mut self, comments: &Comments) {
        if comments.before.is_empty() {
            return;
        }
        self.trim();
        if self.indent() > 0 {
            self.write("\n");
        }
        for _ in 0..self.margin {
            self.write("\t");
        }
        for com in &comments.before {
            self.write(trim_space(&com.token));
            self.newline();
        }
    }

    fn line(&mut self, line: &Line) {
        self.before(&line.comments);
        self.tokens(&line.tokens);
        self.comment.extend(line.comments.suffix.iter().cloned());
    }

    fn block(&mut self, b: &LineBlock) {
        self.before(&b.comments);
        self.tokens(&b.tokens);
        self.write(" ");
        self.before(&b.lparen.comments);
        self.write("(");
        self.comment
            .extend(b.lparen.comments.suffix.iter().cloned());
        self.margin += 1;
        for id in &b.lines {
            self.newline();
            self.line(self.syntax.line(*id));
        }
        self.margin -= 1;
        self.newline();
        self.before(&b.rparen.comments);
        self.write(")");
        self.comment
            .extend(b.rparen.comments.suffix.iter().cloned());
        self.comment.extend(b.comments.suffix.iter().cloned());
    }

    fn tokens(&mut self, tokens: &[String]) {
        let mut sep = "";
        for t in tokens {
            if matches!(t.as_str(), "," | ")" | "]" | "}") {
                sep = "";
            }
            self.write(sep);
            self.write(t);
            sep = " ";
            if matches!(t.as_str(), "(" | "[" | "{") {
                sep = "";
            }
        }
    }
}

/// Formats a syntax tree as x/mod's `Format` does (what `go mod edit -fmt` writes, after its clean-ups).
pub fn format(syntax: &FileSyntax) -> String {
    let mut p = Printer {
        syntax,
        out: Vec::new(),
        comment: Vec::new(),
        margin: 0,
    };
    p.file();
    let mut b = p.out;
    while b.last() == Some(&b'\n') && (b.len() == 1 || b[b.len() - 2] == b'\n') {
        b.pop();
    }
    // Only whole tokens and comments were written, so the bytes are UTF-8.
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_attach_like_x_mod() {
        let src = "// head\n\n// on module\nmodule m // eol\n\nrequire (\n\t// first\n\ta v1.0.0 // a\n\n\tb v1.0.0\n\t// trailing\n)\n";
        let s = parse("go.mod", src).unwrap();
        assert_eq!(s.stmts.len(), 3);
        let Stmt::Line(m) = s.stmts[1] else { panic!() };
        assert_eq!(s.line(m).comments.before[0].token, "// on module");
        assert_eq!(s.line(m).comments.suffix[0].token, "// eol");
        let Stmt::Block(b) = &s.stmts[2] else {
            panic!()
        };
        let a = s.line(b.lines[0]);
        assert_eq!(a.comments.before[0].token, "// first");
        assert_eq!(a.comments.suffix[0].token, "// a");
        assert_eq!(s.line(b.lines[1]).comments.before, vec![Comment::default()]);
        assert_eq!(b.rparen.comments.before[0].token, "// trailing");
        // Like Go, comments before `)` print at the block's own margin.
        assert_eq!(format(&s), src.replace("\t// trailing", "// trailing"));
    }

    #[test]
    fn positions_count_characters() {
        let err = parse("go.mod", "module é\u{a0}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "go.mod:1:9: unexpected input character '\\u00a0'"
        );
    }
}

//! A `PromQL` parser for the expression language as a whole (so that a query Prometheus would accept is not
//! refused), feeding an evaluator that answers only the part canary analysis needs (see
//! [`super::eval`]). Errors carry the 1-based column Prometheus reports (`1:COL: parse error: ...`).

use std::fmt;

/// Why a query does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// 1-based column (in characters) where the problem is.
    pub column: usize,
    /// What is wrong, in Prometheus's words where kubesim knows them.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1:{}: parse error: {}", self.column, self.message)
    }
}

/// How a label matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (anchored)
    Regex,
    /// `!~` (anchored)
    NotRegex,
}

/// One label matcher of a selector.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub label: String,
    pub op: MatchOp,
    pub value: String,
    /// The compiled, anchored pattern of `=~` and `!~`.
    pub regex: Option<regex::Regex>,
}

impl Matcher {
    /// Whether a label's value (`""` when the series lacks it) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }
}

/// `by (...)` or `without (...)` of an aggregation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grouping {
    /// Neither: everything in one group.
    None,
    /// Keep only these labels.
    By(Vec<String>),
    /// Drop these labels (and the metric name).
    Without(Vec<String>),
}

/// `on (...)` or `ignoring (...)` of a binary operation, and whether it groups many-to-one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VectorMatching {
    /// `true` for `on`, `false` for `ignoring`.
    pub on: bool,
    pub labels: Vec<String>,
    /// `group_left` or `group_right` was given (kubesim does not evaluate those).
    pub grouped: bool,
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Number(f64),
    String(String),
    Selector {
        matchers: Vec<Matcher>,
        /// `[W]` in seconds.
        range: Option<f64>,
        /// `offset` or `@` was given (kubesim does not evaluate those).
        modified: bool,
    },
    /// `expr[W:R]`, parsed so that it is not refused, never evaluated.
    Subquery,
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Aggregate {
        op: String,
        grouping: Grouping,
        param: Option<Box<Expr>>,
        expr: Box<Expr>,
    },
    Binary {
        op: String,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        matching: Option<VectorMatching>,
        bool_modifier: bool,
    },
    Negate(Box<Expr>),
}

const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "limitk",
    "limit_ratio",
];

const AGGREGATIONS_WITH_PARAM: &[&str] = &[
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "limitk",
    "limit_ratio",
];

/// Prometheus's functions (3.x), so a valid call is not refused as an unknown function.
const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "exp",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "info",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(f64),
    Str(String),
    Duration(f64),
    Op(&'static str),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    At,
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "identifier {s:?}"),
            Tok::Number(n) => write!(f, "number \"{n}\""),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::Duration(_) => f.write_str("duration"),
            Tok::Op(o) => write!(f, "operator \"{o}\""),
            Tok::LParen => f.write_str("\"(\""),
            Tok::RParen => f.write_str("\")\""),
            Tok::LBrace => f.write_str("\"{\""),
            Tok::RBrace => f.write_str("\"}\""),
            Tok::LBracket => f.write_str("\"[\""),
            Tok::RBracket => f.write_str("\"]\""),
            Tok::Comma => f.write_str("\",\""),
            Tok::Colon => f.write_str("\":\""),
            Tok::At => f.write_str("\"@\""),
            Tok::Eof => f.write_str("end of input"),
        }
    }
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        column,
        message: message.into(),
    })
}

/// Seconds in a Prometheus duration (`1h30m`, `90s`, `500ms`), if `text` is one.
fn parse_duration(text: &str) -> Option<f64> {
    let mut rest = text;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = [
            ("ms", 0.001),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
            ("d", 86_400.0),
            ("w", 604_800.0),
            ("y", 31_536_000.0),
        ]
        .iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, s)| (*s, u.len()))?;
        total += n * unit;
        rest = &rest[len..];
    }
    Some(total)
}

#[allow(clippy::too_many_lines, clippy::many_single_char_names)] // one pass over the characters reads best whole
fn lex(input: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut bracket_depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let op2 = ["==", "!=", "=~", "!~", "<=", ">="]
            .into_iter()
            .find(|o| *o == two);
        if let Some(o) = op2 {
            out.push((Tok::Op(o), col));
            i += 2;
            continue;
        }
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            '[' => {
                bracket_depth += 1;
                Some(Tok::LBracket)
            }
            ']' => {
                bracket_depth = bracket_depth.saturating_sub(1);
                Some(Tok::RBracket)
            }
            ',' => Some(Tok::Comma),
            ':' if bracket_depth > 0 => Some(Tok::Colon),
            '@' => Some(Tok::At),
            '+' => Some(Tok::Op("+")),
            '-' => Some(Tok::Op("-")),
            '*' => Some(Tok::Op("*")),
            '/' => Some(Tok::Op("/")),
            '%' => Some(Tok::Op("%")),
            '^' => Some(Tok::Op("^")),
            '=' => Some(Tok::Op("=")),
            '<' => Some(Tok::Op("<")),
            '>' => Some(Tok::Op(">")),
            _ => None,
        };
        if let Some(t) = simple {
            out.push((t, col));
            i += 1;
            continue;
        }
        if matches!(c, '"' | '\'' | '`') {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                let Some(&d) = chars.get(j) else {
                    return err(col, "unterminated quoted string");
                };
                j += 1;
                if d == c {
                    break;
                }
                if d == '\\' && c != '`' {
                    let Some(&e) = chars.get(j) else {
                        return err(col, "unterminated quoted string");
                    };
                    j += 1;
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                } else {
                    s.push(d);
                }
            }
            out.push((Tok::Str(s), col));
            i = j;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '.') {
                // An exponent's sign belongs to the number.
                if matches!(chars[j], 'e' | 'E')
                    && matches!(chars.get(j + 1), Some('+' | '-'))
                    && !chars[i..j].iter().any(char::is_ascii_alphabetic)
                {
                    j += 1;
                }
                j += 1;
            }
            let text: String = chars[i..j].iter().collect();
            let tok = if let Some(d) = parse_duration(&text) {
                Tok::Duration(d)
            } else if let Ok(n) = text.parse::<f64>() {
                Tok::Number(n)
            } else if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                match u64::from_str_radix(hex, 16) {
                    #[allow(clippy::cast_precision_loss)] // as Prometheus: a float
                    Ok(n) => Tok::Number(n as f64),
                    Err(_) => return err(col, format!("bad number or duration syntax: {text:?}")),
                }
            } else {
                return err(col, format!("bad number or duration syntax: {text:?}"));
            };
            out.push((tok, col));
            i = j;
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == ':' {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == ':')
            {
                j += 1;
            }
            let text: String = chars[i..j].iter().collect();
            let lower = text.to_ascii_lowercase();
            let tok = if lower == "inf" {
                Tok::Number(f64::INFINITY)
            } else if lower == "nan" {
                Tok::Number(f64::NAN)
            } else {
                Tok::Ident(text)
            };
            out.push((tok, col));
            i = j;
            continue;
        }
        return err(col, format!("unexpected character: {c:?}"));
    }
    out.push((Tok::Eof, chars.len() + 1));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

/// Binary operators from loosest to tightest.
const LEVELS: &[&[&str]] = &[
    &["or"],
    &["and", "unless"],
    &["==", "!=", "<", ">", "<=", ">="],
    &["+", "-"],
    &["*", "/", "%", "atan2"],
    &["^"],
];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn col(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, want: &Tok, context: &str) -> Result<(), ParseError> {
        if self.peek() == want {
            self.next();
            return Ok(());
        }
        let col = self.col();
        let got = self.peek().clone();
        err(
            col,
            format!("unexpected {got} in {context}, expected {want}"),
        )
    }

    fn binary_op_at(&self, level: usize) -> Option<&'static str> {
        let ops = LEVELS[level];
        match self.peek() {
            Tok::Op(o) => ops.iter().find(|x| *x == o).copied(),
            Tok::Ident(word) => ops.iter().find(|x| **x == word.as_str()).copied(),
            _ => None,
        }
    }

    fn expr(&mut self, level: usize) -> Result<Expr, ParseError> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.expr(level + 1)?;
        while let Some(op) = self.binary_op_at(level) {
            self.next();
            let bool_modifier = matches!(self.peek(), Tok::Ident(w) if w == "bool");
            if bool_modifier {
                self.next();
            }
            let matching = self.vector_matching()?;
            // `^` is right-associative.
            let rhs = if op == "^" {
                self.expr(level)?
            } else {
                self.expr(level + 1)?
            };
            lhs = Expr::Binary {
                op: op.to_owned(),
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                matching,
                bool_modifier,
            };
        }
        Ok(lhs)
    }

    fn vector_matching(&mut self) -> Result<Option<VectorMatching>, ParseError> {
        let on = match self.peek() {
            Tok::Ident(w) if w == "on" => true,
            Tok::Ident(w) if w == "ignoring" => false,
            _ => return Ok(None),
        };
        self.next();
        let labels = self.label_list()?;
        let mut grouped = false;
        if matches!(self.peek(), Tok::Ident(w) if w == "group_left" || w == "group_right") {
            self.next();
            grouped = true;
            if self.peek() == &Tok::LParen {
                self.label_list()?;
            }
        }
        Ok(Some(VectorMatching {
            on,
            labels,
            grouped,
        }))
    }

    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect(&Tok::LParen, "grouping opts")?;
        let mut labels = Vec::new();
        loop {
            match self.next() {
                Tok::RParen => return Ok(labels),
                Tok::Ident(l) => {
                    labels.push(l);
                    match self.next() {
                        Tok::Comma => {}
                        Tok::RParen => return Ok(labels),
                        other => {
                            return err(
                                self.toks[self.pos - 1].1,
                                format!(
                                    "unexpected {other} in grouping opts, expected \",\" or \")\""
                                ),
                            );
                        }
                    }
                }
                other => {
                    return err(
                        self.toks[self.pos.saturating_sub(1)].1,
                        format!("unexpected {other} in grouping opts, expected label"),
                    );
                }
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::Op("-") => {
                self.next();
                let e = self.unary()?;
                Ok(match e {
                    Expr::Number(n) => Expr::Number(-n),
                    other => Expr::Negate(Box::new(other)),
                })
            }
            Tok::Op("+") => {
                self.next();
                self.unary()
            }
            _ => {
                let e = self.primary()?;
                self.postfix(e)
            }
        }
    }

    /// `[W]`, `[W:R]`, `offset D`, `@ T` after an expression.
    fn postfix(&mut self, mut e: Expr) -> Result<Expr, ParseError> {
        loop {
            match self.peek() {
                Tok::LBracket => {
                    let col = self.col();
                    self.next();
                    let Tok::Duration(d) = self.next() else {
                        return err(col, "unexpected token in range, expected a duration");
                    };
                    if self.peek() == &Tok::Colon {
                        self.next();
                        if matches!(self.peek(), Tok::Duration(_)) {
                            self.next();
                        }
                        self.expect(&Tok::RBracket, "subquery")?;
                        e = Expr::Subquery;
                        continue;
                    }
                    self.expect(&Tok::RBracket, "range")?;
                    match &mut e {
                        Expr::Selector {
                            range, modified, ..
                        } if range.is_none() && !*modified => {
                            *range = Some(d);
                        }
                        _ => {
                            return err(col, "ranges only allowed for vector selectors");
                        }
                    }
                }
                Tok::Ident(w) if w == "offset" => {
                    self.next();
                    if self.peek() == &Tok::Op("-") {
                        self.next();
                    }
                    let col = self.col();
                    let Tok::Duration(_) = self.next() else {
                        return err(col, "unexpected token in offset, expected a duration");
                    };
                    Self::mark_modified(&mut e, col)?;
                }
                Tok::At => {
                    self.next();
                    let col = self.col();
                    match self.next() {
                        Tok::Number(_) => {}
                        Tok::Ident(w) if w == "start" || w == "end" => {
                            self.expect(&Tok::LParen, "@ modifier")?;
                            self.expect(&Tok::RParen, "@ modifier")?;
                        }
                        other => {
                            return err(col, format!("unexpected {other} in @ modifier"));
                        }
                    }
                    Self::mark_modified(&mut e, col)?;
                }
                _ => return Ok(e),
            }
        }
    }

    fn mark_modified(e: &mut Expr, col: usize) -> Result<(), ParseError> {
        match e {
            Expr::Selector { modified, .. } => {
                *modified = true;
                Ok(())
            }
            Expr::Subquery => Ok(()),
            _ => err(
                col,
                "offset and @ modifiers must follow a selector or a subquery",
            ),
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let col = self.col();
        match self.next() {
            Tok::Number(n) => Ok(Expr::Number(n)),
            Tok::Duration(d) => Ok(Expr::Number(d)),
            Tok::Str(s) => Ok(Expr::String(s)),
            Tok::LParen => {
                let e = self.expr(0)?;
                if self.peek() != &Tok::RParen {
                    let col = self.col();
                    return match self.peek() {
                        Tok::Eof => err(col, "unclosed left parenthesis"),
                        other => err(col, format!("unexpected {other}, expected \")\"")),
                    };
                }
                self.next();
                Ok(e)
            }
            Tok::LBrace => {
                let matchers = self.matchers()?;
                if !matchers.iter().any(|m| !m.matches("")) {
                    return err(
                        col,
                        "vector selector must contain at least one non-empty matcher",
                    );
                }
                Ok(Expr::Selector {
                    matchers,
                    range: None,
                    modified: false,
                })
            }
            Tok::Ident(name) => self.after_ident(name, col),
            Tok::Eof => err(col, "unexpected end of input"),
            other => err(col, format!("unexpected {other}")),
        }
    }

    fn after_ident(&mut self, name: String, col: usize) -> Result<Expr, ParseError> {
        if AGGREGATIONS.contains(&name.as_str()) {
            let mut grouping = self.grouping()?;
            if self.peek() != &Tok::LParen {
                let got = self.peek().clone();
                return err(
                    self.col(),
                    format!("unexpected {got} in aggregation, expected \"(\""),
                );
            }
            self.next();
            let mut args = self.args()?;
            if grouping == Grouping::None {
                grouping = self.grouping()?;
            }
            let want = if AGGREGATIONS_WITH_PARAM.contains(&name.as_str()) {
                2
            } else {
                1
            };
            if args.len() != want {
                return err(
                    col,
                    format!(
                        "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                        args.len()
                    ),
                );
            }
            let expr = args.pop().map(Box::new).ok_or_else(|| ParseError {
                column: col,
                message: "missing aggregation argument".to_owned(),
            })?;
            return Ok(Expr::Aggregate {
                op: name,
                grouping,
                param: args.pop().map(Box::new),
                expr,
            });
        }
        if self.peek() == &Tok::LParen {
            if !FUNCTIONS.contains(&name.as_str()) {
                return err(col, format!("unknown function with name {name:?}"));
            }
            self.next();
            let args = self.args()?;
            return Ok(Expr::Call { name, args });
        }
        if LEVELS.iter().any(|l| l.contains(&name.as_str()))
            || matches!(
                name.as_str(),
                "by" | "without" | "on" | "ignoring" | "offset" | "bool"
            )
        {
            return err(col, format!("unexpected {name:?}"));
        }
        let mut matchers = vec![Matcher {
            label: "__name__".to_owned(),
            op: MatchOp::Equal,
            value: name,
            regex: None,
        }];
        if self.peek() == &Tok::LBrace {
            self.next();
            matchers.extend(self.matchers()?);
        }
        Ok(Expr::Selector {
            matchers,
            range: None,
            modified: false,
        })
    }

    fn grouping(&mut self) -> Result<Grouping, ParseError> {
        match self.peek() {
            Tok::Ident(w) if w == "by" => {
                self.next();
                Ok(Grouping::By(self.label_list()?))
            }
            Tok::Ident(w) if w == "without" => {
                self.next();
                Ok(Grouping::Without(self.label_list()?))
            }
            _ => Ok(Grouping::None),
        }
    }

    fn args(&mut self) -> Result<Vec<Expr>, ParseError> {
        let mut args = Vec::new();
        if self.peek() == &Tok::RParen {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            let col = self.col();
            match self.next() {
                Tok::Comma => {}
                Tok::RParen => return Ok(args),
                Tok::Eof => return err(col, "unclosed left parenthesis"),
                other => {
                    return err(col, format!("unexpected {other}, expected \",\" or \")\""));
                }
            }
        }
    }

    /// The matchers after `{`, through `}`.
    fn matchers(&mut self) -> Result<Vec<Matcher>, ParseError> {
        let mut out = Vec::new();
        loop {
            let col = self.col();
            let label = match self.next() {
                Tok::RBrace => return Ok(out),
                Tok::Ident(l) | Tok::Str(l) => l,
                Tok::Eof => return err(col, "unexpected end of input inside braces"),
                other => {
                    return err(
                        col,
                        format!("unexpected {other} in label matching, expected label"),
                    );
                }
            };
            let col = self.col();
            let op = match self.next() {
                Tok::Op("=") => MatchOp::Equal,
                Tok::Op("!=") => MatchOp::NotEqual,
                Tok::Op("=~") => MatchOp::Regex,
                Tok::Op("!~") => MatchOp::NotRegex,
                other => {
                    return err(
                        col,
                        format!(
                            "unexpected {other} in label matching, expected label matching operator"
                        ),
                    );
                }
            };
            let col = self.col();
            let Tok::Str(value) = self.next() else {
                return err(col, "unexpected token in label matching, expected string");
            };
            let regex = if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
                // Prometheus anchors label regexes at both ends.
                match regex::Regex::new(&format!("^(?s:{value})$")) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        return err(col, format!("invalid regular expression {value:?}: {e}"));
                    }
                }
            } else {
                None
            };
            out.push(Matcher {
                label,
                op,
                value,
                regex,
            });
            let col = self.col();
            match self.next() {
                Tok::Comma => {}
                Tok::RBrace => return Ok(out),
                Tok::Eof => return err(col, "unexpected end of input inside braces"),
                other => {
                    return err(
                        col,
                        format!("unexpected {other} in label matching, expected \",\" or \"}}\""),
                    );
                }
            }
        }
    }
}

/// Parses a `PromQL` expression.
pub(crate) fn parse(query: &str) -> Result<Expr, ParseError> {
    let toks = lex(query)?;
    let mut p = Parser { toks, pos: 0 };
    if p.peek() == &Tok::Eof {
        return err(1, "no expression found in input");
    }
    let e = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        let col = p.col();
        let got = p.peek().clone();
        return err(col, format!("unexpected {got}"));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_analysis_queries_parse() {
        for q in [
            "sum(rate(kubesim_http_requests_total{service=\"web\",code=~\"5..\"}[1m])) / sum(rate(kubesim_http_requests_total{service=\"web\"}[1m]))",
            "sum by (pod) (increase(kubesim_http_requests_total{code!~\"2..\", pod!=\"x\"}[5m]))",
            "sum(increase(m[30s])) without (code)",
            "histogram_quantile(0.99, sum(rate(x_bucket[1m])) by (le))",
            "up == bool 1 and on(job) other",
            "rate(x[5m:1m])",
            "x offset 5m",
            "-1.5e3 + 0x1f - Inf",
            "{__name__=~\"kubesim_.*\"}",
            "topk(3, x)",
        ] {
            parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        }
    }

    #[test]
    fn syntax_errors_say_where() {
        for (q, col, want) in [
            ("sum(rate(x[1m])", 16, "unclosed left parenthesis"),
            ("x{a=\"b\"", 8, "unexpected end of input inside braces"),
            ("x{a=~\"(\"}", 6, "invalid regular expression"),
            ("foo(x)", 1, "unknown function with name \"foo\""),
            ("x[1q]", 3, "bad number or duration syntax"),
            ("rate(x)[1m]", 8, "ranges only allowed for vector selectors"),
            ("{}", 1, "at least one non-empty matcher"),
            ("x y", 3, "unexpected identifier"),
            ("\"abc", 1, "unterminated quoted string"),
            ("sum(x", 6, "unclosed left parenthesis"),
        ] {
            let e = parse(q).expect_err(q);
            assert_eq!(e.column, col, "{q}: {e}");
            assert!(e.message.contains(want), "{q}: {e}");
        }
        assert_eq!(
            parse("").expect_err("empty").to_string(),
            "1:1: parse error: no expression found in input"
        );
    }

    #[test]
    fn ranges_and_matchers() {
        let Expr::Call { name, args } = parse("rate(m{a!~\"x|y\"}[1m30s])").expect("parses") else {
            panic!("a call");
        };
        assert_eq!(name, "rate");
        let Expr::Selector {
            matchers, range, ..
        } = &args[0]
        else {
            panic!("a selector");
        };
        assert_eq!(*range, Some(90.0));
        assert_eq!(matchers[0].value, "m");
        assert!(matchers[1].matches("xy"));
        assert!(!matchers[1].matches("x"));
    }
}

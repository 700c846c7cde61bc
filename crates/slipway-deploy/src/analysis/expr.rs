//! The expression language of `successCondition` / `failureCondition`: the part of expr-lang
//! (github.com/expr-lang/expr) that Argo Rollouts' documentation and users' templates rely on.
//!
//! Supported: literals (integers, floats, strings in `'…'` or `"…"`, `true`, `false`, `nil`, arrays
//! `[1, 2]`); the variable `result`; member access `a.b`, indexing `a[0]` (negative indexes count from the
//! end), calls; unary `!`, `not`, `-`, `+`; `**`/`^`, `* / %`, `+ -`, comparisons `== != < <= > >=`,
//! `in`/`not in`, `contains`, `startsWith`, `endsWith`, `and`/`&&`, `or`/`||`, `?:`; the builtins `len`,
//! `all`, `any`, `none`, `one`, `filter`, `map`, `count` (predicates written `{# > 0.9}` or `# > 0.9`,
//! `.field` for `#.field`), `abs`, `min`, `max`, `int`, `float`, `string`, and Argo's `asInt`, `asFloat`,
//! `isNaN`, `isInf`, `isNil`.
//!
//! Typing follows expr-lang at run time: integers and floats compare and add across kinds, `/` always
//! gives a float, `==` between different kinds is `false`, ordering `nil` or mixing strings and numbers
//! is an error, as is an index out of range. Every error carries the column where it arose.
//!
//! ```
//! use slipway_deploy::analysis::expr::{Expr, Value};
//! let cond = Expr::parse("len(result) > 0 && all(result, {# < 100})")?;
//! assert!(cond.eval_condition(&Value::Array(vec![Value::Float(12.5)]))?);
//! assert!(!cond.eval_condition(&Value::Array(vec![]))?);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// A value the language works on: what a provider measured (`result`) and every intermediate value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil` (JSON `null`, a missing map key).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float (may be NaN or infinite: Prometheus sends those).
    Float(f64),
    /// A string.
    String(String),
    /// An array (a Prometheus vector is an array of floats).
    Array(Vec<Value>),
    /// A map (a JSON object).
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The name of the value's kind, as error messages give it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
        }
    }

    /// Whether this is "no data": `nil` or an empty array (an empty Prometheus vector).
    pub fn is_empty_data(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Array(items) => items.is_empty(),
            _ => false,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            #[allow(clippy::cast_precision_loss)] // expr-lang converts int to float the same way
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => {
                Value::Map(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A syntax or evaluation error, located by column (1-based, in characters) in the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The expression does not parse.
    #[error("`{expression}`, column {column}: {message}")]
    Syntax {
        /// The whole expression.
        expression: String,
        /// Where the problem is (1-based, characters).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The expression parsed but could not be evaluated on this value.
    #[error("`{expression}`, column {column}: {message}")]
    Eval {
        /// The whole expression.
        expression: String,
        /// Where the failing operation is (1-based, characters).
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// The expression evaluated to something other than a boolean.
    #[error("`{expression}`: expected a bool, got {kind} ({value})")]
    NotBool {
        /// The whole expression.
        expression: String,
        /// The kind of value it produced.
        kind: &'static str,
        /// The value it produced.
        value: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    Hash,
    Eof,
}

const OPS: &[&str] = &[
    "**", "==", "!=", "<=", ">=", "&&", "||", "?.", "+", "-", "*", "/", "%", "^", "<", ">", "!",
    "(", ")", "[", "]", "{", "}", ",", ".", "?", ":",
];

#[allow(clippy::many_single_char_names)] // a lexer's cursor and characters
fn lex(src: &str) -> Result<Vec<(Tok, usize)>, (usize, String)> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let mut float = false;
            while i < chars.len() {
                let d = chars[i];
                if d.is_ascii_digit() || d == '_' {
                    i += 1;
                } else if d == '.' && !float && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                    float = true;
                    i += 1;
                } else if (d == 'e' || d == 'E')
                    && chars
                        .get(i + 1)
                        .is_some_and(|n| n.is_ascii_digit() || *n == '-' || *n == '+')
                {
                    float = true;
                    i += 2;
                } else {
                    break;
                }
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            let tok = if float {
                Tok::Float(
                    text.parse()
                        .map_err(|_| (start, format!("invalid number `{text}`")))?,
                )
            } else {
                Tok::Int(
                    text.parse()
                        .map_err(|_| (start, format!("invalid integer `{text}`")))?,
                )
            };
            out.push((tok, start));
        } else if c == '\'' || c == '"' {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&d) = chars.get(i) else {
                    return Err((start, "unterminated string".into()));
                };
                i += 1;
                if d == c {
                    break;
                }
                if d == '\\' {
                    let Some(&e) = chars.get(i) else {
                        return Err((start, "unterminated string".into()));
                    };
                    i += 1;
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
            out.push((Tok::Str(s), start));
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), start));
        } else if c == '#' {
            i += 1;
            out.push((Tok::Hash, start));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) else {
                return Err((start, format!("unexpected character `{c}`")));
            };
            i += op.chars().count();
            out.push((Tok::Op(op), start));
        }
    }
    out.push((Tok::Eof, chars.len()));
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Lit(Value),
    Var(String),
    /// `#`, the element of a predicate.
    Pointer,
    Array(Vec<(Node, usize)>),
    Unary(&'static str, Box<(Node, usize)>),
    Binary(&'static str, Box<(Node, usize)>, Box<(Node, usize)>),
    Member(Box<(Node, usize)>, String),
    Index(Box<(Node, usize)>, Box<(Node, usize)>),
    Call(String, Vec<(Node, usize)>),
    Cond(Box<(Node, usize)>, Box<(Node, usize)>, Box<(Node, usize)>),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    source: String,
    root: (Node, usize),
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
}

const PREDICATES: &[&str] = &["all", "any", "none", "one", "filter", "map", "count"];

fn binary_precedence(tok: &Tok) -> Option<(&'static str, u8)> {
    Some(match tok {
        Tok::Op("||") => ("||", 10),
        Tok::Ident(w) if w == "or" => ("||", 10),
        Tok::Op("&&") => ("&&", 15),
        Tok::Ident(w) if w == "and" => ("&&", 15),
        Tok::Op(op @ ("==" | "!=" | "<" | ">" | "<=" | ">=")) => (op, 20),
        Tok::Ident(w) if w == "in" => ("in", 20),
        Tok::Ident(w) if w == "contains" => ("contains", 20),
        Tok::Ident(w) if w == "startsWith" => ("startsWith", 20),
        Tok::Ident(w) if w == "endsWith" => ("endsWith", 20),
        Tok::Op(op @ ("+" | "-")) => (op, 30),
        Tok::Op(op @ ("*" | "/" | "%")) => (op, 60),
        Tok::Op("**" | "^") => ("**", 100),
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> &(Tok, usize) {
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> (Tok, usize) {
        let t = self.peek().clone();
        if self.at < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn expect(&mut self, op: &'static str) -> Result<(), (usize, String)> {
        let (tok, pos) = self.next();
        if tok == Tok::Op(op) {
            Ok(())
        } else {
            Err((pos, format!("expected `{op}`, found {}", describe(&tok))))
        }
    }

    fn expression(&mut self, min: u8) -> Result<(Node, usize), (usize, String)> {
        let mut lhs = self.unary()?;
        loop {
            let (tok, pos) = self.peek().clone();
            // `not in`
            if tok == Tok::Ident("not".into())
                && min <= 20
                && matches!(&self.toks[(self.at + 1).min(self.toks.len() - 1)].0, Tok::Ident(w) if w == "in")
            {
                self.at += 2;
                let rhs = self.expression(21)?;
                let inn = (Node::Binary("in", Box::new(lhs), Box::new(rhs)), pos);
                lhs = (Node::Unary("!", Box::new(inn)), pos);
                continue;
            }
            let Some((op, prec)) = binary_precedence(&tok) else {
                break;
            };
            if prec < min {
                break;
            }
            self.at += 1;
            // `**` is right-associative; the rest are left-associative.
            let next_min = if op == "**" { prec } else { prec + 1 };
            let rhs = self.expression(next_min)?;
            lhs = (Node::Binary(op, Box::new(lhs), Box::new(rhs)), pos);
        }
        if min == 0 && self.peek().0 == Tok::Op("?") {
            let pos = self.next().1;
            let then = self.expression(0)?;
            self.expect(":")?;
            let otherwise = self.expression(0)?;
            lhs = (
                Node::Cond(Box::new(lhs), Box::new(then), Box::new(otherwise)),
                pos,
            );
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<(Node, usize), (usize, String)> {
        let (tok, pos) = self.peek().clone();
        let op = match &tok {
            Tok::Op("!") => Some(("!", 50)),
            Tok::Ident(w) if w == "not" => Some(("!", 50)),
            Tok::Op("-") => Some(("-", 90)),
            Tok::Op("+") => Some(("+", 90)),
            _ => None,
        };
        if let Some((op, prec)) = op {
            self.at += 1;
            let operand = self.expression(prec)?;
            return Ok((Node::Unary(op, Box::new(operand)), pos));
        }
        let primary = self.primary()?;
        self.postfix(primary)
    }

    fn primary(&mut self) -> Result<(Node, usize), (usize, String)> {
        let (tok, pos) = self.next();
        let node = match tok {
            Tok::Int(i) => Node::Lit(Value::Int(i)),
            Tok::Float(f) => Node::Lit(Value::Float(f)),
            Tok::Str(s) => Node::Lit(Value::String(s)),
            Tok::Hash => Node::Pointer,
            Tok::Op("(") => {
                let inner = self.expression(0)?;
                self.expect(")")?;
                return Ok(inner);
            }
            Tok::Op("[") => {
                let items = self.list("]")?;
                Node::Array(items)
            }
            // `.field` inside a predicate is `#.field`.
            Tok::Op(".") => {
                let (name, _) = self.next();
                let Tok::Ident(name) = name else {
                    return Err((pos, "expected a field name after `.`".into()));
                };
                Node::Member(Box::new((Node::Pointer, pos)), name)
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Node::Lit(Value::Bool(true)),
                "false" => Node::Lit(Value::Bool(false)),
                "nil" => Node::Lit(Value::Null),
                _ if self.peek().0 == Tok::Op("(") => {
                    self.at += 1;
                    let args = if PREDICATES.contains(&name.as_str()) {
                        let mut args = vec![self.expression(0)?];
                        if self.peek().0 == Tok::Op(",") {
                            self.at += 1;
                            args.push(self.closure()?);
                        }
                        self.expect(")")?;
                        args
                    } else {
                        self.list(")")?
                    };
                    Node::Call(name, args)
                }
                _ => Node::Var(name),
            },
            other => {
                return Err((
                    pos,
                    format!("expected an operand, found {}", describe(&other)),
                ));
            }
        };
        Ok((node, pos))
    }

    fn closure(&mut self) -> Result<(Node, usize), (usize, String)> {
        if self.peek().0 == Tok::Op("{") {
            self.at += 1;
            let body = self.expression(0)?;
            self.expect("}")?;
            Ok(body)
        } else {
            self.expression(0)
        }
    }

    fn list(&mut self, close: &'static str) -> Result<Vec<(Node, usize)>, (usize, String)> {
        let mut items = Vec::new();
        if self.peek().0 == Tok::Op(close) {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.expression(0)?);
            let (tok, pos) = self.next();
            match tok {
                Tok::Op(",") => {}
                Tok::Op(c) if c == close => return Ok(items),
                other => {
                    return Err((
                        pos,
                        format!("expected `,` or `{close}`, found {}", describe(&other)),
                    ));
                }
            }
        }
    }

    fn postfix(&mut self, mut node: (Node, usize)) -> Result<(Node, usize), (usize, String)> {
        loop {
            let (tok, pos) = self.peek().clone();
            match tok {
                Tok::Op("." | "?.") => {
                    self.at += 1;
                    let (name, npos) = self.next();
                    let Tok::Ident(name) = name else {
                        return Err((
                            npos,
                            format!("expected a field name, found {}", describe(&name)),
                        ));
                    };
                    node = (Node::Member(Box::new(node), name), pos);
                }
                Tok::Op("[") => {
                    self.at += 1;
                    let index = self.expression(0)?;
                    self.expect("]")?;
                    node = (Node::Index(Box::new(node), Box::new(index)), pos);
                }
                _ => return Ok(node),
            }
        }
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Int(i) => format!("`{i}`"),
        Tok::Float(f) => format!("`{f}`"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Op(op) => format!("`{op}`"),
        Tok::Hash => "`#`".into(),
        Tok::Eof => "the end of the expression".into(),
    }
}

struct Scope<'a> {
    result: &'a Value,
    pointer: Option<&'a Value>,
}

type EvalResult = Result<Value, (usize, String)>;

impl Expr {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Expr, Error> {
        let syntax = |(at, message): (usize, String)| Error::Syntax {
            expression: source.to_owned(),
            column: at + 1,
            message,
        };
        let toks = lex(source).map_err(syntax)?;
        let mut parser = Parser { toks, at: 0 };
        let root = parser.expression(0).map_err(syntax)?;
        let (tok, pos) = parser.next();
        if tok != Tok::Eof {
            return Err(syntax((pos, format!("unexpected {}", describe(&tok)))));
        }
        Ok(Expr {
            source: source.to_owned(),
            root,
        })
    }

    /// The expression's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression with `result` bound to `result`.
    pub fn eval(&self, result: &Value) -> Result<Value, Error> {
        let scope = Scope {
            result,
            pointer: None,
        };
        eval(&self.root, &scope).map_err(|(at, message)| Error::Eval {
            expression: self.source.clone(),
            column: at + 1,
            message,
        })
    }

    /// Evaluates a condition: the expression must give a bool (as Argo compiles conditions with
    /// `expr.AsBool()`).
    pub fn eval_condition(&self, result: &Value) -> Result<bool, Error> {
        match self.eval(result)? {
            Value::Bool(b) => Ok(b),
            other => Err(Error::NotBool {
                expression: self.source.clone(),
                kind: other.kind(),
                value: other.to_string(),
            }),
        }
    }
}

fn eval(node: &(Node, usize), scope: &Scope<'_>) -> EvalResult {
    let pos = node.1;
    match &node.0 {
        Node::Lit(v) => Ok(v.clone()),
        Node::Var(name) => match name.as_str() {
            "result" => Ok(scope.result.clone()),
            _ => Err((pos, format!("unknown name `{name}`"))),
        },
        Node::Pointer => scope
            .pointer
            .cloned()
            .ok_or_else(|| (pos, "`#` outside a predicate".to_owned())),
        Node::Array(items) => Ok(Value::Array(
            items
                .iter()
                .map(|i| eval(i, scope))
                .collect::<Result<_, _>>()?,
        )),
        Node::Unary(op, operand) => {
            let v = eval(operand, scope)?;
            match (*op, v) {
                ("!", Value::Bool(b)) => Ok(Value::Bool(!b)),
                ("-", Value::Int(i)) => Ok(Value::Int(i.wrapping_neg())),
                ("-", Value::Float(f)) => Ok(Value::Float(-f)),
                ("+", v @ (Value::Int(_) | Value::Float(_))) => Ok(v),
                (op, v) => Err((pos, format!("invalid operation: {op} {}", v.kind()))),
            }
        }
        Node::Binary(op, lhs, rhs) => binary(op, lhs, rhs, pos, scope),
        Node::Member(target, name) => {
            let v = eval(target, scope)?;
            member(&v, name).map_err(|m| (pos, m))
        }
        Node::Index(target, index) => {
            let v = eval(target, scope)?;
            let i = eval(index, scope)?;
            index_value(&v, &i).map_err(|m| (pos, m))
        }
        Node::Cond(c, then, otherwise) => match eval(c, scope)? {
            Value::Bool(true) => eval(then, scope),
            Value::Bool(false) => eval(otherwise, scope),
            other => Err((
                c.1,
                format!("non-bool condition in `?:` ({})", other.kind()),
            )),
        },
        Node::Call(name, args) => call(name, args, pos, scope),
    }
}

fn member(v: &Value, name: &str) -> Result<Value, String> {
    match v {
        Value::Map(map) => Ok(map.get(name).cloned().unwrap_or(Value::Null)),
        other => Err(format!("cannot fetch `{name}` from {}", other.kind())),
    }
}

fn index_value(v: &Value, i: &Value) -> Result<Value, String> {
    match (v, i) {
        (Value::Array(items), Value::Int(i)) => {
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let at = if *i < 0 { len + i } else { *i };
            usize::try_from(at)
                .ok()
                .and_then(|at| items.get(at))
                .cloned()
                .ok_or_else(|| format!("index out of range: {i} (array length is {len})"))
        }
        (Value::Map(map), Value::String(k)) => Ok(map.get(k).cloned().unwrap_or(Value::Null)),
        (Value::String(s), Value::Int(i)) => {
            let chars: Vec<char> = s.chars().collect();
            let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
            let at = if *i < 0 { len + i } else { *i };
            usize::try_from(at)
                .ok()
                .and_then(|at| chars.get(at))
                .map(|c| Value::String(c.to_string()))
                .ok_or_else(|| format!("index out of range: {i} (string length is {len})"))
        }
        (v, i) => Err(format!("cannot index {} with {}", v.kind(), i.kind())),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            a.as_f64() == b.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| equal(x, y))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn binary(
    op: &'static str,
    lhs: &(Node, usize),
    rhs: &(Node, usize),
    pos: usize,
    scope: &Scope<'_>,
) -> EvalResult {
    // Short-circuit as expr-lang does.
    if op == "&&" || op == "||" {
        let l = eval(lhs, scope)?;
        let Value::Bool(l) = l else {
            return Err((pos, format!("invalid operation: {} {op} …", l.kind())));
        };
        if (op == "&&" && !l) || (op == "||" && l) {
            return Ok(Value::Bool(l));
        }
        let r = eval(rhs, scope)?;
        return match r {
            Value::Bool(r) => Ok(Value::Bool(r)),
            other => Err((
                pos,
                format!("invalid operation: bool {op} {}", other.kind()),
            )),
        };
    }
    let l = eval(lhs, scope)?;
    let r = eval(rhs, scope)?;
    let mismatch = || {
        (
            pos,
            format!(
                "invalid operation: {op} (mismatched types {} and {})",
                l.kind(),
                r.kind()
            ),
        )
    };
    match op {
        "==" => Ok(Value::Bool(equal(&l, &r))),
        "!=" => Ok(Value::Bool(!equal(&l, &r))),
        "<" | "<=" | ">" | ">=" => {
            let ord = match (&l, &r) {
                (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
                (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                _ => match (l.as_f64(), r.as_f64()) {
                    // NaN compares false to everything, as in Go.
                    (Some(x), Some(y)) => x.partial_cmp(&y),
                    _ => return Err(mismatch()),
                },
            };
            let Some(ord) = ord else {
                return Ok(Value::Bool(false));
            };
            Ok(Value::Bool(match op {
                "<" => ord.is_lt(),
                "<=" => ord.is_le(),
                ">" => ord.is_gt(),
                _ => ord.is_ge(),
            }))
        }
        "in" => match &r {
            Value::Array(items) => Ok(Value::Bool(items.iter().any(|i| equal(i, &l)))),
            Value::Map(map) => match &l {
                Value::String(k) => Ok(Value::Bool(map.contains_key(k))),
                _ => Err(mismatch()),
            },
            _ => Err(mismatch()),
        },
        "contains" | "startsWith" | "endsWith" => match (&l, &r) {
            (Value::String(a), Value::String(b)) => Ok(Value::Bool(match op {
                "contains" => a.contains(b.as_str()),
                "startsWith" => a.starts_with(b.as_str()),
                _ => a.ends_with(b.as_str()),
            })),
            _ => Err(mismatch()),
        },
        "+" | "-" | "*" | "/" | "%" | "**" => arithmetic(op, &l, &r).ok_or_else(mismatch),
        _ => Err((pos, format!("unknown operator `{op}`"))),
    }
}

fn arithmetic(op: &str, l: &Value, r: &Value) -> Option<Value> {
    if let (Value::String(a), Value::String(b), "+") = (l, r, op) {
        return Some(Value::String(format!("{a}{b}")));
    }
    if let (Value::Int(a), Value::Int(b)) = (l, r) {
        match op {
            "+" => return Some(Value::Int(a.wrapping_add(*b))),
            "-" => return Some(Value::Int(a.wrapping_sub(*b))),
            "*" => return Some(Value::Int(a.wrapping_mul(*b))),
            "%" => return a.checked_rem(*b).map(Value::Int),
            _ => {}
        }
    }
    let (a, b) = (l.as_f64()?, r.as_f64()?);
    Some(Value::Float(match op {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" => a / b,
        "**" => a.powf(b),
        _ => return None,
    }))
}

#[allow(clippy::too_many_lines)] // one match over the builtins reads best in one place
fn call(name: &str, args: &[(Node, usize)], pos: usize, scope: &Scope<'_>) -> EvalResult {
    if PREDICATES.contains(&name) {
        return predicate(name, args, pos, scope);
    }
    let values: Vec<Value> = args
        .iter()
        .map(|a| eval(a, scope))
        .collect::<Result<_, _>>()?;
    let arity = |n: usize| {
        if values.len() == n {
            Ok(())
        } else {
            Err((
                pos,
                format!("{name}() takes {n} argument(s), got {}", values.len()),
            ))
        }
    };
    let bad = |v: &Value| (pos, format!("{name}() cannot take {} ({v})", v.kind()));
    match name {
        "len" => {
            arity(1)?;
            let n = match &values[0] {
                Value::Array(items) => items.len(),
                Value::Map(map) => map.len(),
                Value::String(s) => s.chars().count(),
                other => return Err(bad(other)),
            };
            Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        "isNaN" => {
            arity(1)?;
            match &values[0] {
                Value::Float(f) => Ok(Value::Bool(f.is_nan())),
                Value::Int(_) => Ok(Value::Bool(false)),
                other => Err(bad(other)),
            }
        }
        "isInf" => {
            arity(1)?;
            match &values[0] {
                Value::Float(f) => Ok(Value::Bool(f.is_infinite())),
                Value::Int(_) => Ok(Value::Bool(false)),
                other => Err(bad(other)),
            }
        }
        "isNil" => {
            arity(1)?;
            Ok(Value::Bool(values[0] == Value::Null))
        }
        "asInt" | "int" => {
            arity(1)?;
            match &values[0] {
                Value::Int(i) => Ok(Value::Int(*i)),
                #[allow(clippy::cast_possible_truncation)] // truncation is the conversion's meaning
                Value::Float(f) if f.is_finite() => Ok(Value::Int(f.trunc() as i64)),
                Value::String(s) => s
                    .trim()
                    .parse()
                    .map(Value::Int)
                    .map_err(|_| (pos, format!("{name}(): `{s}` is not an integer"))),
                other => Err(bad(other)),
            }
        }
        "asFloat" | "float" => {
            arity(1)?;
            match &values[0] {
                v @ (Value::Int(_) | Value::Float(_)) => {
                    Ok(Value::Float(v.as_f64().unwrap_or(0.0)))
                }
                Value::String(s) => s
                    .trim()
                    .parse()
                    .map(Value::Float)
                    .map_err(|_| (pos, format!("{name}(): `{s}` is not a number"))),
                other => Err(bad(other)),
            }
        }
        "string" => {
            arity(1)?;
            Ok(Value::String(match &values[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }))
        }
        "abs" => {
            arity(1)?;
            match &values[0] {
                Value::Int(i) => Ok(Value::Int(i.wrapping_abs())),
                Value::Float(f) => Ok(Value::Float(f.abs())),
                other => Err(bad(other)),
            }
        }
        "min" | "max" => {
            let items = match values.as_slice() {
                [Value::Array(items)] => items.clone(),
                _ => values.clone(),
            };
            let mut best: Option<Value> = None;
            for item in items {
                let x = item.as_f64().ok_or_else(|| bad(&item))?;
                let keep = match &best {
                    None => true,
                    Some(b) => {
                        let y = b.as_f64().unwrap_or(f64::NAN);
                        if name == "min" { x < y } else { x > y }
                    }
                };
                if keep {
                    best = Some(item);
                }
            }
            best.ok_or_else(|| (pos, format!("{name}() of nothing")))
        }
        _ => Err((pos, format!("unknown function `{name}`"))),
    }
}

fn predicate(name: &str, args: &[(Node, usize)], pos: usize, scope: &Scope<'_>) -> EvalResult {
    let [collection, body] = args else {
        return Err((pos, format!("{name}() takes an array and a predicate")));
    };
    let items = match eval(collection, scope)? {
        Value::Array(items) => items,
        other => {
            return Err((
                pos,
                format!("{name}() cannot take {} ({other})", other.kind()),
            ));
        }
    };
    let test = |item: &Value| -> Result<bool, (usize, String)> {
        let inner = Scope {
            result: scope.result,
            pointer: Some(item),
        };
        match eval(body, &inner)? {
            Value::Bool(b) => Ok(b),
            other => Err((
                body.1,
                format!("predicate gave {}, not a bool", other.kind()),
            )),
        }
    };
    match name {
        "all" => {
            for item in &items {
                if !test(item)? {
                    return Ok(Value::Bool(false));
                }
            }
            Ok(Value::Bool(true))
        }
        "any" => {
            for item in &items {
                if test(item)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "none" => {
            for item in &items {
                if test(item)? {
                    return Ok(Value::Bool(false));
                }
            }
            Ok(Value::Bool(true))
        }
        "one" | "count" => {
            let mut n = 0i64;
            for item in &items {
                if test(item)? {
                    n += 1;
                }
            }
            Ok(if name == "one" {
                Value::Bool(n == 1)
            } else {
                Value::Int(n)
            })
        }
        "filter" => {
            let mut out = Vec::new();
            for item in items {
                if test(&item)? {
                    out.push(item);
                }
            }
            Ok(Value::Array(out))
        }
        _ => {
            // map
            let mut out = Vec::new();
            for item in &items {
                let inner = Scope {
                    result: scope.result,
                    pointer: Some(item),
                };
                out.push(eval(body, &inner)?);
            }
            Ok(Value::Array(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(xs: &[f64]) -> Value {
        Value::Array(xs.iter().map(|x| Value::Float(*x)).collect())
    }

    fn holds(src: &str, result: &Value) -> bool {
        Expr::parse(src)
            .unwrap_or_else(|e| panic!("{e}"))
            .eval_condition(result)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn eval_err(src: &str, result: &Value) -> Error {
        Expr::parse(src)
            .unwrap_or_else(|e| panic!("{e}"))
            .eval_condition(result)
            .expect_err(src)
    }

    #[test]
    fn argo_doc_forms() {
        let v = floats(&[0.97]);
        assert!(holds("result[0] >= 0.95", &v));
        assert!(!holds("result[0] >= 0.99", &v));
        assert!(holds("len(result) > 0 && result[0] < 100", &v));
        assert!(!holds("len(result) > 0 && result[0] < 100", &floats(&[])));
        assert!(holds("result == true", &Value::Bool(true)));
        assert!(!holds("result == true", &Value::Bool(false)));
        assert!(holds("result < 0.05", &Value::Float(0.01)));
        assert!(holds("isNaN(result)", &Value::Float(f64::NAN)));
        assert!(holds(
            "isNaN(result[0]) || result[0] < 1",
            &floats(&[f64::NAN])
        ));
        assert!(holds("all(result, {# > 0.9})", &floats(&[0.95, 0.91])));
        assert!(!holds("all(result, {# > 0.9})", &floats(&[0.95, 0.5])));
        assert!(holds("any(result, {# > 0.9})", &floats(&[0.5, 0.95])));
        assert!(holds("all(result, # > 0.9)", &floats(&[0.95])));
        assert!(holds("none(result, {# > 0.9})", &floats(&[0.5])));
        assert!(holds("one(result, {# > 0.9})", &floats(&[0.5, 0.95])));
        assert!(holds(
            "count(result, {# > 0.9}) == 2",
            &floats(&[0.95, 0.99])
        ));
        assert!(holds("asInt(result) == 3", &Value::String("3".into())));
        assert!(holds(
            "asFloat(result) > 0.5",
            &Value::String("0.75".into())
        ));
        assert!(holds("result == 'true'", &Value::String("true".into())));
        assert!(holds("result == \"ok\"", &Value::String("ok".into())));
        assert!(holds("result != 'failed'", &Value::String("ok".into())));
    }

    #[test]
    fn logic_and_precedence() {
        let v = Value::Int(5);
        assert!(holds("result > 1 and result < 10", &v));
        assert!(holds("result > 7 or result < 10", &v));
        assert!(holds("not (result > 7)", &v));
        assert!(holds("!(result > 7)", &v));
        assert!(holds("not false == true", &v)); // `(not false) == true`, as expr-lang binds it
        assert!(holds("1 + 2 * 3 == 7", &v));
        assert!(holds("(1 + 2) * 3 == 9", &v));
        assert!(holds("2 ** 3 ** 2 == 512", &v)); // right-associative
        assert!(holds("2 ^ 10 == 1024", &v));
        assert!(holds("7 % 3 == 1", &v));
        assert!(holds("7 / 2 == 3.5", &v)); // `/` is float division
        assert!(holds("-result == -5", &v));
        assert!(holds("result - 10 < 0", &v));
        assert!(holds("true || 1 / nil", &v)); // short-circuit: the right side is never evaluated
        assert!(!holds("false && 1 / nil", &v));
        assert!(holds("result > 3 ? true : false", &v));
        assert!(holds("1e3 == 1000 && .5 == 0.5 && 1_000 == 1000", &v));
    }

    #[test]
    fn equality_and_membership() {
        let v = Value::Int(2);
        assert!(holds("result == 2.0", &v));
        assert!(!holds("result == '2'", &v)); // different kinds are unequal, not an error
        assert!(holds("result in [1, 2, 3]", &v));
        assert!(holds("result not in [4, 5]", &v));
        assert!(holds("nil == nil", &v));
        assert!(!holds("result == nil", &v));
        assert!(holds(
            "'abc' contains 'b' and 'abc' startsWith 'a' and 'abc' endsWith 'c'",
            &v
        ));
        assert!(holds("'a' + 'b' == 'ab'", &v));
        assert!(holds("'b' > 'a'", &v));
        let json: Value = serde_json::json!({"data": {"ok": true, "items": [1, 2]}}).into();
        assert!(holds("result.data.ok == true", &json));
        assert!(holds("result['data'].items[-1] == 2", &json));
        assert!(holds("'data' in result", &json));
        assert!(holds("result.missing == nil", &json));
        assert!(holds("isNil(result.missing)", &json));
        assert!(holds("len(result.data.items) == 2", &json));
        assert!(holds("all(result.data.items, {# > 0})", &json));
        let objs: Value = serde_json::json!([{"v": 1}, {"v": 3}]).into();
        assert!(holds("any(result, {.v > 2})", &objs));
        assert!(holds("len(filter(result, {#.v > 2})) == 1", &objs));
        assert!(holds("map(result, {.v * 2}) == [2, 6]", &objs));
        assert!(holds(
            "max(result[0].v, result[1].v) == 3 && min([4, 2.5]) == 2.5",
            &objs
        ));
        assert!(holds(
            "abs(-3) == 3 && int(2.9) == 2 && float(1) == 1.0",
            &objs
        ));
        assert!(holds("string(3) == '3'", &objs));
    }

    #[test]
    fn nan_compares_false_and_isinf() {
        let v = floats(&[f64::NAN, f64::INFINITY]);
        assert!(!holds("result[0] < 1", &v));
        assert!(!holds("result[0] >= 1", &v));
        assert!(!holds("result[0] == result[0]", &v));
        assert!(holds("isInf(result[1])", &v));
    }

    #[test]
    fn syntax_errors_carry_the_column() {
        let e = Expr::parse("result[0] >= ").expect_err("incomplete");
        assert!(
            matches!(&e, Error::Syntax { column: 14, message, .. } if message.contains("end of the expression")),
            "{e}"
        );
        let e = Expr::parse("result[0 >= 1").expect_err("unclosed");
        assert!(matches!(e, Error::Syntax { column: 14, .. }), "{e}");
        let e = Expr::parse("result @ 1").expect_err("bad char");
        assert!(matches!(e, Error::Syntax { column: 8, .. }), "{e}");
        let e = Expr::parse("'abc").expect_err("unterminated");
        assert!(matches!(e, Error::Syntax { column: 1, .. }), "{e}");
        let e = Expr::parse("result 1").expect_err("trailing");
        assert!(matches!(e, Error::Syntax { column: 8, .. }), "{e}");
        assert_eq!(e.to_string(), "`result 1`, column 8: unexpected `1`");
    }

    #[test]
    fn evaluation_errors_carry_the_column() {
        let e = eval_err("len(result) >= 0 && result[0] < 0.05", &floats(&[]));
        assert!(
            matches!(&e, Error::Eval { column: 27, message, .. } if message.contains("index out of range")),
            "{e}"
        );
        let e = eval_err("result < 1", &Value::String("x".into()));
        assert!(
            matches!(&e, Error::Eval { column: 8, message, .. } if message.contains("mismatched types string and int")),
            "{e}"
        );
        let e = eval_err("result[0]", &floats(&[1.0]));
        assert!(matches!(e, Error::NotBool { kind: "float", .. }), "{e}");
        let e = eval_err("foo > 1", &Value::Null);
        assert!(matches!(e, Error::Eval { column: 1, .. }), "{e}");
        let e = eval_err("nosuch(result)", &Value::Null);
        assert!(matches!(e, Error::Eval { .. }), "{e}");
        let e = eval_err("asInt(result) > 1", &Value::String("x1".into()));
        assert!(matches!(e, Error::Eval { column: 1, .. }), "{e}");
        let e = eval_err("result > 1 && 1", &Value::Int(2));
        assert!(matches!(e, Error::Eval { column: 12, .. }), "{e}");
        let e = eval_err("result.x == 1", &Value::Int(2));
        assert!(matches!(e, Error::Eval { column: 7, .. }), "{e}");
    }
}

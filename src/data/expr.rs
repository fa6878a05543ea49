//! Row filters: the small boolean language of `--where`, `--train` and `--test`.
//!
//! Users select runs by comparing columns with numbers (`model_size<=1.3e9`) or text
//! (`experiment == "llama_3"`, since long tables name their studies in a text column), combined
//! with `and`/`or`/`not` and parentheses. A tiny hand-written recursive-descent parser keeps the
//! grammar exact and the errors precise: every parse error is a [`Error::Usage`] that reprints
//! the expression with a caret under the offending character, because a filter typed on a
//! command line is fixed faster when the mistake is pointed at than when it is described.
//!
//! ```text
//! expr   := and ("or" and)*
//! and    := unary ("and" unary)*
//! unary  := "not" unary | "(" expr ")" | COLUMN OP NUMBER | COLUMN EQ TEXT
//! OP     := "<" | "<=" | ">" | ">=" | EQ
//! EQ     := "==" | "!="
//! COLUMN := [A-Za-z_][A-Za-z0-9_.]*  |  `any text`  |  "any text"
//! NUMBER := anything Rust parses as a finite f64 (1.3e9, 680e6, -2, .5)
//! TEXT   := "any text"  |  'any text'
//! ```
//!
//! A comparison always reads column, operator, value, so the position of a double-quoted string
//! decides what it is: left of the operator a column name (`"Model Size" > 1e9`, as before text
//! literals existed), right of it text. Single quotes are only text and backticks only a column,
//! and a quote cannot appear inside a string of its own kind (use the other one). Text compares
//! only for equality: an ordering of text has no meaning for run tables, so `<` against text is
//! an error at the operator.
//!
//! Parsing yields names; [`Expr::resolve`] then binds them to column indices of a concrete table
//! (an unknown name is an error listing the table's columns), so evaluation is a plain tree walk
//! over one row. `==` against a number compares exactly: tables write floats exactly
//! (`680000000.0` equals `680e6`), and a column compared with a number must hold numbers. `==`
//! against text compares the cell's text exactly (case and all; a CSV cell trimmed, an in-memory
//! number as Rust prints it), whatever the column holds, so it never fails on a cell; a numeric
//! column is better compared with a number, since `1e9` and `1000000000` are different text.

use crate::error::{Error, Result};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `==` (exact).
    Eq,
    /// `!=`.
    Ne,
}

impl Op {
    /// Apply the operator to `a OP b`.
    pub fn apply(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }

    /// The operator as written in an expression, e.g. `<=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// What a column is compared with.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number: the column's cells must be numbers.
    Number(f64),
    /// Text (only with `==` and `!=`): compared with the cell's text.
    Text(String),
}

/// A parsed filter expression. `C` is the column reference: a name after parsing, an index into
/// a table's columns after [`Expr::resolve`].
#[derive(Clone, Debug, PartialEq)]
pub enum Expr<C = String> {
    /// `column op value`.
    Cmp {
        /// The column compared.
        column: C,
        /// The comparison.
        op: Op,
        /// What it is compared with.
        value: Value,
    },
    /// Both sides hold.
    And(Box<Expr<C>>, Box<Expr<C>>),
    /// Either side holds.
    Or(Box<Expr<C>>, Box<Expr<C>>),
    /// The inner expression does not hold.
    Not(Box<Expr<C>>),
}

impl Expr<String> {
    /// Every column name the expression mentions, in order of first appearance, without repeats.
    pub fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.visit_columns(&mut |c| {
            if !out.contains(&c) {
                out.push(c);
            }
        });
        out
    }

    fn visit_columns<'a>(&'a self, f: &mut impl FnMut(&'a str)) {
        match self {
            Expr::Cmp { column, .. } => f(column),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.visit_columns(f);
                b.visit_columns(f);
            }
            Expr::Not(a) => a.visit_columns(f),
        }
    }

    /// Bind column names to indices with `lookup`; the first name it rejects is returned as `Err`.
    pub fn resolve(
        &self,
        lookup: &impl Fn(&str) -> Option<usize>,
    ) -> std::result::Result<Expr<usize>, String> {
        Ok(match self {
            Expr::Cmp { column, op, value } => Expr::Cmp {
                column: lookup(column).ok_or_else(|| column.clone())?,
                op: *op,
                value: value.clone(),
            },
            Expr::And(a, b) => {
                Expr::And(Box::new(a.resolve(lookup)?), Box::new(b.resolve(lookup)?))
            }
            Expr::Or(a, b) => Expr::Or(Box::new(a.resolve(lookup)?), Box::new(b.resolve(lookup)?)),
            Expr::Not(a) => Expr::Not(Box::new(a.resolve(lookup)?)),
        })
    }
}

impl Expr<usize> {
    /// Evaluate on one row: `number(i)` is the number in column `i` (asked only of columns
    /// compared with a number), `text_is(i, s)` whether the text of column `i` is `s`.
    pub fn eval(
        &self,
        number: &impl Fn(usize) -> f64,
        text_is: &impl Fn(usize, &str) -> bool,
    ) -> bool {
        match self {
            Expr::Cmp {
                column,
                op,
                value: Value::Number(v),
            } => op.apply(number(*column), *v),
            Expr::Cmp {
                column,
                op,
                value: Value::Text(s),
            } => text_is(*column, s) == (*op == Op::Eq),
            Expr::And(a, b) => a.eval(number, text_is) && b.eval(number, text_is),
            Expr::Or(a, b) => a.eval(number, text_is) || b.eval(number, text_is),
            Expr::Not(a) => !a.eval(number, text_is),
        }
    }

    /// Whether column `c` is compared with a number anywhere in the expression (its cells must
    /// then be numbers).
    pub fn compares_number(&self, c: usize) -> bool {
        match self {
            Expr::Cmp { column, value, .. } => *column == c && matches!(value, Value::Number(_)),
            Expr::And(a, b) | Expr::Or(a, b) => a.compares_number(c) || b.compares_number(c),
            Expr::Not(a) => a.compares_number(c),
        }
    }
}

/// Parse a `--where` expression.
pub fn parse(src: &str) -> Result<Expr> {
    parse_for(src, "--where")
}

/// Parse an expression given to `flag` (the flag only appears in error messages).
pub fn parse_for(src: &str, flag: &str) -> Result<Expr> {
    let tokens = tokenize(src);
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        comparisons: 0,
    };
    let fail = |e: ParseError| Error::Usage(render(src, flag, &e));
    if p.peek().kind == Kind::End {
        return Err(fail(ParseError::new(0, "empty expression")));
    }
    let expr = p.expr().map_err(fail)?;
    let t = p.peek();
    if t.kind == Kind::RParen {
        return Err(fail(ParseError::new(t.at, "unmatched ')'")));
    }
    if t.kind != Kind::End {
        return Err(fail(Parser::err(
            t,
            "expected 'and', 'or' or the end of the expression",
        )));
    }
    Ok(expr)
}

struct ParseError {
    /// Character (not byte) offset into the source.
    at: usize,
    msg: String,
    /// What was found instead, when that helps (printed under the caret).
    note: Option<String>,
}

impl ParseError {
    fn new(at: usize, msg: impl Into<String>) -> Self {
        ParseError {
            at,
            msg: msg.into(),
            note: None,
        }
    }
}

/// Characters of the expression an error shows on each side of the caret (a long or hostile
/// expression is cut to this window, marked by `…`, not echoed whole).
const SHOWN: usize = 40;

fn render(src: &str, flag: &str, e: &ParseError) -> String {
    let chars: Vec<char> = src.chars().collect();
    let from = e.at.saturating_sub(SHOWN);
    let to = (e.at + SHOWN).min(chars.len());
    let lead = if from > 0 { "…" } else { "" };
    let tail = if to < chars.len() { "…" } else { "" };
    let shown: String = chars[from.min(to)..to].iter().collect();
    let mut out = format!(
        "bad {flag} expression: {}\n  {lead}{shown}{tail}\n  {}^",
        e.msg,
        " ".repeat(lead.chars().count() + e.at - from)
    );
    if let Some(note) = &e.note {
        out.push_str(&format!("\n  ({note})"));
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Ident(String),
    /// Quoted text and its quote (`"`, `'` or a backtick); kept apart from `Ident` so that
    /// `"and"` is a column, not a keyword. Whether it is a column or text the parser decides by
    /// its place and its quote.
    Quoted {
        text: String,
        quote: char,
    },
    Number(f64),
    Op(Op),
    LParen,
    RParen,
    /// Text that is no token (`=`, `!`, `@`, a malformed number): what was found, printed as a
    /// note under the caret.
    Bad(String),
    End,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    /// Character offset of the token's first character.
    at: usize,
}

fn tokenize(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match c {
            '(' => {
                i += 1;
                Kind::LParen
            }
            ')' => {
                i += 1;
                Kind::RParen
            }
            '<' | '>' | '=' | '!' => {
                let eq = chars.get(i + 1) == Some(&'=');
                i += if eq { 2 } else { 1 };
                match (c, eq) {
                    ('<', false) => Kind::Op(Op::Lt),
                    ('<', true) => Kind::Op(Op::Le),
                    ('>', false) => Kind::Op(Op::Gt),
                    ('>', true) => Kind::Op(Op::Ge),
                    ('=', true) => Kind::Op(Op::Eq),
                    ('!', true) => Kind::Op(Op::Ne),
                    ('=', false) => Kind::Bad("found '='; write '==' for equality".into()),
                    _ => Kind::Bad("found '!'; write '!=' or 'not'".into()),
                }
            }
            '`' | '"' | '\'' => match chars[i + 1..].iter().position(|&q| q == c) {
                Some(len) => {
                    let text: String = chars[i + 1..i + 1 + len].iter().collect();
                    i += len + 2;
                    Kind::Quoted { text, quote: c }
                }
                None => {
                    i = chars.len();
                    let what = match c {
                        '`' => "column name",
                        '"' => "column name or text",
                        _ => "text",
                    };
                    Kind::Bad(format!(
                        "found an unterminated quoted {what} (no closing {c})"
                    ))
                }
            },
            c if c.is_ascii_alphabetic() || c == '_' => {
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                Kind::Ident(chars[at..i].iter().collect())
            }
            c if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' => {
                i = scan_number(&chars, i);
                // Swallow trailing identifier characters so `3x` or `1.2.3` is one bad token.
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                let text: String = chars[at..i].iter().collect();
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => Kind::Number(v),
                    _ => Kind::Bad(format!("found '{text}', which is not a number")),
                }
            }
            _ => {
                i += 1;
                Kind::Bad(format!("found unexpected character '{c}'"))
            }
        };
        out.push(Token { kind, at });
    }
    out.push(Token {
        kind: Kind::End,
        at: chars.len(),
    });
    out
}

/// Scan `[+-]? digits? (. digits?)? ([eE] [+-]? digits)?` from `i`; returns the end offset.
fn scan_number(chars: &[char], mut i: usize) -> usize {
    let digits = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    if matches!(chars.get(i), Some('+' | '-')) {
        i += 1;
    }
    digits(&mut i);
    if chars.get(i) == Some(&'.') {
        i += 1;
        digits(&mut i);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
            i = j;
            digits(&mut i);
        }
    }
    i
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// `not`s and parentheses open around the token being parsed.
    depth: usize,
    /// Comparisons parsed so far.
    comparisons: usize,
}

/// The deepest nesting of `not`s and parentheses an expression may have: the parser and the
/// evaluator recurse once per level, and a hostile `--where` of 10,000 parentheses would
/// otherwise overflow the stack. No filter a person writes comes near it.
const MAX_DEPTH: usize = 200;

/// The most comparisons an expression may hold: `and`/`or` chains are trees as deep as they are
/// long, which evaluation walks recursively.
const MAX_COMPARISONS: usize = 10_000;

type PResult<T> = std::result::Result<T, ParseError>;

fn is_keyword(t: &Token, word: &str) -> bool {
    matches!(&t.kind, Kind::Ident(s) if s.eq_ignore_ascii_case(word))
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if t.kind != Kind::End {
            self.pos += 1;
        }
        t
    }

    /// An error at token `t`: a bad token reports its own problem, anything else `expected`.
    fn err(t: &Token, expected: &str) -> ParseError {
        match &t.kind {
            Kind::Bad(found) => ParseError {
                at: t.at,
                msg: expected.to_string(),
                note: Some(found.clone()),
            },
            Kind::End => {
                ParseError::new(t.at, format!("{expected}, found the end of the expression"))
            }
            _ => ParseError::new(t.at, expected),
        }
    }

    fn expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.and()?;
        while is_keyword(self.peek(), "or") {
            self.next();
            let rhs = self.and()?;
            lhs = Expr::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn and(&mut self) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        while is_keyword(self.peek(), "and") {
            self.next();
            let rhs = self.unary()?;
            lhs = Expr::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    /// Parse `inner` one level deeper (after a `not` or an opening parenthesis at `at`).
    fn deeper<T>(&mut self, at: usize, inner: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::new(
                at,
                format!("nested deeper than {MAX_DEPTH} levels of 'not' and parentheses"),
            ));
        }
        self.depth += 1;
        let out = inner(self);
        self.depth -= 1;
        out
    }

    fn unary(&mut self) -> PResult<Expr> {
        let t = self.next();
        match t.kind {
            Kind::Ident(ref s) if s.eq_ignore_ascii_case("not") => {
                Ok(Expr::Not(Box::new(self.deeper(t.at, Self::unary)?)))
            }
            Kind::Ident(ref s) if s.eq_ignore_ascii_case("and") || s.eq_ignore_ascii_case("or") => {
                Err(ParseError::new(
                    t.at,
                    format!("expected a column name, found '{s}'"),
                ))
            }
            Kind::LParen => self.deeper(t.at, |p| {
                let inner = p.expr()?;
                let close = p.next();
                if close.kind != Kind::RParen {
                    return Err(Self::err(&close, "expected ')' or 'and'/'or'"));
                }
                Ok(inner)
            }),
            Kind::Quoted { ref text, quote } if text.is_empty() && quote != '\'' => {
                Err(ParseError {
                    at: t.at,
                    msg: "expected a column name".into(),
                    note: Some("found an empty quoted column name".into()),
                })
            }
            Kind::Quoted { quote: '\'', .. } => Err(ParseError {
                at: t.at,
                msg: "expected a column name".into(),
                note: Some(
                    "found text in single quotes, which is a value: quote a column name \
                     with \" or `"
                        .into(),
                ),
            }),
            Kind::Ident(name) | Kind::Quoted { text: name, .. } => {
                self.comparisons += 1;
                if self.comparisons > MAX_COMPARISONS {
                    return Err(ParseError::new(
                        t.at,
                        format!("more than {MAX_COMPARISONS} comparisons in one expression"),
                    ));
                }
                let op_tok = self.next();
                let op = match op_tok.kind {
                    Kind::Op(op) => op,
                    _ => return Err(Self::err(&op_tok, "expected a comparison operator")),
                };
                let value = self.value(op, op_tok.at)?;
                Ok(Expr::Cmp {
                    column: name,
                    op,
                    value,
                })
            }
            _ => Err(Self::err(&t, "expected a column name, 'not' or '('")),
        }
    }

    /// The value right of operator `op` (at `op_at`): a number, or text for `==` and `!=`.
    fn value(&mut self, op: Op, op_at: usize) -> PResult<Value> {
        const EXPECTED: &str = "expected a number or quoted text";
        let t = self.next();
        match t.kind {
            Kind::Number(v) => Ok(Value::Number(v)),
            Kind::Quoted {
                text,
                quote: '"' | '\'',
            } => match op {
                Op::Eq | Op::Ne => Ok(Value::Text(text)),
                _ => Err(ParseError {
                    at: op_at,
                    msg: format!("'{}' does not compare text", op.symbol()),
                    note: Some("text compares only with == and !=".into()),
                }),
            },
            Kind::Quoted { .. } => Err(ParseError {
                at: t.at,
                msg: EXPECTED.into(),
                note: Some(
                    "found a column name in backticks; a column compares with a value, not \
                     with another column"
                        .into(),
                ),
            }),
            Kind::Ident(word) => Err(ParseError {
                at: t.at,
                msg: EXPECTED.into(),
                note: Some(format!("found '{word}'; write text in quotes: '{word}'")),
            }),
            _ => Err(Self::err(&t, EXPECTED)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(c: &str, op: Op, v: f64) -> Expr {
        Expr::Cmp {
            column: c.into(),
            op,
            value: Value::Number(v),
        }
    }
    fn text(c: &str, op: Op, v: &str) -> Expr {
        Expr::Cmp {
            column: c.into(),
            op,
            value: Value::Text(v.into()),
        }
    }
    fn and(a: Expr, b: Expr) -> Expr {
        Expr::And(Box::new(a), Box::new(b))
    }
    fn or(a: Expr, b: Expr) -> Expr {
        Expr::Or(Box::new(a), Box::new(b))
    }
    fn not(a: Expr) -> Expr {
        Expr::Not(Box::new(a))
    }

    /// The usage message of a parse failure.
    fn err(src: &str) -> String {
        match parse(src) {
            Err(Error::Usage(m)) => m,
            other => panic!("{src:?}: expected a usage error, got {other:?}"),
        }
    }

    /// Column (in characters) of the caret in an error message.
    fn caret(msg: &str) -> usize {
        let line = msg.lines().nth(2).expect("caret line");
        line.find('^').expect("caret") - 2
    }

    #[test]
    fn every_operator() {
        for (s, op) in [
            ("<", Op::Lt),
            ("<=", Op::Le),
            (">", Op::Gt),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
        ] {
            assert_eq!(parse(&format!("x{s}3")).unwrap(), cmp("x", op, 3.0), "{s}");
            assert_eq!(
                parse(&format!(" x {s} 3 ")).unwrap(),
                cmp("x", op, 3.0),
                "{s}"
            );
            assert_eq!(op.symbol(), s);
        }
        let t = |op: Op| [op.apply(1.0, 2.0), op.apply(2.0, 2.0), op.apply(3.0, 2.0)];
        assert_eq!(t(Op::Lt), [true, false, false]);
        assert_eq!(t(Op::Le), [true, true, false]);
        assert_eq!(t(Op::Gt), [false, false, true]);
        assert_eq!(t(Op::Ge), [false, true, true]);
        assert_eq!(t(Op::Eq), [false, true, false]);
        assert_eq!(t(Op::Ne), [true, false, true]);
    }

    #[test]
    fn numbers() {
        for (s, v) in [
            ("1.3e9", 1.3e9),
            ("680e6", 680e6),
            ("-2", -2.0),
            ("+2", 2.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("1E-3", 1e-3),
            ("2e+3", 2e3),
            ("0", 0.0),
        ] {
            assert_eq!(
                parse(&format!("a>={s}")).unwrap(),
                cmp("a", Op::Ge, v),
                "{s}"
            );
        }
        // Exact equality with the way tables write floats.
        assert_eq!(680000000.0_f64, 680e6);
    }

    #[test]
    fn examples_from_the_docs() {
        assert_eq!(
            parse("model_size<=1.3e9").unwrap(),
            cmp("model_size", Op::Le, 1.3e9)
        );
        assert_eq!(
            parse("(model_size==680e6 and n_tokens>=7e9) or model_size>=1e9").unwrap(),
            or(
                and(
                    cmp("model_size", Op::Eq, 680e6),
                    cmp("n_tokens", Op::Ge, 7e9)
                ),
                cmp("model_size", Op::Ge, 1e9)
            )
        );
        assert_eq!(
            parse("not model_size > 1e9").unwrap(),
            not(cmp("model_size", Op::Gt, 1e9))
        );
    }

    #[test]
    fn precedence() {
        // and binds tighter than or, on either side.
        assert_eq!(
            parse("a<1 or b<2 and c<3").unwrap(),
            or(
                cmp("a", Op::Lt, 1.0),
                and(cmp("b", Op::Lt, 2.0), cmp("c", Op::Lt, 3.0))
            )
        );
        assert_eq!(
            parse("a<1 and b<2 or c<3").unwrap(),
            or(
                and(cmp("a", Op::Lt, 1.0), cmp("b", Op::Lt, 2.0)),
                cmp("c", Op::Lt, 3.0)
            )
        );
        // not binds tightest.
        assert_eq!(
            parse("not a<1 and b<2").unwrap(),
            and(not(cmp("a", Op::Lt, 1.0)), cmp("b", Op::Lt, 2.0))
        );
        assert_eq!(
            parse("not not a<1").unwrap(),
            not(not(cmp("a", Op::Lt, 1.0)))
        );
        // Left associativity.
        assert_eq!(
            parse("a<1 or b<2 or c<3").unwrap(),
            or(
                or(cmp("a", Op::Lt, 1.0), cmp("b", Op::Lt, 2.0)),
                cmp("c", Op::Lt, 3.0)
            )
        );
        // Keywords are case-insensitive.
        assert_eq!(
            parse("a<1 AND NOT b<2").unwrap(),
            and(cmp("a", Op::Lt, 1.0), not(cmp("b", Op::Lt, 2.0)))
        );
    }

    #[test]
    fn parentheses() {
        assert_eq!(
            parse("a<1 and (b<2 or c<3)").unwrap(),
            and(
                cmp("a", Op::Lt, 1.0),
                or(cmp("b", Op::Lt, 2.0), cmp("c", Op::Lt, 3.0))
            )
        );
        assert_eq!(
            parse("not (a<1 or b<2)").unwrap(),
            not(or(cmp("a", Op::Lt, 1.0), cmp("b", Op::Lt, 2.0)))
        );
        assert_eq!(parse("((a<1))").unwrap(), cmp("a", Op::Lt, 1.0));
        assert_eq!(
            parse("(a<1)and(b>2)").unwrap(),
            and(cmp("a", Op::Lt, 1.0), cmp("b", Op::Gt, 2.0))
        );
    }

    #[test]
    fn column_names() {
        assert_eq!(
            parse("\"Model Size\">=1e9").unwrap(),
            cmp("Model Size", Op::Ge, 1e9)
        );
        assert_eq!(
            parse("`Training FLOP` < 1e21").unwrap(),
            cmp("Training FLOP", Op::Lt, 1e21)
        );
        assert_eq!(parse("a.b_2 < 1").unwrap(), cmp("a.b_2", Op::Lt, 1.0));
        assert_eq!(parse("_x < 1").unwrap(), cmp("_x", Op::Lt, 1.0));
        // A quoted keyword is a column; a name that merely starts with a keyword is a column.
        assert_eq!(parse("\"and\" < 1").unwrap(), cmp("and", Op::Lt, 1.0));
        assert_eq!(
            parse("notes < 1 and order > 2").unwrap(),
            and(cmp("notes", Op::Lt, 1.0), cmp("order", Op::Gt, 2.0))
        );
        let e = parse("a<1 or (b<2 and a>0)").unwrap();
        assert_eq!(e.columns(), vec!["a", "b"]);
    }

    #[test]
    fn evaluation_after_resolve() {
        let cols = ["model_size", "n_tokens"];
        let lookup = |s: &str| cols.iter().position(|c| *c == s);
        let e = parse("(model_size==680e6 and n_tokens>=7e9) or model_size>=1e9")
            .unwrap()
            .resolve(&lookup)
            .unwrap();
        let row = |n: f64, d: f64| e.eval(&|i| [n, d][i], &|_, _| unreachable!("no text"));
        assert!(row(680000000.0, 7e9));
        assert!(!row(680000000.0, 6.9e9));
        assert!(row(1.2e9, 1.0));
        assert!(!row(310e6, 1e12));
        let bad = parse("model_size<1 or nope>2").unwrap().resolve(&lookup);
        assert_eq!(bad.unwrap_err(), "nope");
    }

    #[test]
    fn error_positions() {
        let m = err("model_size =< 3");
        assert!(m.starts_with("bad --where expression: "), "{m}");
        assert!(m.contains("expected a comparison operator"), "{m}");
        assert!(m.contains("\n  model_size =< 3\n             ^"), "{m}");
        assert_eq!(caret(&m), 11);

        for (src, at, needle) in [
            ("model_size 3", 11, "expected a comparison operator"),
            ("model_size < x", 13, "expected a number or quoted text"),
            (
                "model_size <",
                12,
                "expected a number or quoted text, found the end",
            ),
            ("a<1 and", 7, "found the end"),
            ("a<1 and or b<2", 8, "expected a column name, found 'or'"),
            ("(a<1", 4, "expected ')'"),
            ("a<1)", 3, "unmatched ')'"),
            ("a<1 b<2", 4, "expected 'and', 'or'"),
            (
                "a < 1.2.3",
                4,
                "expected a number or quoted text\n  a < 1.2.3\n      ^\n  (found '1.2.3', which is not a number)",
            ),
            ("a < 3x", 4, "'3x', which is not"),
            (
                "a = 3",
                2,
                "expected a comparison operator\n  a = 3\n    ^\n  (found '='; write '=='",
            ),
            ("a ! 3", 2, "write '!='"),
            ("a < 1 @", 6, "unexpected character '@'"),
            ("\"Model Size >= 1", 0, "unterminated quoted column name or text"),
            ("`` < 1", 0, "empty quoted column name"),
            ("\"\" == 'x'", 0, "empty quoted column name"),
            ("'experiment' == 'x'", 0, "found text in single quotes"),
            ("experiment < 'llama_3'", 11, "'<' does not compare text"),
            ("experiment >= \"llama_3\"", 11, "text compares only with == and !="),
            ("experiment == llama_3", 14, "write text in quotes: 'llama_3'"),
            ("experiment == `model`", 14, "not with another column"),
            ("experiment == 'llama_3", 14, "unterminated quoted text (no closing ')"),
            ("(experiment == \"a)", 15, "no closing \""),
            ("", 0, "empty expression"),
            ("   ", 0, "empty expression"),
            ("< 3", 0, "expected a column name"),
            ("3 < a", 0, "expected a column name"),
            ("()", 1, "expected a column name"),
            ("not", 3, "found the end"),
            ("a < inf", 4, "expected a number"),
        ] {
            let m = err(src);
            assert!(m.contains(needle), "{src:?}: {m}");
            assert_eq!(caret(&m), at, "{src:?}: {m}");
            assert!(
                m.lines().nth(1) == Some(&format!("  {src}")[..]),
                "{src:?}: {m}"
            );
        }
    }

    /// A double-quoted string is a column left of the operator and text right of it; single
    /// quotes are always text; text keeps its spaces, case and keywords.
    #[test]
    fn text_literals() {
        assert_eq!(
            parse("experiment == \"llama_3\"").unwrap(),
            text("experiment", Op::Eq, "llama_3")
        );
        assert_eq!(
            parse("experiment!='chinchilla'").unwrap(),
            text("experiment", Op::Ne, "chinchilla")
        );
        assert_eq!(
            parse("\"Run name\" == \"and Or  NOT\"").unwrap(),
            text("Run name", Op::Eq, "and Or  NOT")
        );
        assert_eq!(
            parse("`the study` == 'it\"s'").unwrap(),
            text("the study", Op::Eq, "it\"s")
        );
        assert_eq!(
            parse("condition == ''").unwrap(),
            text("condition", Op::Eq, "")
        );
        assert_eq!(
            parse("model_size == '1e9'").unwrap(),
            text("model_size", Op::Eq, "1e9")
        );
        assert_eq!(
            parse("(experiment == 'a' or experiment == \"b\") and params < 1e9").unwrap(),
            and(
                or(
                    text("experiment", Op::Eq, "a"),
                    text("experiment", Op::Eq, "b")
                ),
                cmp("params", Op::Lt, 1e9)
            )
        );
    }

    /// Text compares with the cell's text exactly; a column compared with text is never asked
    /// for a number, and one compared with both is.
    #[test]
    fn text_evaluation() {
        let cols = ["experiment", "params"];
        let lookup = |s: &str| cols.iter().position(|c| *c == s);
        let e = parse("experiment == 'llama_3' or (experiment != \"a\" and params < 5)")
            .unwrap()
            .resolve(&lookup)
            .unwrap();
        assert!(e.compares_number(1));
        assert!(!e.compares_number(0));
        let row = |x: &str, p: f64| {
            e.eval(&|i| if i == 1 { p } else { panic!("{i}") }, &|i, s| {
                assert_eq!(i, 0);
                x == s
            })
        };
        assert!(row("llama_3", 10.0));
        assert!(!row("Llama_3", 10.0), "case matters");
        assert!(!row("llama_3 ", 10.0), "no trimming at evaluation");
        assert!(row("b", 1.0));
        assert!(!row("a", 1.0));
        assert!(!row("b", 6.0));
        let only_text = parse("not experiment == 'x'")
            .unwrap()
            .resolve(&lookup)
            .unwrap();
        assert!(!only_text.compares_number(0));
        assert!(only_text.eval(&|_| panic!("no number is read"), &|_, s| s == "y"));
    }

    /// A hostile filter is an error with a caret, not a stack overflow.
    #[test]
    fn depth_and_length_are_bounded() {
        let deep = format!("{}x>1{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = err(&deep);
        assert!(
            e.contains("nested deeper than 200"),
            "{}",
            &e[..200.min(e.len())]
        );
        // The caret under the 201st parenthesis, in a window of the expression (not 20,000
        // characters of it): '…' and the 40 characters before it.
        assert!(e.len() < 300, "{e}");
        assert_eq!(caret(&e), 41, "{e}");
        assert!(e.contains(&format!("\n  …{}…\n", "(".repeat(80))), "{e}");
        let nots = format!("{}x>1", "not ".repeat(30_000));
        assert!(err(&nots).contains("nested deeper than 200"));
        let ok = format!("{}x>1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&ok).is_ok());
        let long = vec!["x>1"; 10_001].join(" and ");
        assert!(err(&long).contains("more than 10000 comparisons"));
        assert!(parse(&vec!["x>1"; 10_000].join(" or ")).is_ok());
    }

    #[test]
    fn caret_counts_characters_not_bytes() {
        let m = err("\"µ size\" = 1");
        assert_eq!(caret(&m), 9, "{m}");
    }

    #[test]
    fn flag_name_in_message() {
        match parse_for("a <", "--train") {
            Err(Error::Usage(m)) => assert!(m.starts_with("bad --train expression"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}

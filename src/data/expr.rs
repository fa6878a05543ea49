//! Row filters: the small boolean language of `--where`, `--train` and `--test`.
//!
//! Users select runs by comparing columns with numbers (`model_size<=1.3e9`), combined with
//! `and`/`or`/`not` and parentheses. A tiny hand-written recursive-descent parser keeps the
//! grammar exact and the errors precise: every parse error is a [`Error::Usage`] that reprints
//! the expression with a caret under the offending character, because a filter typed on a
//! command line is fixed faster when the mistake is pointed at than when it is described.
//!
//! ```text
//! expr   := and ("or" and)*
//! and    := unary ("and" unary)*
//! unary  := "not" unary | "(" expr ")" | COLUMN OP NUMBER
//! OP     := "<" | "<=" | ">" | ">=" | "==" | "!="
//! COLUMN := [A-Za-z_][A-Za-z0-9_.]*  |  `any text`  |  "any text"
//! NUMBER := anything Rust parses as a finite f64 (1.3e9, 680e6, -2, .5)
//! ```
//!
//! Parsing yields names; [`Expr::resolve`] then binds them to column indices of a concrete table
//! (an unknown name is an error listing the table's columns), so evaluation is a plain tree walk
//! over one row's numbers. `==` compares exactly: tables write floats exactly (`680000000.0`
//! equals `680e6`).

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
        /// The number compared against.
        value: f64,
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
                value: *value,
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
    /// Evaluate on one row; `value(i)` is the number in column `i`.
    pub fn eval(&self, value: &impl Fn(usize) -> f64) -> bool {
        match self {
            Expr::Cmp {
                column,
                op,
                value: v,
            } => op.apply(value(*column), *v),
            Expr::And(a, b) => a.eval(value) && b.eval(value),
            Expr::Or(a, b) => a.eval(value) || b.eval(value),
            Expr::Not(a) => !a.eval(value),
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
    let mut p = Parser { tokens, pos: 0 };
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

fn render(src: &str, flag: &str, e: &ParseError) -> String {
    let mut out = format!(
        "bad {flag} expression: {}\n  {src}\n  {}^",
        e.msg,
        " ".repeat(e.at)
    );
    if let Some(note) = &e.note {
        out.push_str(&format!("\n  ({note})"));
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Ident(String),
    /// A quoted name; kept apart from `Ident` so that `"and"` is a column, not a keyword.
    Quoted(String),
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
            '`' | '"' => match chars[i + 1..].iter().position(|&q| q == c) {
                Some(len) => {
                    let name: String = chars[i + 1..i + 1 + len].iter().collect();
                    i += len + 2;
                    if name.is_empty() {
                        Kind::Bad("found an empty quoted column name".into())
                    } else {
                        Kind::Quoted(name)
                    }
                }
                None => {
                    i = chars.len();
                    Kind::Bad(format!(
                        "found an unterminated quoted column name (no closing {c})"
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
}

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

    fn unary(&mut self) -> PResult<Expr> {
        let t = self.next();
        match t.kind {
            Kind::Ident(ref s) if s.eq_ignore_ascii_case("not") => {
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Kind::Ident(ref s) if s.eq_ignore_ascii_case("and") || s.eq_ignore_ascii_case("or") => {
                Err(ParseError::new(
                    t.at,
                    format!("expected a column name, found '{s}'"),
                ))
            }
            Kind::LParen => {
                let inner = self.expr()?;
                let close = self.next();
                if close.kind != Kind::RParen {
                    return Err(Self::err(&close, "expected ')' or 'and'/'or'"));
                }
                Ok(inner)
            }
            Kind::Ident(name) | Kind::Quoted(name) => {
                let op_tok = self.next();
                let op = match op_tok.kind {
                    Kind::Op(op) => op,
                    _ => return Err(Self::err(&op_tok, "expected a comparison operator")),
                };
                let num_tok = self.next();
                let value = match num_tok.kind {
                    Kind::Number(v) => v,
                    _ => return Err(Self::err(&num_tok, "expected a number")),
                };
                Ok(Expr::Cmp {
                    column: name,
                    op,
                    value,
                })
            }
            _ => Err(Self::err(&t, "expected a column name, 'not' or '('")),
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
            value: v,
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
        let row = |n: f64, d: f64| e.eval(&|i| [n, d][i]);
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
            ("model_size < x", 13, "expected a number"),
            ("model_size <", 12, "expected a number, found the end"),
            ("a<1 and", 7, "found the end"),
            ("a<1 and or b<2", 8, "expected a column name, found 'or'"),
            ("(a<1", 4, "expected ')'"),
            ("a<1)", 3, "unmatched ')'"),
            ("a<1 b<2", 4, "expected 'and', 'or'"),
            (
                "a < 1.2.3",
                4,
                "expected a number\n  a < 1.2.3\n      ^\n  (found '1.2.3', which is not a number)",
            ),
            ("a < 3x", 4, "'3x', which is not"),
            (
                "a = 3",
                2,
                "expected a comparison operator\n  a = 3\n    ^\n  (found '='; write '=='",
            ),
            ("a ! 3", 2, "write '!='"),
            ("a < 1 @", 6, "unexpected character '@'"),
            ("\"Model Size >= 1", 0, "unterminated"),
            ("`` < 1", 0, "empty quoted column name"),
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

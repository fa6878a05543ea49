//! The formula language's text: tokens, a precedence-climbing parser and the syntax tree, every
//! node keeping the byte span it came from so that errors can point at the fault.
//!
//! Grammar (lowest precedence first; `^` binds tighter than unary minus and is right
//! associative, as in mathematics: `-x^2 = -(x^2)`, `2^-1 = 0.5`; `**` is accepted for `^`):
//!
//! ```text
//! expr    := term (("+" | "-") term)*
//! term    := unary (("*" | "/") unary)*
//! unary   := "-" unary | power
//! power   := primary (("^" | "**") unary)?
//! primary := number | name | name "[" "i" "]" | name "(" expr ("," expr)* ")" | "(" expr ")"
//! ```

use std::fmt;

/// A byte range of the formula's text.
pub type Span = std::ops::Range<usize>;

/// A formula error: what is wrong and where, shown as the text with a caret under the fault.
#[derive(Clone, Debug, PartialEq)]
pub struct FormulaError {
    /// What is wrong.
    pub message: String,
    /// The formula's text.
    pub text: String,
    /// Where in `text` (byte offsets).
    pub span: Span,
}

impl FormulaError {
    pub(super) fn new(text: &str, span: Span, message: impl Into<String>) -> Self {
        FormulaError {
            message: message.into(),
            text: text.to_string(),
            span,
        }
    }
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Carets count characters, not bytes (names may be Greek).
        let col = self.text[..self.span.start.min(self.text.len())]
            .chars()
            .count();
        let end = self.span.end.clamp(self.span.start, self.text.len());
        let width = self.text[self.span.start.min(end)..end]
            .chars()
            .count()
            .max(1);
        write!(
            f,
            "{}\n    {}\n    {}{}",
            self.message,
            self.text,
            " ".repeat(col),
            "^".repeat(width)
        )
    }
}

impl std::error::Error for FormulaError {}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

/// A syntax tree node with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ast {
    pub kind: AstKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AstKind {
    Num(f64),
    /// A name, indexed by the domain (`C[i]`) or not.
    Name {
        name: String,
        indexed: bool,
    },
    Neg(Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
    /// A function call; `name_span` is the function name's.
    Call {
        name: String,
        name_span: Span,
        args: Vec<Ast>,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(char),
    Pow,
    End,
}

struct Lexer<'a> {
    text: &'a str,
    toks: Vec<(Tok, Span)>,
}

impl<'a> Lexer<'a> {
    fn run(text: &'a str) -> Result<Vec<(Tok, Span)>, FormulaError> {
        let mut lx = Lexer {
            text,
            toks: Vec::new(),
        };
        let b = text.as_bytes();
        let mut i = 0;
        while i < text.len() {
            let c = text[i..].chars().next().expect("in bounds");
            let start = i;
            if c.is_whitespace() {
                i += c.len_utf8();
            } else if c.is_ascii_digit()
                || (c == '.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
            {
                i = lx.number(i)?;
            } else if c.is_alphabetic() || c == '_' {
                while let Some(c) = text[i..].chars().next() {
                    if c.is_alphanumeric() || c == '_' {
                        i += c.len_utf8();
                    } else {
                        break;
                    }
                }
                lx.toks
                    .push((Tok::Name(text[start..i].to_string()), start..i));
            } else if c == '*' && b.get(i + 1) == Some(&b'*') {
                lx.toks.push((Tok::Pow, i..i + 2));
                i += 2;
            } else if "+-*/^()[],".contains(c) {
                let tok = if c == '^' { Tok::Pow } else { Tok::Op(c) };
                lx.toks.push((tok, i..i + 1));
                i += 1;
            } else {
                return Err(FormulaError::new(
                    text,
                    i..i + c.len_utf8(),
                    format!("unexpected character '{c}'"),
                ));
            }
        }
        lx.toks.push((Tok::End, text.len()..text.len()));
        Ok(lx.toks)
    }

    /// A number starting at `i` (digits, a fraction, an exponent); returns the end.
    fn number(&mut self, start: usize) -> Result<usize, FormulaError> {
        let b = self.text.as_bytes();
        let mut i = start;
        let digits = |i: &mut usize| {
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
        };
        digits(&mut i);
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if b.get(j).is_some_and(u8::is_ascii_digit) {
                i = j;
                digits(&mut i);
            }
        }
        let s = &self.text[start..i];
        let v: f64 = s.parse().map_err(|_| {
            FormulaError::new(self.text, start..i, format!("'{s}' is not a number"))
        })?;
        // A literal beyond a double's range reads as infinity, which would fail only when fitted.
        if !v.is_finite() {
            return Err(FormulaError::new(
                self.text,
                start..i,
                format!("'{s}' is beyond the range of a double (about 1.8e308)"),
            ));
        }
        self.toks.push((Tok::Num(v), start..i));
        Ok(i)
    }
}

/// Parses `text` into a syntax tree.
pub fn parse(text: &str) -> Result<Ast, FormulaError> {
    let toks = Lexer::run(text)?;
    let mut p = Parser { text, toks, at: 0 };
    if matches!(p.peek(), Tok::End) {
        return Err(FormulaError::new(text, 0..0, "the formula is empty"));
    }
    let e = p.expr(0)?;
    match p.peek() {
        Tok::End => Ok(e),
        _ => Err(p.error("expected an operator or the end of the formula")),
    }
}

/// Nesting deeper than this is refused (a recursive-descent parser would otherwise exhaust the
/// stack on hostile input). A sum or product is parsed by a loop but builds a tree as deep as
/// it has terms, which every later pass (and the tree's drop) walks recursively: each term after
/// the first counts as a level too (`E+E+…+E` of 30,000 terms overflowed the stack).
const MAX_DEPTH: usize = 200;

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, Span)>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }
    fn span(&self) -> Span {
        self.toks[self.at].1.clone()
    }
    fn bump(&mut self) -> (Tok, Span) {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }
    fn error(&self, msg: &str) -> FormulaError {
        let what = match self.peek() {
            Tok::End => "the end of the formula".to_string(),
            _ => format!("'{}'", &self.text[self.span()]),
        };
        FormulaError::new(self.text, self.span(), format!("{msg}, found {what}"))
    }
    fn expect(&mut self, c: char) -> Result<Span, FormulaError> {
        if *self.peek() == Tok::Op(c) {
            Ok(self.bump().1)
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }
    fn deeper(&self, depth: usize) -> Result<usize, FormulaError> {
        if depth >= MAX_DEPTH {
            Err(FormulaError::new(
                self.text,
                self.span(),
                format!(
                    "the formula nests deeper than {MAX_DEPTH} levels (each term of a sum or \
                     product after the first counts as one)"
                ),
            ))
        } else {
            Ok(depth + 1)
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Ast, FormulaError> {
        let mut depth = self.deeper(depth)?;
        let mut a = self.term(depth)?;
        loop {
            let op = match self.peek() {
                Tok::Op('+') => BinOp::Add,
                Tok::Op('-') => BinOp::Sub,
                _ => return Ok(a),
            };
            self.bump();
            depth = self.deeper(depth)?;
            let b = self.term(depth)?;
            a = binary(op, a, b);
        }
    }

    fn term(&mut self, mut depth: usize) -> Result<Ast, FormulaError> {
        let mut a = self.unary(depth)?;
        loop {
            let op = match self.peek() {
                Tok::Op('*') => BinOp::Mul,
                Tok::Op('/') => BinOp::Div,
                _ => return Ok(a),
            };
            self.bump();
            depth = self.deeper(depth)?;
            let b = self.unary(depth)?;
            a = binary(op, a, b);
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Ast, FormulaError> {
        let depth = self.deeper(depth)?;
        if *self.peek() == Tok::Op('-') {
            let start = self.bump().1.start;
            let e = self.unary(depth)?;
            let span = start..e.span.end;
            return Ok(Ast {
                kind: AstKind::Neg(Box::new(e)),
                span,
            });
        }
        let base = self.primary(depth)?;
        if *self.peek() == Tok::Pow {
            self.bump();
            let exponent = self.unary(depth)?;
            return Ok(binary(BinOp::Pow, base, exponent));
        }
        Ok(base)
    }

    fn primary(&mut self, depth: usize) -> Result<Ast, FormulaError> {
        let (tok, span) = (self.peek().clone(), self.span());
        match tok {
            Tok::Num(v) => {
                self.bump();
                Ok(Ast {
                    kind: AstKind::Num(v),
                    span,
                })
            }
            Tok::Op('(') => {
                self.bump();
                let e = self.expr(depth)?;
                let end = self.expect(')')?.end;
                Ok(Ast {
                    kind: e.kind,
                    span: span.start..end,
                })
            }
            Tok::Name(name) => {
                self.bump();
                match self.peek() {
                    Tok::Op('(') => {
                        self.bump();
                        let mut args = vec![self.expr(depth)?];
                        while *self.peek() == Tok::Op(',') {
                            self.bump();
                            args.push(self.expr(depth)?);
                        }
                        let end = self.expect(')')?.end;
                        Ok(Ast {
                            kind: AstKind::Call {
                                name,
                                name_span: span.clone(),
                                args,
                            },
                            span: span.start..end,
                        })
                    }
                    Tok::Op('[') => {
                        self.bump();
                        match self.peek() {
                            Tok::Name(i) if i == "i" => {
                                self.bump();
                            }
                            _ => {
                                return Err(
                                    self.error("a per-domain name is indexed by the domain, [i]")
                                )
                            }
                        }
                        let end = self.expect(']')?.end;
                        Ok(Ast {
                            kind: AstKind::Name {
                                name,
                                indexed: true,
                            },
                            span: span.start..end,
                        })
                    }
                    _ => Ok(Ast {
                        kind: AstKind::Name {
                            name,
                            indexed: false,
                        },
                        span,
                    }),
                }
            }
            _ => Err(self.error("expected a number, a name or '('")),
        }
    }
}

fn binary(op: BinOp, a: Ast, b: Ast) -> Ast {
    let span = a.span.start..b.span.end;
    Ast {
        kind: AstKind::Binary(op, Box::new(a), Box::new(b)),
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(a: &Ast) -> String {
        match &a.kind {
            AstKind::Num(v) => format!("{v}"),
            AstKind::Name { name, indexed } => {
                format!("{name}{}", if *indexed { "[i]" } else { "" })
            }
            AstKind::Neg(e) => format!("(-{})", show(e)),
            AstKind::Binary(op, a, b) => {
                let o = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    BinOp::Div => "/",
                    BinOp::Pow => "^",
                };
                format!("({} {o} {})", show(a), show(b))
            }
            AstKind::Call { name, args, .. } => {
                let args: Vec<String> = args.iter().map(show).collect();
                format!("{name}({})", args.join(", "))
            }
        }
    }

    #[test]
    fn precedence_and_associativity() {
        let cases = [
            (
                "E + A/N^alpha + B/D^beta",
                "((E + (A / (N ^ alpha))) + (B / (D ^ beta)))",
            ),
            ("-x^2", "(-(x ^ 2))"),
            ("2^-1", "(2 ^ (-1))"),
            ("a^b^c", "(a ^ (b ^ c))"),
            ("a**b", "(a ^ b)"),
            ("a - b - c", "((a - b) - c)"),
            ("a / b * c", "((a / b) * c)"),
            (
                "1/sum_i(C[i] * h[i]^γ[i])",
                "(1 / sum_i((C[i] * (h[i] ^ γ[i]))))",
            ),
            ("max(a, 1.5e-3)", "max(a, 0.0015)"),
            (".5 + 3E2", "(0.5 + 300)"),
        ];
        for (text, want) in cases {
            assert_eq!(show(&parse(text).unwrap()), want, "{text}");
        }
    }

    #[test]
    fn errors_point_at_the_fault() {
        let cases = [
            ("E + (A", 6..6, "expected ')', found the end of the formula"),
            (
                "E + * A",
                4..5,
                "expected a number, a name or '(', found '*'",
            ),
            ("E $ A", 2..3, "unexpected character '$'"),
            ("C[j]", 2..3, "indexed by the domain, [i]"),
            ("E A", 2..3, "expected an operator or the end"),
            ("", 0..0, "empty"),
        ];
        for (text, span, msg) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.span, span, "{text}: {e}");
            assert!(e.message.contains(msg), "{text}: {e}");
        }
        let shown = parse("E + * A").unwrap_err().to_string();
        assert!(shown.ends_with("    E + * A\n        ^"), "{shown}");
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let text = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("deeper than"), "{}", e.message);
        let text = format!("{}1", "-".repeat(100_000));
        assert!(parse(&text).is_err());
        // Long sums and products: trees as deep as they have terms.
        for op in ["+", "*", "/", "-"] {
            let text = vec!["E"; 30_000].join(op);
            let e = parse(&text).unwrap_err();
            assert!(e.message.contains("deeper than"), "{}", e.message);
        }
        assert!(parse(&vec!["E"; 100].join("+")).is_ok());
    }
}

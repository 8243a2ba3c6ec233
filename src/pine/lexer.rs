//! Hand-written Pine Script lexer. It turns source text into tokens with byte spans and 1-based
//! line/column positions, resolves Pine's layout rules (4-space or tab indentation, continuation
//! lines indented by a non-multiple of 4, free wrapping inside brackets in v6) into `Newline`
//! tokens that carry the block level of the next logical line, and collects comments separately.

use super::{Diagnostic, TokenClass, builtins};
use std::ops::Range;

/// Kind of a lexical token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokKind {
    /// Identifier (including contextual keywords such as `type`, `method`, `series`).
    Ident,
    /// Integer or floating-point literal.
    Number,
    /// Single- or double-quoted string literal.
    Str,
    /// `#RRGGBB` or `#RRGGBBAA` colour literal.
    Color,
    /// `if`
    If,
    /// `else`
    Else,
    /// `for`
    For,
    /// `while`
    While,
    /// `switch`
    Switch,
    /// `var`
    Var,
    /// `varip`
    Varip,
    /// `and`
    And,
    /// `or`
    Or,
    /// `not`
    Not,
    /// `true`
    True,
    /// `false`
    False,
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `?`
    Question,
    /// `:`
    Colon,
    /// `=>`
    Arrow,
    /// `=`
    Assign,
    /// `:=`
    Reassign,
    /// `+=`
    PlusEq,
    /// `-=`
    MinusEq,
    /// `*=`
    StarEq,
    /// `/=`
    SlashEq,
    /// `%=`
    PercentEq,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// Start of a logical line; `level` holds its block depth.
    Newline,
    /// End of input.
    Eof,
}

/// One token: kind, byte span, 1-based position and (for `Newline`) the block level that follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: TokKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub col: usize,
    /// Block level of the logical line this `Newline` starts (0 for other tokens).
    pub level: usize,
}

/// A comment (`// …` to end of line) with its byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comment {
    /// Byte range of the comment, including the `//`.
    pub span: (usize, usize),
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// Output of [`lex`]: tokens (ending with `Eof`), comments, lexical errors and the script version.
#[derive(Debug, Clone)]
pub struct Lexed<'a> {
    /// The source text the spans refer to.
    pub src: &'a str,
    /// Tokens; every logical line starts with a `Newline`, the last token is `Eof`.
    pub tokens: Vec<Token>,
    /// All comments, in order.
    pub comments: Vec<Comment>,
    /// Lexical errors (bad characters, unterminated strings, bad colour literals).
    pub diags: Vec<Diagnostic>,
    /// Version from `//@version=N`, if present.
    pub version: Option<u32>,
    /// Position (line, col) of the `//@version` annotation, if present.
    pub version_pos: Option<(usize, usize)>,
}

impl Lexed<'_> {
    /// Source text of a token.
    pub fn text(&self, t: &Token) -> &str {
        self.src.get(t.start..t.end).unwrap_or("")
    }
}

/// Finds `//@version=N` and returns the number with its 1-based line and column.
pub fn find_version(src: &str) -> Option<(u32, usize, usize)> {
    for (i, line) in src.lines().enumerate() {
        let trimmed = line.trim_start_matches('\u{feff}').trim_start();
        if let Some(rest) = trimmed.strip_prefix("//@version=") {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let col = line.chars().count() - trimmed.chars().count() + 1;
            return digits.parse().ok().map(|v| (v, i + 1, col));
        }
    }
    None
}

/// Reserved word for an identifier text, if it is one.
fn keyword(text: &str) -> Option<TokKind> {
    Some(match text {
        "if" => TokKind::If,
        "else" => TokKind::Else,
        "for" => TokKind::For,
        "while" => TokKind::While,
        "switch" => TokKind::Switch,
        "var" => TokKind::Var,
        "varip" => TokKind::Varip,
        "and" => TokKind::And,
        "or" => TokKind::Or,
        "not" => TokKind::Not,
        "true" => TokKind::True,
        "false" => TokKind::False,
        "break" => TokKind::Break,
        "continue" => TokKind::Continue,
        _ => return None,
    })
}

struct Cursor<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    col: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        match self.bytes.get(self.pos) {
            Some(&b) if b.is_ascii() => Some(char::from(b)),
            Some(_) => self.src.get(self.pos..).and_then(|s| s.chars().next()),
            None => None,
        }
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().nth(n))
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn byte(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }
}

/// Lexes `src` into tokens, applying Pine's indentation and line-continuation rules.
pub fn lex(src: &str) -> Lexed<'_> {
    let version_info = find_version(src);
    let version = version_info.map(|v| v.0);
    let free_wrap = version.is_some_and(|v| v >= 6);
    // A UTF-8 byte-order mark is skipped; columns still count from the first visible character.
    let bom = if src.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut cur = Cursor { src, bytes: src.as_bytes(), pos: bom, line: 1, col: 1 };
    let mut tokens: Vec<Token> = Vec::new();
    let mut comments = Vec::new();
    let mut diags = Vec::new();
    let mut depth: usize = 0;
    let mut at_line_start = true;

    loop {
        if at_line_start {
            at_line_start = false;
            // Measure indentation.
            let mut width = 0usize;
            while let Some(b) = cur.byte() {
                match b {
                    b' ' => width += 1,
                    b'\t' => width += 4,
                    _ => break,
                }
                cur.bump();
            }
            if cur.byte() == Some(b'\r') && cur.bytes.get(cur.pos + 1) == Some(&b'\n') {
                cur.bump();
            }
            match cur.byte() {
                None => break,
                Some(b'\n') => {
                    cur.bump();
                    at_line_start = true;
                    continue;
                }
                Some(b'/') if cur.bytes.get(cur.pos + 1) == Some(&b'/') => {
                    lex_comment(&mut cur, &mut comments);
                    continue;
                }
                _ => {}
            }
            let continuation = !tokens.is_empty() && (!width.is_multiple_of(4) || (depth > 0 && free_wrap));
            if !continuation {
                tokens.push(Token {
                    kind: TokKind::Newline,
                    start: cur.pos,
                    end: cur.pos,
                    line: cur.line,
                    col: cur.col,
                    level: width / 4 + usize::from(!width.is_multiple_of(4)),
                });
                if depth > 0 && !free_wrap {
                    // The parser reports the unclosed bracket; reset so later lines lex normally.
                    depth = 0;
                }
            }
            continue;
        }
        let Some(c) = cur.peek() else { break };
        let start = cur.pos;
        let (line, col) = (cur.line, cur.col);
        let push = |kind: TokKind, end: usize, tokens: &mut Vec<Token>| {
            tokens.push(Token { kind, start, end, line, col, level: 0 });
        };
        match c {
            '\n' => {
                cur.bump();
                at_line_start = true;
            }
            ' ' | '\t' | '\r' => {
                cur.bump();
            }
            '/' if cur.peek_at(1) == Some('/') => lex_comment(&mut cur, &mut comments),
            '"' | '\'' => {
                cur.bump();
                let mut closed = false;
                while let Some(ch) = cur.peek() {
                    if ch == '\n' {
                        break;
                    }
                    cur.bump();
                    if ch == '\\' {
                        if cur.peek().is_some_and(|n| n != '\n') {
                            cur.bump();
                        }
                    } else if ch == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    diags.push(Diagnostic::error(line, col, "unterminated string literal"));
                }
                push(TokKind::Str, cur.pos, &mut tokens);
            }
            '#' => {
                cur.bump();
                let mut n = 0;
                while cur.peek().is_some_and(|ch| ch.is_ascii_alphanumeric()) {
                    if cur.peek().is_some_and(|ch| !ch.is_ascii_hexdigit()) {
                        n = usize::MAX / 2;
                    }
                    cur.bump();
                    n += 1;
                }
                if n != 6 && n != 8 {
                    let text = src.get(start..cur.pos).unwrap_or("#");
                    diags.push(Diagnostic::error(
                        line,
                        col,
                        format!("invalid colour literal `{text}`: expected `#RRGGBB` or `#RRGGBBAA`"),
                    ));
                }
                push(TokKind::Color, cur.pos, &mut tokens);
            }
            c if c.is_ascii_digit() || (c == '.' && cur.peek_at(1).is_some_and(|d| d.is_ascii_digit())) => {
                while cur.peek().is_some_and(|d| d.is_ascii_digit()) {
                    cur.bump();
                }
                if cur.peek() == Some('.') && !cur.peek_at(1).is_some_and(|d| d.is_alphabetic() || d == '_') {
                    cur.bump();
                    while cur.peek().is_some_and(|d| d.is_ascii_digit()) {
                        cur.bump();
                    }
                }
                if matches!(cur.peek(), Some('e' | 'E')) {
                    let sign = matches!(cur.peek_at(1), Some('+' | '-'));
                    let digit_at = if sign { 2 } else { 1 };
                    if cur.peek_at(digit_at).is_some_and(|d| d.is_ascii_digit()) {
                        for _ in 0..digit_at {
                            cur.bump();
                        }
                        while cur.peek().is_some_and(|d| d.is_ascii_digit()) {
                            cur.bump();
                        }
                    }
                }
                push(TokKind::Number, cur.pos, &mut tokens);
            }
            c if c.is_alphabetic() || c == '_' => {
                while cur.peek().is_some_and(|d| d.is_alphanumeric() || d == '_') {
                    cur.bump();
                }
                let text = src.get(start..cur.pos).unwrap_or("");
                push(keyword(text).unwrap_or(TokKind::Ident), cur.pos, &mut tokens);
            }
            _ => {
                let two = [Some(c), cur.peek_at(1)];
                let (kind, len) = match two {
                    [Some('='), Some('>')] => (TokKind::Arrow, 2),
                    [Some('='), Some('=')] => (TokKind::EqEq, 2),
                    [Some(':'), Some('=')] => (TokKind::Reassign, 2),
                    [Some('!'), Some('=')] => (TokKind::NotEq, 2),
                    [Some('<'), Some('=')] => (TokKind::Le, 2),
                    [Some('>'), Some('=')] => (TokKind::Ge, 2),
                    [Some('+'), Some('=')] => (TokKind::PlusEq, 2),
                    [Some('-'), Some('=')] => (TokKind::MinusEq, 2),
                    [Some('*'), Some('=')] => (TokKind::StarEq, 2),
                    [Some('/'), Some('=')] => (TokKind::SlashEq, 2),
                    [Some('%'), Some('=')] => (TokKind::PercentEq, 2),
                    [Some('='), _] => (TokKind::Assign, 1),
                    [Some('('), _] => (TokKind::LParen, 1),
                    [Some(')'), _] => (TokKind::RParen, 1),
                    [Some('['), _] => (TokKind::LBracket, 1),
                    [Some(']'), _] => (TokKind::RBracket, 1),
                    [Some(','), _] => (TokKind::Comma, 1),
                    [Some('.'), _] => (TokKind::Dot, 1),
                    [Some('?'), _] => (TokKind::Question, 1),
                    [Some(':'), _] => (TokKind::Colon, 1),
                    [Some('+'), _] => (TokKind::Plus, 1),
                    [Some('-'), _] => (TokKind::Minus, 1),
                    [Some('*'), _] => (TokKind::Star, 1),
                    [Some('/'), _] => (TokKind::Slash, 1),
                    [Some('%'), _] => (TokKind::Percent, 1),
                    [Some('<'), _] => (TokKind::Lt, 1),
                    [Some('>'), _] => (TokKind::Gt, 1),
                    _ => {
                        cur.bump();
                        diags.push(Diagnostic::error(line, col, format!("unexpected character `{c}`")));
                        continue;
                    }
                };
                for _ in 0..len {
                    cur.bump();
                }
                match kind {
                    TokKind::LParen | TokKind::LBracket => depth += 1,
                    TokKind::RParen | TokKind::RBracket => depth = depth.saturating_sub(1),
                    _ => {}
                }
                push(kind, cur.pos, &mut tokens);
            }
        }
    }
    tokens.push(Token { kind: TokKind::Eof, start: src.len(), end: src.len(), line: cur.line, col: cur.col, level: 0 });
    Lexed { src, tokens, comments, diags, version, version_pos: version_info.map(|(_, l, c)| (l, c)) }
}

fn lex_comment(cur: &mut Cursor<'_>, comments: &mut Vec<Comment>) {
    let (start, line, col) = (cur.pos, cur.line, cur.col);
    while cur.byte().is_some_and(|b| b != b'\n') {
        cur.bump();
    }
    let mut end = cur.pos;
    if end > start && cur.bytes.get(end - 1) == Some(&b'\r') {
        end -= 1;
    }
    comments.push(Comment { span: (start, end), line, col });
}

/// Words shown as keywords by the highlighter (reserved words plus contextual ones and type names).
const HIGHLIGHT_KEYWORDS: &[&str] = &[
    "type", "method", "enum", "import", "export", "as", "to", "by", "in", "series", "simple", "const", "int", "float",
    "bool", "string", "void",
];

/// Classifies tokens and comments for syntax colouring.
pub fn highlight(src: &str) -> Vec<(Range<usize>, TokenClass)> {
    let lexed = lex(src);
    let toks: Vec<&Token> =
        lexed.tokens.iter().filter(|t| !matches!(t.kind, TokKind::Newline | TokKind::Eof)).collect();
    let mut out: Vec<(Range<usize>, TokenClass)> = Vec::with_capacity(toks.len() + lexed.comments.len());
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        let class = match t.kind {
            TokKind::Ident => {
                let text = lexed.text(t);
                let after_dot = i > 0 && toks[i - 1].kind == TokKind::Dot;
                if !after_dot && (builtins::is_namespace(text) || builtins::is_plain_builtin(text)) {
                    // Merge `ns.member.member` into one builtin range.
                    let mut end = t.end;
                    let mut j = i;
                    while let (Some(dot), Some(next)) = (toks.get(j + 1), toks.get(j + 2)) {
                        if dot.kind != TokKind::Dot || dot.start != end || next.kind != TokKind::Ident {
                            break;
                        }
                        end = next.end;
                        j += 2;
                    }
                    let class = if HIGHLIGHT_KEYWORDS.contains(&text) && j == i {
                        TokenClass::Keyword
                    } else {
                        TokenClass::Builtin
                    };
                    out.push((t.start..end, class));
                    i = j + 1;
                    continue;
                }
                if HIGHLIGHT_KEYWORDS.contains(&text) { TokenClass::Keyword } else { TokenClass::Ident }
            }
            TokKind::Number => TokenClass::Number,
            TokKind::Str => TokenClass::String,
            TokKind::Color => TokenClass::Color,
            TokKind::If
            | TokKind::Else
            | TokKind::For
            | TokKind::While
            | TokKind::Switch
            | TokKind::Var
            | TokKind::Varip
            | TokKind::True
            | TokKind::False
            | TokKind::Break
            | TokKind::Continue => TokenClass::Keyword,
            TokKind::LParen
            | TokKind::RParen
            | TokKind::LBracket
            | TokKind::RBracket
            | TokKind::Comma
            | TokKind::Dot => TokenClass::Punct,
            _ => TokenClass::Operator,
        };
        out.push((t.start..t.end, class));
        i += 1;
    }
    for c in &lexed.comments {
        out.push((c.span.0..c.span.1, TokenClass::Comment));
    }
    out.sort_by_key(|(r, _)| r.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokKind> {
        lex(src).tokens.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn continuation_and_blocks() {
        use TokKind::*;
        let k = kinds("a = 1 +\n     2\nif a\n    b = 1\n");
        assert_eq!(
            k,
            vec![Newline, Ident, Assign, Number, Plus, Number, Newline, If, Ident, Newline, Ident, Assign, Number, Eof]
        );
        let l = lex("if a\n\tb = 1\n");
        assert_eq!(l.tokens[3].level, 1);
    }

    #[test]
    fn literals() {
        let l = lex("x = #FF0000\ny = #FF000080\ns = 'it\\'s'\nt = \"a\\\"b\"\nn = 1.5e-3 + .5");
        assert!(l.diags.is_empty(), "{:?}", l.diags);
        let bad = lex("x = #FF00\n");
        assert_eq!(bad.diags.len(), 1);
        assert_eq!((bad.diags[0].line, bad.diags[0].col), (1, 5));
        let unterminated = lex("x = \"abc\n");
        assert!(unterminated.diags[0].message.contains("unterminated"));
    }

    #[test]
    fn v6_free_wrap_inside_brackets() {
        let v6 = lex("//@version=6\nx = f(\n    a,\n    b\n)\n");
        assert_eq!(v6.tokens.iter().filter(|t| t.kind == TokKind::Newline).count(), 1);
        let v5 = lex("//@version=5\nx = f(\n    a)\n");
        assert_eq!(v5.tokens.iter().filter(|t| t.kind == TokKind::Newline).count(), 2);
    }

    #[test]
    fn highlight_classes() {
        let h = highlight("x = ta.sma(close, 10) // c\n");
        let classes: Vec<TokenClass> = h.iter().map(|(_, c)| *c).collect();
        assert_eq!(classes[0], TokenClass::Ident);
        assert_eq!(h[2], (4..10, TokenClass::Builtin));
        assert_eq!(classes.last(), Some(&TokenClass::Comment));
    }
}

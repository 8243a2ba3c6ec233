//! Pine Script v5: the generator that writes a strategy spec as a complete script ([`generate_pine`]), and the
//! v5/v6 validator: a hand-written lexer, a recursive-descent parser, a semantic checker
//! that knows the TradingView built-ins (`ta.*`, `strategy.*`, `math.*`, `input.*` and friends), an
//! automatic fixer for common generated-code mistakes, and a token classifier for syntax colouring.
//!
//! Entry points: [`check`] (diagnostics, empty = valid), [`parse`] (AST), [`fix`] (repair and
//! re-validate), [`highlight`] (byte ranges with a [`TokenClass`]) and [`format_diagnostics`].

pub mod ast;
pub mod builtins;
pub mod check;
mod codegen;
pub mod fix;
pub mod lexer;
pub mod parser;

use std::fmt;
use std::ops::Range;

pub use codegen::generate_pine;
pub use fix::{FixReport, fix};

/// How serious a [`Diagnostic`] is: errors make TradingView reject the script, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The script will not compile on TradingView.
    Error,
    /// Suspicious but accepted (old version annotation, missing version, …).
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem found in a script, with a 1-based line and a 1-based column counted in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {severity}: {message}")]
pub struct Diagnostic {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters (a tab counts as one).
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// Human-readable description of the problem.
    pub message: String,
}

impl Diagnostic {
    /// Builds an error diagnostic at `line:col`.
    pub fn error(line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic { line, col, severity: Severity::Error, message: message.into() }
    }

    /// Builds a warning diagnostic at `line:col`.
    pub fn warning(line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic { line, col, severity: Severity::Warning, message: message.into() }
    }

    /// True when this diagnostic is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Syntax-colouring class of a highlighted byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenClass {
    /// Language keyword or type name (`if`, `var`, `float`, …).
    Keyword,
    /// User identifier.
    Ident,
    /// Built-in name (`ta.sma`, `close`, `plot`, `color.red`, …).
    Builtin,
    /// Numeric literal.
    Number,
    /// String literal.
    String,
    /// Comment, including compiler annotations.
    Comment,
    /// Operator (`+`, `:=`, `and`, `=>`, …).
    Operator,
    /// `#RRGGBB[AA]` colour literal.
    Color,
    /// Brackets, commas and dots.
    Punct,
}

/// Lexes, parses and semantically checks `source`; an empty result means the script is valid.
pub fn check(source: &str) -> Vec<Diagnostic> {
    let lexed = lexer::lex(source);
    let mut diags = lexed.diags.clone();
    if diags.iter().any(Diagnostic::is_error) {
        diags.extend(check::version_diagnostics(&lexed));
        sort(&mut diags);
        return diags;
    }
    let (script, parse_diags) = parser::parse_tokens(&lexed);
    let parse_failed = !parse_diags.is_empty();
    diags.extend(parse_diags);
    diags.extend(check::version_diagnostics(&lexed));
    if !parse_failed {
        diags.extend(check::check_script(&script));
    }
    sort(&mut diags);
    diags
}

/// Parses `source` into an AST, or returns the lexer/parser errors.
pub fn parse(source: &str) -> Result<ast::Script, Vec<Diagnostic>> {
    let lexed = lexer::lex(source);
    let mut errs: Vec<Diagnostic> = lexed.diags.iter().filter(|d| d.is_error()).cloned().collect();
    if !errs.is_empty() {
        sort(&mut errs);
        return Err(errs);
    }
    let (script, mut parse_diags) = parser::parse_tokens(&lexed);
    if parse_diags.is_empty() {
        Ok(script)
    } else {
        sort(&mut parse_diags);
        Err(parse_diags)
    }
}

/// Diagnostics as the library stores them: a JSON array of `{line, col, severity, message}`.
pub fn diagnostics_json(diags: &[Diagnostic]) -> serde_json::Value {
    diags
        .iter()
        .map(|d| serde_json::json!({"line": d.line, "col": d.col, "severity": d.severity.to_string(), "message": d.message}))
        .collect()
}

/// Formats diagnostics as `path:line:col: severity: message`, one per line.
pub fn format_diagnostics(path: &str, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(path);
        out.push(':');
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out
}

/// Classifies the tokens and comments of `source` for syntax colouring (byte ranges, in order).
pub fn highlight(source: &str) -> Vec<(Range<usize>, TokenClass)> {
    lexer::highlight(source)
}

fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by_key(|d| (d.line, d.col, d.severity));
    diags.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODEGEN: &str = r#"//@version=5
strategy("SMA cross", overlay=true, initial_capital=100000, default_qty_type=strategy.fixed, default_qty_value=10000, commission_type=strategy.commission.percent, commission_value=0.0, slippage=0, pyramiding=0, process_orders_on_close=false)
fastLength = input.int(10, "fast length", minval=1)
slowLength = input.int(20, "slow length", minval=1)
fast = ta.sma(close, fastLength)
slow = ta.sma(close, slowLength)
[mMacd, mSignal, mHist] = ta.macd(close, 12, 26, 9)
[bbMiddle, bbUpper, bbLower] = ta.bb(close, 20, 2.0)
[plusDi, minusDi, adxValue] = ta.dmi(14, 14)
atrValue = ta.atr(14)
longEntry = ta.crossover(fast, slow)
longExit = ta.crossunder(fast, slow) or (close < close[1] and not (fast > slow))
if longExit and strategy.position_size > 0
    strategy.close("Long", comment="exit")
if longEntry and strategy.position_size <= 0
    strategy.entry("Long", strategy.long)
if strategy.position_size > 0
    strategy.exit("Long exit", from_entry="Long", loss=300, profit=450)
plot(fast, "fast", color=color.new(color.blue, 0))
"#;

    fn first_error(src: &str) -> (usize, usize, String) {
        check(src).into_iter().find(Diagnostic::is_error).map(|d| (d.line, d.col, d.message)).unwrap_or((
            0,
            0,
            String::new(),
        ))
    }

    fn with_header(body: &str) -> String {
        format!("//@version=5\nindicator(\"t\")\n{body}")
    }

    #[test]
    fn codegen_script_is_valid() {
        assert_eq!(check(CODEGEN), Vec::new());
        assert!(parse(CODEGEN).is_ok());
    }

    #[test]
    fn unknown_builtin_with_suggestion() {
        let (l, c, m) = first_error(&with_header("x = ta.smaa(close, 10)\n"));
        assert_eq!((l, c), (3, 5));
        assert_eq!(m, "unknown function `ta.smaa` (did you mean `ta.sma`?)");
    }

    #[test]
    fn wrong_arg_count() {
        let (l, c, m) = first_error(&with_header("x = ta.sma(close, 10, 3)\n"));
        assert_eq!((l, c, m.as_str()), (3, 23, "`ta.sma` takes 2 arguments, got 3"));
        let (_, _, m) = first_error(&with_header("x = ta.rsi(close)\n"));
        assert_eq!(m, "`ta.rsi` takes 2 arguments, got 1");
        let (_, _, m) = first_error(&with_header("plot(close, colour=color.red)\n"));
        assert!(m.contains("no parameter named `colour` (did you mean `color`?)"), "{m}");
    }

    #[test]
    fn undeclared_and_reassign() {
        let (l, c, m) = first_error(&with_header("fast = 1\nplot(fastt)\n"));
        assert_eq!((l, c), (4, 6));
        assert!(m.starts_with("undeclared identifier `fastt`"), "{m}");
        let (_, _, m) = first_error(&with_header("y := 1\n"));
        assert!(m.starts_with("undeclared identifier `y`"), "{m}");
        let (_, _, m) = first_error(&with_header("x = 1\nx = 2\n"));
        assert!(m.contains("already declared at 3:1"), "{m}");
    }

    #[test]
    fn declaration_count() {
        let (l, c, m) = first_error("//@version=5\nplot(close)\n");
        assert_eq!((l, c), (1, 1));
        assert!(m.starts_with("script has no `indicator()`"), "{m}");
        let (l, _, m) = first_error("//@version=5\nindicator(\"a\")\nstrategy(\"b\")\n");
        assert_eq!(l, 3);
        assert!(m.starts_with("more than one declaration statement"), "{m}");
    }

    #[test]
    fn when_argument_is_rejected() {
        let src = "//@version=5\nstrategy(\"s\")\nstrategy.entry(\"L\", strategy.long, when = close > open)\n";
        let (l, c, m) = first_error(src);
        assert_eq!((l, c), (3, 36));
        assert_eq!(m, "the `when` argument was removed; wrap the call in `if`");
    }

    #[test]
    fn version_warnings() {
        let d = check("indicator(\"x\")\nplot(close)\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].severity, Severity::Warning);
        let d = check("//@version=6\nindicator(\"x\")\nplot(close)\n");
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn method_calls_and_namespaces_not_flagged() {
        let src = with_header(
            "import a/b/1 as lib\nvar arr = array.new<float>()\narr.push(1)\nx = lib.foo(arr.get(0)).bar\nplot(arr.size())\n",
        );
        assert_eq!(check(&src), Vec::new());
    }

    #[test]
    fn enums_and_local_plot() {
        let (_, _, m) = first_error(&with_header("enum E\n    a\n    b\nx = E.c\n"));
        assert!(m.starts_with("enum `E` has no member `c`"), "{m}");
        let (_, _, m) = first_error(&with_header("if close > open\n    plot(close)\n"));
        assert!(m.contains("local scope"), "{m}");
    }

    #[test]
    fn v4_name_suggests_namespace() {
        let (_, _, m) = first_error(&with_header("x = sma(close, 10)\n"));
        assert_eq!(m, "unknown function `sma` (did you mean `ta.sma`?)");
    }

    #[test]
    fn display_and_format() {
        let d = Diagnostic::error(3, 7, "boom");
        assert_eq!(d.to_string(), "3:7: error: boom");
        assert_eq!(format_diagnostics("a.pine", &[d]), "a.pine:3:7: error: boom\n");
    }

    #[test]
    fn highlight_covers_classes() {
        let h = highlight(CODEGEN);
        assert!(h.iter().any(|(_, c)| *c == TokenClass::Keyword));
        assert!(h.iter().any(|(r, c)| *c == TokenClass::Builtin && &CODEGEN[r.clone()] == "ta.sma"));
        assert!(h.windows(2).all(|w| w[0].0.end <= w[1].0.start));
    }

    #[test]
    fn large_script_is_fast() {
        let body: String = CODEGEN.lines().skip(2).map(|l| format!("{l}\n")).collect();
        let mut src = String::from("//@version=5\nstrategy(\"big\")\n");
        let mut n = 0;
        while src.lines().count() < 2000 {
            // Rename declarations so every chunk is valid on its own.
            src.push_str(&format!("f{n}(x) =>\n    x * 2\n"));
            src.push_str(&format!("z{n} = f{n}(close) + ta.ema(close, 10)\n"));
            n += 1;
            if n % 50 == 0 {
                src.push_str(&format!("if true\n    v{n} = 1\n"));
            }
        }
        src.push_str(&body.replace("fast", "fastB"));
        let start = std::time::Instant::now();
        let d = check(&src);
        let elapsed = start.elapsed();
        assert!(d.iter().all(|d| !d.is_error()), "{:?}", d.first());
        // Generous bound for unoptimised test builds; release is far below 10 ms.
        assert!(elapsed.as_millis() < 500, "{elapsed:?}");
    }
}

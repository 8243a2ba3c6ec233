//! Automatic repair of common generated-code mistakes: v4 built-in names without a namespace
//! (`sma(` → `ta.sma(`, `study(` → `indicator(`, `input(…, type=input.integer)` → `input.int(…)`),
//! old or missing `//@version`, tabs and odd indentation, line breaks inside calls that are not
//! indented as continuations, and the removed `when=` argument of `strategy.*` calls (the call is
//! wrapped in an `if`). The result is re-validated with [`super::check`].

use super::ast::{Block, Expr, ExprKind, Stmt, StmtKind};
use super::lexer::{self, TokKind, Token};
use super::{Diagnostic, check, parser};

/// Result of [`fix`]: the repaired source, what was changed, and what is still wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixReport {
    /// The repaired script.
    pub source: String,
    /// Human-readable description of each repair, with line numbers.
    pub changes: Vec<String>,
    /// Diagnostics of the repaired script (empty = valid).
    pub remaining: Vec<Diagnostic>,
}

/// Repairs common mistakes in `source`, then re-validates the result.
pub fn fix(source: &str) -> FixReport {
    let mut changes = Vec::new();
    let mut src = source.replace("\r\n", "\n");
    src = fix_v4_names(&src, &mut changes);
    src = fix_version(&src, &mut changes);
    src = fix_layout(&src, &mut changes);
    src = fix_when(&src, &mut changes);
    if lexer::find_version(&src).is_none() {
        src.insert_str(0, "//@version=5\n");
        changes.push("line 1: added the missing `//@version=5` annotation".to_string());
    }
    let remaining = check(&src);
    FixReport { source: src, changes, remaining }
}

/// Applies non-overlapping `(start, end, replacement)` edits.
fn apply_edits(src: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = src.to_string();
    let mut limit = usize::MAX;
    for (start, end, text) in edits {
        if end > limit || start > end || end > out.len() || !out.is_char_boundary(start) || !out.is_char_boundary(end) {
            continue;
        }
        out.replace_range(start..end, &text);
        limit = start;
    }
    out
}

const V4_TA: &[&str] = &[
    "sma",
    "ema",
    "wma",
    "rma",
    "vwma",
    "swma",
    "hma",
    "alma",
    "linreg",
    "rsi",
    "macd",
    "bb",
    "bbw",
    "stoch",
    "atr",
    "dmi",
    "supertrend",
    "cci",
    "mfi",
    "mom",
    "roc",
    "change",
    "crossover",
    "crossunder",
    "cross",
    "highest",
    "lowest",
    "highestbars",
    "lowestbars",
    "pivothigh",
    "pivotlow",
    "stdev",
    "variance",
    "dev",
    "correlation",
    "median",
    "percentile_linear_interpolation",
    "percentile_nearest_rank",
    "percentrank",
    "valuewhen",
    "barssince",
    "cum",
    "falling",
    "rising",
    "sar",
    "kc",
    "kcw",
    "cmo",
    "cog",
    "wpr",
    "tsi",
    "vwap",
    "tr",
    "mode",
    "range",
];
const V4_MATH: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "round",
    "max",
    "min",
    "sqrt",
    "pow",
    "log",
    "log10",
    "exp",
    "sign",
    "sum",
    "avg",
    "random",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "todegrees",
    "toradians",
];
const V4_TA_VARS: &[&str] = &["tr", "obv", "accdist", "vwap", "iii", "nvi", "pvi", "pvt", "wad", "wvad"];

fn v4_input_type(x: &str) -> Option<&'static str> {
    Some(match x {
        "integer" => "int",
        "float" => "float",
        "bool" => "bool",
        "string" => "string",
        "source" => "source",
        "resolution" => "timeframe",
        "session" => "session",
        "symbol" => "symbol",
        "color" => "color",
        "time" => "time",
        "price" => "price",
        _ => return None,
    })
}

/// Names the script declares itself (variables and functions), which must not be renamed.
fn user_names<'a>(toks: &[Token], text: impl Fn(&Token) -> &'a str) -> Vec<&'a str> {
    let mut names = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.kind != TokKind::Ident {
            continue;
        }
        let prev = if i > 0 { toks.get(i - 1).map(|p| p.kind) } else { None };
        let next = toks.get(i + 1).map(|n| n.kind);
        let decl = matches!(next, Some(TokKind::Assign | TokKind::Reassign))
            && !matches!(prev, Some(TokKind::LParen | TokKind::Comma));
        let func = prev == Some(TokKind::Newline) && next == Some(TokKind::LParen) && {
            let mut depth = 0usize;
            let mut j = i + 1;
            let mut is_def = false;
            while let Some(t) = toks.get(j) {
                match t.kind {
                    TokKind::LParen => depth += 1,
                    TokKind::RParen => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            is_def = toks.get(j + 1).is_some_and(|a| a.kind == TokKind::Arrow);
                            break;
                        }
                    }
                    TokKind::Newline | TokKind::Eof => break,
                    _ => {}
                }
                j += 1;
            }
            is_def
        };
        if decl || func {
            names.push(text(t));
        }
    }
    names
}

fn fix_v4_names(src: &str, changes: &mut Vec<String>) -> String {
    let lexed = lexer::lex(src);
    let toks = &lexed.tokens;
    let text = |t: &Token| src.get(t.start..t.end).unwrap_or("");
    let declared = user_names(toks, text);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.kind != TokKind::Ident {
            continue;
        }
        let name = text(t);
        if declared.contains(&name) || (i > 0 && toks.get(i - 1).is_some_and(|p| p.kind == TokKind::Dot)) {
            continue;
        }
        let next = toks.get(i + 1).map(|n| n.kind);
        let called = next == Some(TokKind::LParen);
        let replacement = if called {
            if V4_TA.contains(&name) {
                Some(format!("ta.{name}"))
            } else if V4_MATH.contains(&name) {
                Some(format!("math.{name}"))
            } else {
                match name {
                    "study" => Some("indicator".to_string()),
                    "security" => Some("request.security".to_string()),
                    "tostring" | "tonumber" => Some(format!("str.{name}")),
                    "input" => input_type_edit(toks, i, src, &mut edits),
                    _ => None,
                }
            }
        } else if V4_TA_VARS.contains(&name) && next != Some(TokKind::Assign) {
            Some(format!("ta.{name}"))
        } else {
            None
        };
        if let Some(r) = replacement {
            changes.push(format!("line {}: `{name}` → `{r}`", t.line));
            edits.push((t.start, t.end, r));
        }
    }
    apply_edits(src, edits)
}

/// For `input(…, type=input.X)` at token `i`: schedules removal of the `type` argument and
/// returns the new function name.
fn input_type_edit(toks: &[Token], i: usize, src: &str, edits: &mut Vec<(usize, usize, String)>) -> Option<String> {
    let text = |t: &Token| src.get(t.start..t.end).unwrap_or("");
    let mut depth = 0usize;
    let mut j = i + 1;
    while let Some(t) = toks.get(j) {
        match t.kind {
            TokKind::LParen | TokKind::LBracket => depth += 1,
            TokKind::RParen | TokKind::RBracket => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return None;
                }
            }
            TokKind::Eof => return None,
            TokKind::Ident if depth == 1 && text(t) == "type" => {
                let assign = toks.get(j + 1)?;
                let ns = toks.get(j + 2)?;
                let dot = toks.get(j + 3)?;
                let x = toks.get(j + 4)?;
                if assign.kind != TokKind::Assign || text(ns) != "input" || dot.kind != TokKind::Dot {
                    return None;
                }
                let new = v4_input_type(text(x))?;
                let prev = toks.get(j - 1)?;
                let after = toks.get(j + 5)?;
                if prev.kind == TokKind::Comma {
                    edits.push((prev.start, x.end, String::new()));
                } else if after.kind == TokKind::Comma {
                    let end = toks.get(j + 6).map(|n| n.start).unwrap_or(after.end);
                    edits.push((t.start, end, String::new()));
                } else {
                    edits.push((t.start, x.end, String::new()));
                }
                return Some(format!("input.{new}"));
            }
            _ => {}
        }
        j += 1;
    }
    None
}

fn fix_version(src: &str, changes: &mut Vec<String>) -> String {
    let Some((v, line, _)) = lexer::find_version(src) else { return src.to_string() };
    if v >= 5 {
        return src.to_string();
    }
    changes.push(format!("line {line}: `//@version={v}` → `//@version=5`"));
    src.replacen(&format!("//@version={v}"), "//@version=5", 1)
}

/// Splits a line into code and trailing `//` comment, ignoring `//` inside strings.
fn split_comment(line: &str) -> (&str, &str) {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '/' if line.get(i + 1..i + 2) == Some("/") => {
                return (line.get(..i).unwrap_or(line), line.get(i..).unwrap_or(""));
            }
            _ => {}
        }
    }
    (line, "")
}

/// Net bracket depth change of a code fragment (strings skipped).
fn bracket_delta(code: &str) -> isize {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut d = 0isize;
    for c in code.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' => d += 1,
            ')' | ']' => d -= 1,
            _ => {}
        }
    }
    d
}

fn ends_with_operator(code: &str) -> bool {
    let t = code.trim_end();
    if t.ends_with("=>") {
        return false;
    }
    let last_word = t.rsplit(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("");
    if t.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
        return matches!(last_word, "and" | "or" | "not");
    }
    t.ends_with([',', '(', '[', '+', '-', '*', '/', '%', '?', ':', '=', '<', '>'])
}

fn starts_with_operator(code: &str) -> bool {
    let t = code.trim_start();
    if t.starts_with("=>") || t.starts_with("//") {
        return false;
    }
    t.starts_with("and ")
        || t.starts_with("or ")
        || t.starts_with([')', ']', '?', ':', '*', '/', '%', '<', '>', '=', '!', ','])
}

fn is_block_opener(code: &str) -> bool {
    let t = code.trim();
    let first = t.split_whitespace().next().unwrap_or("");
    if matches!(first, "if" | "else" | "for" | "while" | "switch") {
        return true;
    }
    if (first == "type" || first == "enum") && t.split_whitespace().count() == 2 {
        return true;
    }
    if first == "export" && matches!(t.split_whitespace().nth(1), Some("type" | "enum")) {
        return true;
    }
    t.ends_with("=>")
        || [" if ", " switch", " for ", " while "]
            .iter()
            .any(|k| t.contains(&format!("={k}")) || t.contains(&format!("= {}", k.trim_start())))
}

fn fix_layout(src: &str, changes: &mut Vec<String>) -> String {
    let free_wrap = lexer::find_version(src).is_some_and(|(v, _, _)| v >= 6);
    // Each source line maps to one entry; `true` marks a line that was joined onto an earlier one.
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut last_code: Option<usize> = None;
    let mut depth: isize = 0;
    let mut prev_op = false;
    let mut prev_opener = false;
    let mut stack: Vec<usize> = vec![0];
    let mut delta: isize = 0;
    let mut reindented: Vec<usize> = Vec::new();
    for (idx, line) in src.split('\n').enumerate() {
        let lineno = idx + 1;
        let mut width = 0usize;
        let mut has_tab = false;
        let mut content_start = line.len();
        for (i, c) in line.char_indices() {
            match c {
                ' ' => width += 1,
                '\t' => {
                    width += 4;
                    has_tab = true;
                }
                _ => {
                    content_start = i;
                    break;
                }
            }
        }
        let content = line.get(content_start..).unwrap_or("");
        if content.trim().is_empty() || content.starts_with("//") {
            out.push((line.to_string(), false));
            continue;
        }
        let (code, _) = split_comment(content);
        let sign_start = code.starts_with(['-', '+']) && !width.is_multiple_of(4);
        let signalled = prev_op || starts_with_operator(code) || sign_start;
        // Inside brackets a line counts as a continuation when it is indented like one or when the
        // text signals it; otherwise the bracket is genuinely unclosed and the line starts anew.
        let bracket_cont = depth > 0 && (signalled || !width.is_multiple_of(4) || free_wrap);
        let is_cont = last_code.is_some() && (bracket_cont || signalled);
        if is_cont {
            let new_width = width as isize + delta;
            let inside = depth > 0;
            let bad = new_width <= 0 || new_width % 4 == 0;
            if bad && !(inside && free_wrap) {
                if let Some(li) = last_code
                    && let Some((prev, _)) = out.get(li).cloned()
                {
                    let (pcode, pcomment) = split_comment(&prev);
                    let pcode = pcode.trim_end();
                    let sep = if pcode.ends_with(['(', '[']) || code.starts_with([')', ']', ',']) { "" } else { " " };
                    let mut joined = format!("{pcode}{sep}{}", code.trim_end());
                    if !pcomment.is_empty() {
                        joined.push(' ');
                        joined.push_str(pcomment);
                    }
                    if let Some(slot) = out.get_mut(li) {
                        slot.0 = joined;
                    }
                    changes.push(format!(
                        "line {lineno}: joined a line break {} onto line {}",
                        if inside { "inside brackets" } else { "in a wrapped expression" },
                        li + 1
                    ));
                }
                out.push((String::new(), true));
            } else if delta != 0 || has_tab {
                let w = new_width.max(1) as usize;
                out.push((format!("{}{}", " ".repeat(w), content), false));
                last_code = Some(out.len() - 1);
            } else {
                out.push((line.to_string(), false));
                last_code = Some(out.len() - 1);
            }
            depth = (depth + bracket_delta(code)).max(0);
            prev_op = ends_with_operator(code);
            continue;
        }
        // A statement line: map its indentation onto a block level.
        let top = stack.last().copied().unwrap_or(0);
        if width > top {
            if prev_opener {
                stack.push(width);
            }
        } else {
            while stack.len() > 1 && width < stack.last().copied().unwrap_or(0) {
                stack.pop();
            }
        }
        let level = stack.len() - 1;
        let new_width = level * 4;
        if new_width != width || has_tab {
            out.push((format!("{}{}", " ".repeat(new_width), content), false));
            reindented.push(lineno);
        } else {
            out.push((line.to_string(), false));
        }
        last_code = Some(out.len() - 1);
        delta = new_width as isize - width as isize;
        prev_opener = is_block_opener(code);
        depth = bracket_delta(code).max(0);
        prev_op = ends_with_operator(code);
    }
    if let Some(first) = reindented.first() {
        let n = reindented.len();
        changes.push(format!(
            "line {first}: normalised indentation to 4 spaces per block level ({n} line{})",
            if n == 1 { "" } else { "s" }
        ));
    }
    let kept: Vec<String> = out.into_iter().filter(|(_, joined)| !joined).map(|(l, _)| l).collect();
    kept.join("\n")
}

fn collect_when_calls<'s>(block: &'s Block, out: &mut Vec<&'s Stmt>) {
    for s in block {
        match &s.kind {
            StmtKind::Expr(e) => {
                if let ExprKind::Call { callee, args, .. } = &e.kind
                    && callee_is_strategy(callee)
                    && args.iter().any(|a| a.name.as_ref().is_some_and(|n| n.name == "when"))
                {
                    out.push(s);
                }
                collect_in_expr(e, out);
            }
            StmtKind::VarDecl { value, .. } | StmtKind::Assign { value, .. } | StmtKind::TupleDecl { value, .. } => {
                collect_in_expr(value, out)
            }
            StmtKind::FuncDef(fd) => collect_when_calls(&fd.body, out),
            _ => {}
        }
    }
}

fn collect_in_expr<'s>(e: &'s Expr, out: &mut Vec<&'s Stmt>) {
    match &e.kind {
        ExprKind::If { branches, otherwise } => {
            for (_, b) in branches {
                collect_when_calls(b, out);
            }
            if let Some(b) = otherwise {
                collect_when_calls(b, out);
            }
        }
        ExprKind::Switch { cases, .. } => {
            for (_, b) in cases {
                collect_when_calls(b, out);
            }
        }
        ExprKind::For { body, .. } | ExprKind::ForIn { body, .. } | ExprKind::While { body, .. } => {
            collect_when_calls(body, out)
        }
        _ => {}
    }
}

fn callee_is_strategy(callee: &Expr) -> bool {
    match &callee.kind {
        ExprKind::Member { object, .. } => {
            matches!(&object.kind, ExprKind::Ident(n) if n == "strategy") || callee_is_strategy(object)
        }
        _ => false,
    }
}

fn fix_when(src: &str, changes: &mut Vec<String>) -> String {
    let lexed = lexer::lex(src);
    let (script, _) = parser::parse_tokens(&lexed);
    let mut found = Vec::new();
    collect_when_calls(&script.stmts, &mut found);
    let mut edits = Vec::new();
    for s in found {
        let StmtKind::Expr(e) = &s.kind else { continue };
        let ExprKind::Call { args, .. } = &e.kind else { continue };
        let Some(k) = args.iter().position(|a| a.name.as_ref().is_some_and(|n| n.name == "when")) else { continue };
        let when = &args[k];
        let Some(name) = &when.name else { continue };
        let line_start = src.get(..s.pos.offset).and_then(|p| p.rfind('\n')).map(|i| i + 1).unwrap_or(0);
        let indent = src.get(line_start..s.pos.offset).unwrap_or("");
        if !indent.chars().all(|c| c == ' ' || c == '\t') {
            continue;
        }
        let cond = src.get(when.value.pos.offset..when.value.end).unwrap_or("").trim();
        let (rm_start, rm_end) = if k > 0 {
            (args[k - 1].value.end, when.value.end)
        } else if let Some(next) = args.get(1) {
            (name.pos.offset, next.name.as_ref().map(|n| n.pos.offset).unwrap_or(next.value.pos.offset))
        } else {
            (name.pos.offset, when.value.end)
        };
        let (Some(before), Some(after)) = (src.get(s.pos.offset..rm_start), src.get(rm_end..s.end)) else { continue };
        let call_text = format!("{before}{after}").replace('\n', "\n    ");
        let new = format!("if {cond}\n{indent}    {call_text}");
        changes.push(format!("line {}: moved `when = {cond}` into an enclosing `if` block", s.pos.line));
        edits.push((s.pos.offset, s.end, new));
    }
    apply_edits(src, edits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_v4_script() {
        let src = "//@version=4\nstudy(\"x\", overlay=true)\nlen = input(14, title=\"Len\", type=input.integer)\nf = sma(close, len)\nplot(max(f, 0))\n";
        let r = fix(src);
        assert!(r.remaining.is_empty(), "{:?}\n{}", r.remaining, r.source);
        assert!(r.source.contains("indicator(\"x\""));
        assert!(r.source.contains("input.int(14, title=\"Len\")"), "{}", r.source);
        assert!(r.source.contains("ta.sma(close, len)"));
        assert!(r.source.contains("math.max(f, 0)"));
        assert!(r.source.starts_with("//@version=5"));
    }

    #[test]
    fn fixes_when_and_line_breaks() {
        let src = "//@version=5\nstrategy(\"s\")\nc = close > open\nstrategy.entry(\"L\", strategy.long,\nwhen = c)\nplot(close,\n    color=color.red)\n";
        let r = fix(src);
        assert!(r.remaining.is_empty(), "{:?}\n{}", r.remaining, r.source);
        assert!(r.source.contains("if c\n    strategy.entry(\"L\", strategy.long)"), "{}", r.source);
        assert!(r.changes.len() >= 3, "{:?}", r.changes);
    }

    #[test]
    fn does_not_join_a_new_statement_onto_an_unclosed_bracket() {
        let src = "//@version=5\nindicator(\"x\")\nx = (close + open) * (high\nplot(x)\n";
        let r = fix(src);
        assert!(r.source.contains("\nplot(x)"), "{}", r.source);
        assert!(r.remaining.iter().any(Diagnostic::is_error));
    }

    #[test]
    fn normalises_indentation() {
        let src = "//@version=5\nindicator(\"x\")\nf(x) =>\n  y = x * 2\n  y\nif close > open\n\talert(\"up\")\n";
        let r = fix(src);
        assert!(r.remaining.is_empty(), "{:?}\n{}", r.remaining, r.source);
        assert!(r.source.contains("f(x) =>\n    y = x * 2\n    y\n"), "{}", r.source);
        assert!(r.source.contains("\n    alert(\"up\")"));
    }
}

//! Semantic checks that matter on TradingView: undeclared identifiers (with lexical scopes for
//! functions and `if`/`for`/`while`/`switch` blocks), unknown `ta.*`/`strategy.*`/`math.*`/`input.*`
//! members, wrong argument counts or names for built-ins and user functions, the removed `when`
//! argument, unknown types and enum members, and exactly one declaration statement.

use super::ast::*;
use super::builtins::{self, BuiltinFn};
use super::builtins::{FastMap, FastSet};
use super::lexer::Lexed;
use super::{Diagnostic, Severity};
use std::collections::HashSet;

/// Warnings about the `//@version=N` annotation (missing, older than 5, or unknown).
pub fn version_diagnostics(lexed: &Lexed<'_>) -> Vec<Diagnostic> {
    match (lexed.version, lexed.version_pos) {
        (None, _) => vec![Diagnostic::warning(
            1,
            1,
            "missing `//@version=5` annotation; TradingView compiles scripts without one as Pine v1",
        )],
        (Some(v), Some((line, col))) if v < 5 => vec![Diagnostic::warning(
            line,
            col,
            format!("this is a Pine v{v} script; only v5 and v6 are checked (run `aio pine fix` to upgrade it)"),
        )],
        (Some(v), Some((line, col))) if v > 6 => {
            vec![Diagnostic::warning(line, col, format!("unknown Pine version {v}; checking it as v6"))]
        }
        _ => Vec::new(),
    }
}

/// Runs all semantic checks on a parsed script.
pub fn check_script(script: &Script) -> Vec<Diagnostic> {
    let mut c = Checker::default();
    c.scopes.push(FastMap::default());
    for s in &script.stmts {
        if let StmtKind::FuncDef(fd) = &s.kind {
            c.later_funcs.entry(fd.name.name.clone()).or_insert(fd.name.pos);
        }
    }
    for s in &script.stmts {
        c.stmt(s, true);
    }
    match c.decls.as_slice() {
        [] => c.diags.push(Diagnostic::error(
            1,
            1,
            "script has no `indicator()`, `strategy()` or `library()` declaration",
        )),
        [first, second, ..] => c.diags.push(Diagnostic::error(
            second.line,
            second.col,
            format!("more than one declaration statement (the first is at {}:{})", first.line, first.col),
        )),
        [_] => {}
    }
    c.diags
}

/// Built-ins that TradingView only accepts at the top level of a script.
const GLOBAL_ONLY: &[&str] = &[
    "plot",
    "plotshape",
    "plotchar",
    "plotarrow",
    "plotcandle",
    "plotbar",
    "bgcolor",
    "barcolor",
    "fill",
    "hline",
    "indicator",
    "strategy",
    "library",
    "alertcondition",
];

/// After this many diagnostics, "did you mean" searches over all names are skipped to keep
/// error-heavy inputs fast.
const MAX_HINTS: usize = 50;

/// Hints for names that were renamed or removed when Pine moved from v4 to v5.
const V4_HINTS: &[(&str, &str)] = &[
    ("study", "renamed to `indicator` in v5"),
    ("iff", "removed in v5; use `cond ? a : b`"),
    ("input.integer", "did you mean `input.int`?"),
    ("input.resolution", "did you mean `input.timeframe`?"),
    ("heikinashi", "did you mean `ticker.heikinashi`?"),
    ("transp", "removed in v5; use `color.new(color, transp)`"),
];

fn v4_hint(name: &str) -> Option<String> {
    V4_HINTS.iter().find(|(n, _)| *n == name).map(|(_, h)| format!(" ({h})"))
}

#[derive(Debug, Clone)]
struct UserFn {
    params: Vec<String>,
    required: usize,
}

#[derive(Default)]
struct Checker {
    scopes: Vec<FastMap<String, Pos>>,
    funcs: FastMap<String, Vec<UserFn>>,
    later_funcs: FastMap<String, Pos>,
    types: FastSet<String>,
    enums: FastMap<String, Vec<String>>,
    libs: FastSet<String>,
    decls: Vec<Pos>,
    diags: Vec<Diagnostic>,
}

/// `a.b.c` as `["a", "b", "c"]` when the expression is a plain dotted name.
fn member_path(e: &Expr) -> Option<Vec<&str>> {
    match &e.kind {
        ExprKind::Ident(n) => Some(vec![n.as_str()]),
        ExprKind::Member { object, name } => {
            let mut p = member_path(object)?;
            p.push(name.name.as_str());
            Some(p)
        }
        _ => None,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn arity_text(required: usize, max: usize, variadic: bool) -> String {
    if variadic {
        format!("at least {required} argument{}", plural(required))
    } else if required == max {
        format!("{max} argument{}", plural(max))
    } else {
        format!("{required} to {max} arguments")
    }
}

fn did_you_mean(s: Option<&str>) -> String {
    s.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
}

impl Checker {
    fn error(&mut self, pos: Pos, msg: impl Into<String>) {
        self.diags.push(Diagnostic { line: pos.line, col: pos.col, severity: Severity::Error, message: msg.into() });
    }

    fn is_declared(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.contains_key(name))
    }

    fn declare(&mut self, id: &Ident) {
        if id.name == "_" {
            return;
        }
        let prev = self.scopes.last().and_then(|s| s.get(&id.name).copied());
        if let Some(p) = prev {
            self.error(
                id.pos,
                format!("`{}` is already declared at {}:{}; use `:=` to assign a new value", id.name, p.line, p.col),
            );
            return;
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(id.name.clone(), id.pos);
        }
    }

    fn with_scope(&mut self, f: impl FnOnce(&mut Self)) {
        self.scopes.push(FastMap::default());
        f(self);
        self.scopes.pop();
    }

    fn block(&mut self, stmts: &[Stmt]) {
        self.with_scope(|c| {
            for s in stmts {
                c.stmt(s, false);
            }
        });
    }

    fn visible_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
        v.extend(self.funcs.keys().cloned());
        v.extend(builtins::all_names().filter(|n| !n.contains('.')).map(str::to_string));
        v
    }

    fn check_type(&mut self, ty: &TypeRef) {
        let root = ty.name.split('.').next().unwrap_or("");
        let known = builtins::is_type_name(&ty.name)
            || self.types.contains(&ty.name)
            || self.enums.contains_key(&ty.name)
            || (ty.name.contains('.') && self.libs.contains(root));
        if !known {
            let mut candidates: Vec<&str> = builtins::TYPE_NAMES.to_vec();
            candidates.extend(self.types.iter().map(String::as_str));
            let hint = did_you_mean(builtins::suggest(&ty.name, candidates));
            self.error(ty.pos, format!("unknown type `{}`{hint}", ty.name));
        }
        for a in &ty.args {
            self.check_type(a);
        }
    }

    fn stmt(&mut self, s: &Stmt, top_level: bool) {
        match &s.kind {
            StmtKind::Expr(e) => {
                if top_level
                    && let ExprKind::Call { callee, .. } = &e.kind
                    && let ExprKind::Ident(n) = &callee.kind
                    && matches!(n.as_str(), "indicator" | "strategy" | "library" | "study")
                {
                    self.decls.push(e.pos);
                }
                self.expr(e);
            }
            StmtKind::VarDecl { ty, name, value, .. } => {
                self.expr(value);
                if let Some(ty) = ty {
                    self.check_type(ty);
                }
                self.declare(name);
            }
            StmtKind::TupleDecl { names, value } => {
                self.expr(value);
                for n in names {
                    self.declare(n);
                }
            }
            StmtKind::Assign { target, value, .. } => {
                self.expr(value);
                match &target.kind {
                    ExprKind::Ident(n) if !self.is_declared(n) => {
                        if builtins::is_plain_builtin(n) {
                            self.error(target.pos, format!("cannot assign to the built-in `{n}`"));
                        } else {
                            self.error(
                                target.pos,
                                format!("undeclared identifier `{n}` (`:=` reassigns an existing variable; declare it with `=` first)"),
                            );
                        }
                    }
                    _ => self.expr(target),
                }
            }
            StmtKind::FuncDef(fd) => self.func_def(fd),
            StmtKind::TypeDef { name, fields, .. } => {
                self.types.insert(name.name.clone());
                for fl in fields {
                    self.check_type(&fl.ty);
                    if let Some(d) = &fl.default {
                        self.expr(d);
                    }
                }
            }
            StmtKind::EnumDef { name, members, .. } => {
                for (_, title) in members {
                    if let Some(t) = title {
                        self.expr(t);
                    }
                }
                self.enums.insert(name.name.clone(), members.iter().map(|(m, _)| m.name.clone()).collect());
            }
            StmtKind::Import { alias, .. } => {
                self.libs.insert(alias.name.clone());
            }
            StmtKind::Break | StmtKind::Continue => {}
        }
    }

    fn func_def(&mut self, fd: &FuncDef) {
        for p in &fd.params {
            if let Some(ty) = &p.ty {
                self.check_type(ty);
            }
            if let Some(d) = &p.default {
                self.expr(d);
            }
        }
        self.scopes.push(FastMap::default());
        for p in &fd.params {
            self.declare(&p.name);
        }
        self.block(&fd.body);
        self.scopes.pop();
        let required = fd.params.iter().take_while(|p| p.default.is_none()).count();
        let uf = UserFn { params: fd.params.iter().map(|p| p.name.name.clone()).collect(), required };
        self.funcs.entry(fd.name.name.clone()).or_default().push(uf);
    }

    fn ident(&mut self, name: &str, pos: Pos) {
        let known = self.is_declared(name)
            || builtins::is_plain_builtin(name)
            || self.funcs.contains_key(name)
            || self.types.contains(name)
            || self.enums.contains_key(name)
            || self.libs.contains(name)
            || builtins::is_namespace(name)
            || builtins::is_type_name(name);
        if !known {
            let hint = if self.diags.len() < MAX_HINTS {
                let names = self.visible_names();
                did_you_mean(builtins::suggest(name, names.iter().map(String::as_str)))
            } else {
                String::new()
            };
            self.error(pos, format!("undeclared identifier `{name}`{hint}"));
        }
    }

    /// A dotted name used as a value (not called).
    fn path_value(&mut self, path: &[&str], pos: Pos) {
        let Some(&root) = path.first() else { return };
        if path.len() == 1 {
            self.ident(root, pos);
            return;
        }
        if self.is_declared(root) || self.libs.contains(root) || self.types.contains(root) {
            return;
        }
        if let Some(members) = self.enums.get(root) {
            let member = path[1];
            if !members.iter().any(|m| m == member) {
                let hint = did_you_mean(builtins::suggest(member, members.iter().map(String::as_str)));
                self.error(pos, format!("enum `{root}` has no member `{member}`{hint}"));
            }
            return;
        }
        if builtins::is_namespace(root) {
            let full = path.join(".");
            if builtins::is_variable(&full) {
                return;
            }
            if builtins::function(&full).is_some() {
                self.error(pos, format!("`{full}` is a function; call it with `(…)`"));
                return;
            }
            if builtins::is_checked_namespace(root) {
                let prefix = format!("{root}.");
                let hint =
                    did_you_mean(builtins::suggest(&full, builtins::all_names().filter(|n| n.starts_with(&prefix))));
                self.error(pos, format!("unknown built-in `{full}`{hint}"));
            }
            return;
        }
        if builtins::is_plain_builtin(root) || self.funcs.contains_key(root) {
            return;
        }
        self.ident(root, pos);
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Number(_) | ExprKind::Str(_) | ExprKind::Color(_) | ExprKind::Bool(_) => {}
            ExprKind::Ident(n) => self.ident(n, e.pos),
            ExprKind::Member { object, .. } => match member_path(e) {
                Some(path) => self.path_value(&path, e.pos),
                None => self.expr(object),
            },
            ExprKind::Call { callee, generics, args } => {
                for g in generics {
                    self.check_type(g);
                }
                for a in args {
                    self.expr(&a.value);
                }
                self.call(callee, args, e.pos);
            }
            ExprKind::Index { object, index } => {
                self.expr(object);
                self.expr(index);
            }
            ExprKind::Unary { operand, .. } => self.expr(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Ternary { cond, then, otherwise } => {
                self.expr(cond);
                self.expr(then);
                self.expr(otherwise);
            }
            ExprKind::Tuple(items) => {
                for i in items {
                    self.expr(i);
                }
            }
            ExprKind::If { branches, otherwise } => {
                for (cond, body) in branches {
                    self.expr(cond);
                    self.block(body);
                }
                if let Some(b) = otherwise {
                    self.block(b);
                }
            }
            ExprKind::Switch { subject, cases } => {
                if let Some(s) = subject {
                    self.expr(s);
                }
                for (cond, body) in cases {
                    if let Some(c) = cond {
                        self.expr(c);
                    }
                    self.block(body);
                }
            }
            ExprKind::For { var, from, to, step, body } => {
                self.expr(from);
                self.expr(to);
                if let Some(s) = step {
                    self.expr(s);
                }
                self.with_scope(|c| {
                    c.declare(var);
                    c.block(body);
                });
            }
            ExprKind::ForIn { vars, iter, body } => {
                self.expr(iter);
                self.with_scope(|c| {
                    for v in vars {
                        c.declare(v);
                    }
                    c.block(body);
                });
            }
            ExprKind::While { cond, body } => {
                self.expr(cond);
                self.block(body);
            }
        }
    }

    fn call(&mut self, callee: &Expr, args: &[Arg], pos: Pos) {
        let Some(path) = member_path(callee) else {
            match &callee.kind {
                ExprKind::Member { object, .. } => self.expr(object),
                _ => self.expr(callee),
            }
            return;
        };
        let root = path.first().copied().unwrap_or("");
        if path.len() == 1 {
            if self.is_declared(root) {
                return;
            }
            if let Some(overloads) = self.funcs.get(root).cloned() {
                self.check_user_call(root, &overloads, args, pos);
                return;
            }
            if let Some(bf) = builtins::function(root) {
                if self.scopes.len() > 1 && GLOBAL_ONLY.contains(&root) {
                    self.error(
                        pos,
                        format!("`{root}` cannot be called in a local scope (inside `if`, loops or functions)"),
                    );
                }
                self.check_builtin_call(bf, args, pos);
                return;
            }
            if self.types.contains(root) || self.enums.contains_key(root) || self.libs.contains(root) {
                return;
            }
            if let Some(p) = self.later_funcs.get(root).copied() {
                self.error(pos, format!("function `{root}` is used before its declaration at {}:{}", p.line, p.col));
                return;
            }
            let hint = v4_hint(root).unwrap_or_else(|| {
                let namespaced = ["ta", "math", "str", "request", "input"]
                    .iter()
                    .map(|ns| format!("{ns}.{root}"))
                    .find(|full| builtins::function(full).is_some());
                match namespaced {
                    Some(full) => format!(" (did you mean `{full}`?)"),
                    None if self.diags.len() >= MAX_HINTS => String::new(),
                    None => {
                        let mut names: Vec<String> = self.funcs.keys().cloned().collect();
                        names.extend(
                            builtins::FUNCTIONS.iter().filter(|f| !f.name.contains('.')).map(|f| f.name.to_string()),
                        );
                        did_you_mean(builtins::suggest(root, names.iter().map(String::as_str)))
                    }
                }
            });
            self.error(pos, format!("unknown function `{root}`{hint}"));
            return;
        }
        if self.is_declared(root)
            || self.libs.contains(root)
            || self.types.contains(root)
            || self.enums.contains_key(root)
        {
            // Method call, library function, `Type.new()` or enum helper: not checked further.
            return;
        }
        if builtins::is_namespace(root) {
            let full = path.join(".");
            if let Some(bf) = builtins::function(&full) {
                self.check_builtin_call(bf, args, pos);
            } else if builtins::is_variable(&full) {
                self.error(pos, format!("`{full}` is a variable, not a function"));
            } else if builtins::is_checked_namespace(root) {
                let prefix = format!("{root}.");
                let hint = v4_hint(&full).unwrap_or_else(|| {
                    did_you_mean(builtins::suggest(
                        &full,
                        builtins::FUNCTIONS.iter().map(|f| f.name).filter(|n| n.starts_with(&prefix)),
                    ))
                });
                self.error(pos, format!("unknown function `{full}`{hint}"));
            }
            return;
        }
        if builtins::is_plain_builtin(root) || self.funcs.contains_key(root) {
            return;
        }
        self.ident(root, callee.pos);
    }

    fn check_builtin_call(&mut self, bf: &BuiltinFn, args: &[Arg], pos: Pos) {
        let name = bf.name;
        let positional: Vec<&Arg> = args.iter().filter(|a| a.name.is_none()).collect();
        let mut seen_named = false;
        for a in args {
            if a.name.is_some() {
                seen_named = true;
            } else if seen_named {
                self.error(a.value.pos, format!("positional argument after named arguments in call to `{name}`"));
                return;
            }
        }
        let n_pos = positional.len();
        if !bf.variadic
            && n_pos > bf.params.len()
            && let Some(extra) = positional.get(bf.params.len())
        {
            let p = extra.value.pos;
            self.error(p, format!("`{name}` takes {}, got {n_pos}", arity_text(bf.required, bf.params.len(), false)));
            return;
        }
        let mut given: HashSet<&str> = HashSet::new();
        let mut bad_names = false;
        for a in args {
            let Some(n) = &a.name else { continue };
            if n.name == "when" && name.starts_with("strategy.") {
                self.error(n.pos, "the `when` argument was removed; wrap the call in `if`");
                bad_names = true;
                continue;
            }
            match bf.params.iter().position(|p| *p == n.name) {
                None => {
                    let hint = v4_hint(&n.name)
                        .unwrap_or_else(|| did_you_mean(builtins::suggest(&n.name, bf.params.iter().copied())));
                    self.error(n.pos, format!("`{name}` has no parameter named `{}`{hint}", n.name));
                    bad_names = true;
                }
                Some(i) if i < n_pos && !bf.variadic => {
                    self.error(n.pos, format!("argument `{}` of `{name}` is already given by position", n.name));
                    bad_names = true;
                }
                Some(_) => {
                    given.insert(n.name.as_str());
                }
            }
        }
        let total = n_pos + given.len();
        if total < bf.required && !bad_names {
            if given.is_empty() {
                let max = bf.params.len();
                self.error(pos, format!("`{name}` takes {}, got {total}", arity_text(bf.required, max, bf.variadic)));
            } else if let Some(missing) = bf.params.iter().take(bf.required).skip(n_pos).find(|p| !given.contains(*p)) {
                self.error(pos, format!("missing required argument `{missing}` in call to `{name}`"));
            }
        }
    }

    fn check_user_call(&mut self, name: &str, overloads: &[UserFn], args: &[Arg], pos: Pos) {
        let n_pos = args.iter().filter(|a| a.name.is_none()).count();
        let fits = |f: &UserFn| {
            let named: Vec<&str> = args.iter().filter_map(|a| a.name.as_ref().map(|n| n.name.as_str())).collect();
            n_pos <= f.params.len()
                && named.iter().all(|n| f.params.iter().any(|p| p == n))
                && n_pos + named.len() >= f.required
        };
        if overloads.iter().any(fits) {
            return;
        }
        let Some(f) = overloads.first() else { return };
        for a in args {
            if let Some(n) = &a.name
                && !f.params.contains(&n.name)
            {
                let hint = did_you_mean(builtins::suggest(&n.name, f.params.iter().map(String::as_str)));
                self.error(n.pos, format!("`{name}` has no parameter named `{}`{hint}", n.name));
                return;
            }
        }
        let at = args.iter().filter(|a| a.name.is_none()).nth(f.params.len()).map(|a| a.value.pos).unwrap_or(pos);
        self.error(at, format!("`{name}` takes {}, got {}", arity_text(f.required, f.params.len(), false), args.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Diagnostic, check};

    fn errors(body: &str) -> Vec<String> {
        let src = format!("//@version=5\nindicator(\"t\")\n{body}");
        check(&src).into_iter().filter(Diagnostic::is_error).map(|d| d.to_string()).collect()
    }

    #[test]
    fn scopes() {
        assert!(errors("for i = 0 to 3\n    x = i\ny = 1\n").is_empty());
        assert_eq!(errors("for i = 0 to 3\n    x = i\nplot(i)\n"), vec!["5:6: error: undeclared identifier `i`"]);
        assert_eq!(errors("if close > open\n    t = 1\nplot(t)\n").len(), 1);
        assert!(errors("f(a, b) =>\n    c = a + b\n    c\nplot(f(1, 2))\n").is_empty());
        assert_eq!(errors("f(a) =>\n    a\nplot(a)\n"), vec!["5:6: error: undeclared identifier `a`"]);
        assert!(errors("for [i, v] in array.from(1, 2)\n    x = i + v\n").is_empty());
        assert!(errors("var x = 0\nx += 1\nx := x * 2\n").is_empty());
    }

    #[test]
    fn user_functions() {
        assert!(errors("f(x, y = 1) => x + y\na = f(1)\nb = f(1, y = 2)\nc = f(x = 1)\n").is_empty());
        assert_eq!(errors("f(x) => x\na = f(1, 2)\n"), vec!["4:10: error: `f` takes 1 argument, got 2"]);
        assert_eq!(errors("a = g(1)\ng(x) => x\n").len(), 1);
        // Overloads: accepted when any overload fits.
        assert!(errors("f(float x) => x\nf(float x, float y) => x + y\na = f(1)\nb = f(1, 2)\n").is_empty());
    }

    #[test]
    fn types_methods_and_libraries() {
        let body = "import u/lib/2 as l\ntype P\n    float v = 0.0\n    P next\nmethod twice(P p) => p.v * 2\nP p = P.new(1.0)\nx = p.twice() + twice(p) + l.anything(p.v)\nl.T q = na\n";
        assert_eq!(errors(body), Vec::<String>::new());
        assert_eq!(errors("Poin p = na\n"), vec!["3:1: error: unknown type `Poin`"]);
    }

    #[test]
    fn builtin_argument_rules() {
        assert!(errors("x = ta.highest(10)\ny = ta.highest(close, 10)\nz = math.max(1, 2, 3, 4)\n").is_empty());
        assert_eq!(
            errors("x = ta.ema(length = 10, source = close)\ny = ta.ema(close, source = close)\n"),
            vec!["4:19: error: argument `source` of `ta.ema` is already given by position"]
        );
        assert_eq!(
            errors("x = ta.ema(source = close)\n"),
            vec!["3:5: error: missing required argument `length` in call to `ta.ema`"]
        );
        assert_eq!(errors("x = strategy.position_size()\n").len(), 1);
        assert_eq!(errors("x = ta.sma\n"), vec!["3:5: error: `ta.sma` is a function; call it with `(…)`"]);
        assert!(errors("x = ta.tr + ta.tr(true) + ta.vwap + ta.vwap(close)\n").is_empty());
    }
}

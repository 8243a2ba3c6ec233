//! Recursive-descent parser (Pratt for expressions) over the tokens from the lexer. It builds the
//! AST in `ast`, reports errors at the exact offending token and recovers at the next logical line
//! of the same or an outer block so that one mistake does not cascade into many.

use super::Diagnostic;
use super::ast::*;
use super::lexer::{Lexed, TokKind, Token};

type PResult<T> = Result<T, Diagnostic>;

/// Parses lexed tokens into a script; returns the (possibly partial) AST and all parse errors.
pub fn parse_tokens(lexed: &Lexed<'_>) -> (Script, Vec<Diagnostic>) {
    let mut p = Parser { lx: lexed, toks: &lexed.tokens, i: 0, diags: Vec::new(), level: 0, last_end: 0, depth: 0 };
    let stmts = p.parse_script();
    (Script { version: lexed.version, stmts }, p.diags)
}

const QUALIFIERS: &[&str] = &["const", "simple", "series"];

/// Budget for the depth of the tree being built: each nested expression or block costs
/// [`NEST_COST`], each link of an operator or postfix chain costs 1. Deeper input is rejected
/// instead of overflowing the stack.
const MAX_DEPTH: usize = 400;
/// Depth cost of one level of recursive nesting.
const NEST_COST: usize = 4;

struct Parser<'a, 'b> {
    lx: &'b Lexed<'a>,
    toks: &'b [Token],
    i: usize,
    diags: Vec<Diagnostic>,
    level: usize,
    last_end: usize,
    depth: usize,
}

fn pos_of(t: &Token) -> Pos {
    Pos { line: t.line, col: t.col, offset: t.start }
}

const EOF_TOKEN: Token = Token { kind: TokKind::Eof, start: 0, end: 0, line: 1, col: 1, level: 0 };

impl<'a, 'b> Parser<'a, 'b> {
    fn tok_at(&self, i: usize) -> Token {
        match self.toks.get(i) {
            Some(t) => *t,
            None => self.toks.last().copied().unwrap_or(EOF_TOKEN),
        }
    }

    fn peek(&self) -> Token {
        self.tok_at(self.i)
    }

    fn kind(&self) -> TokKind {
        self.peek().kind
    }

    fn kind_at(&self, i: usize) -> TokKind {
        self.tok_at(i).kind
    }

    fn text_at(&self, i: usize) -> &'a str {
        let t = self.tok_at(i);
        self.lx.src.get(t.start..t.end).unwrap_or("")
    }

    fn ident_is(&self, i: usize, word: &str) -> bool {
        self.kind_at(i) == TokKind::Ident && self.text_at(i) == word
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if !matches!(t.kind, TokKind::Eof) {
            self.i += 1;
        }
        if !matches!(t.kind, TokKind::Newline | TokKind::Eof) {
            self.last_end = t.end;
        }
        t
    }

    fn describe(&self, t: &Token) -> String {
        match t.kind {
            TokKind::Newline => "end of line".to_string(),
            TokKind::Eof => "end of file".to_string(),
            _ => format!("`{}`", self.lx.src.get(t.start..t.end).unwrap_or("")),
        }
    }

    fn err(&self, t: &Token, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(t.line, t.col, msg)
    }

    /// Error at the current token; at a line break or end of file it points just past the last
    /// token of the line, where the missing text belongs.
    fn err_here(&self, msg: impl Into<String>) -> Diagnostic {
        let t = self.peek();
        if matches!(t.kind, TokKind::Newline | TokKind::Eof) && self.i > 0 {
            let prev = self.tok_at(self.i - 1);
            if !matches!(prev.kind, TokKind::Newline | TokKind::Eof) {
                let width = self.lx.src.get(prev.start..prev.end).map_or(0, |s| s.chars().count());
                return Diagnostic::error(prev.line, prev.col + width, msg);
            }
        }
        self.err(&t, msg)
    }

    fn expected(&self, what: &str) -> Diagnostic {
        let t = self.peek();
        self.err_here(format!("expected {what}, found {}", self.describe(&t)))
    }

    fn expect(&mut self, kind: TokKind, what: &str) -> PResult<Token> {
        if self.kind() == kind { Ok(self.bump()) } else { Err(self.expected(what)) }
    }

    fn expect_ident(&mut self, what: &str) -> PResult<Ident> {
        let t = self.expect(TokKind::Ident, what)?;
        Ok(Ident { name: self.lx.src.get(t.start..t.end).unwrap_or("").to_string(), pos: pos_of(&t) })
    }

    /// Skips to the next logical line whose level is at most `max_level`.
    fn skip_to_line(&mut self, max_level: usize) {
        loop {
            let t = self.peek();
            match t.kind {
                TokKind::Eof => return,
                TokKind::Newline if t.level <= max_level => return,
                _ => {
                    self.bump();
                }
            }
        }
    }

    fn at_line_end(&self) -> bool {
        matches!(self.kind(), TokKind::Newline | TokKind::Eof)
    }

    fn parse_script(&mut self) -> Vec<Stmt> {
        let mut stmts = Vec::new();
        loop {
            let t = self.peek();
            match t.kind {
                TokKind::Eof => break,
                TokKind::Newline => {
                    self.bump();
                    if t.level != 0 {
                        let first = self.peek();
                        self.diags.push(self.err(&first, "unexpected indentation"));
                        self.skip_to_line(0);
                        continue;
                    }
                    self.level = 0;
                    self.statement_line(0, &mut stmts);
                }
                _ => {
                    self.diags.push(self.err(&t, format!("unexpected {}", self.describe(&t))));
                    self.bump();
                    self.skip_to_line(0);
                }
            }
        }
        stmts
    }

    /// Parses one statement at `level` (the `Newline` already consumed) and checks the line ends.
    fn statement_line(&mut self, level: usize, out: &mut Vec<Stmt>) {
        match self.parse_stmt() {
            Ok(s) => {
                out.push(s);
                if !self.at_line_end() {
                    let t = self.peek();
                    self.diags.push(self.err(&t, format!("expected end of line, found {}", self.describe(&t))));
                    self.skip_to_line(level);
                }
            }
            Err(d) => {
                self.diags.push(d);
                self.skip_to_line(level);
            }
        }
        self.level = level;
    }

    /// Generic indented block: `item` is called once per line one level deeper than `self.level`.
    fn parse_block_with<T>(&mut self, what: &str, item: fn(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        let outer = self.level;
        let body_level = outer + 1;
        let t = self.peek();
        match t.kind {
            TokKind::Newline if t.level == body_level => {}
            TokKind::Newline if t.level > body_level => {
                return Err(self.err(&t, "unexpected indentation"));
            }
            TokKind::Newline | TokKind::Eof => {
                return Err(self.err(&t, format!("expected an indented {what} (4 spaces or a tab)")));
            }
            _ => return Err(self.err(&t, format!("expected end of line, found {}", self.describe(&t)))),
        }
        let mut items = Vec::new();
        while self.kind() == TokKind::Newline && self.peek().level >= body_level {
            let nl = self.bump();
            if nl.level > body_level {
                let first = self.peek();
                self.diags.push(self.err(&first, "unexpected indentation"));
                self.skip_to_line(body_level);
                continue;
            }
            self.level = body_level;
            match item(self) {
                Ok(x) => {
                    items.push(x);
                    if !self.at_line_end() {
                        let t = self.peek();
                        self.diags.push(self.err(&t, format!("expected end of line, found {}", self.describe(&t))));
                        self.skip_to_line(body_level);
                    }
                }
                Err(d) => {
                    self.diags.push(d);
                    self.skip_to_line(body_level);
                }
            }
            self.level = body_level;
        }
        self.level = outer;
        Ok(items)
    }

    fn parse_block(&mut self) -> PResult<Block> {
        self.parse_block_with("block", Self::parse_stmt)
    }

    fn stmt(&self, start: &Token, kind: StmtKind) -> Stmt {
        Stmt { pos: pos_of(start), end: self.last_end.max(start.end), kind }
    }

    fn parse_stmt(&mut self) -> PResult<Stmt> {
        let start = self.peek();
        match start.kind {
            TokKind::If | TokKind::For | TokKind::While | TokKind::Switch => {
                let e = self.parse_structure()?;
                Ok(self.stmt(&start, StmtKind::Expr(e)))
            }
            TokKind::Var | TokKind::Varip => {
                self.bump();
                let mode = if start.kind == TokKind::Var { DeclMode::Var } else { DeclMode::Varip };
                self.parse_decl_rest(&start, mode)
            }
            TokKind::Break => {
                self.bump();
                Ok(self.stmt(&start, StmtKind::Break))
            }
            TokKind::Continue => {
                self.bump();
                Ok(self.stmt(&start, StmtKind::Continue))
            }
            TokKind::Else => Err(self.err(&start, "`else` without a matching `if`")),
            TokKind::LBracket if self.tuple_decl_ahead() => self.parse_tuple_decl(),
            TokKind::Ident => {
                let text = self.text_at(self.i);
                let next = self.kind_at(self.i + 1);
                match text {
                    "import" if next == TokKind::Ident => return self.parse_import(),
                    "export" if next == TokKind::Ident => {
                        self.bump();
                        let what = self.text_at(self.i);
                        return match what {
                            "type" => self.parse_type_def(&start, true),
                            "enum" => self.parse_enum_def(&start, true),
                            "method" => self.parse_func_def(&start, true, true),
                            _ if self.func_def_ahead(self.i) => self.parse_func_def(&start, true, false),
                            _ => self.parse_decl_rest(&start, DeclMode::Normal),
                        };
                    }
                    "type" if next == TokKind::Ident && self.line_end_at(self.i + 2) => {
                        return self.parse_type_def(&start, false);
                    }
                    "enum" if next == TokKind::Ident && self.line_end_at(self.i + 2) => {
                        return self.parse_enum_def(&start, false);
                    }
                    "method" if next == TokKind::Ident && self.kind_at(self.i + 2) == TokKind::LParen => {
                        return self.parse_func_def(&start, false, true);
                    }
                    _ => {}
                }
                if next == TokKind::LParen && self.func_def_ahead(self.i) {
                    return self.parse_func_def(&start, false, false);
                }
                if self.typed_decl_ahead(self.i) {
                    return self.parse_decl_rest(&start, DeclMode::Normal);
                }
                self.parse_expr_stmt()
            }
            _ => self.parse_expr_stmt(),
        }
    }

    fn line_end_at(&self, i: usize) -> bool {
        matches!(self.kind_at(i), TokKind::Newline | TokKind::Eof)
    }

    /// Expression statement, `name = value` declaration or `target := value` reassignment.
    fn parse_expr_stmt(&mut self) -> PResult<Stmt> {
        let start = self.peek();
        let e = self.parse_expr()?;
        let op = match self.kind() {
            TokKind::Assign => {
                let eq = self.peek();
                let ExprKind::Ident(name) = &e.kind else {
                    return Err(self.err(
                        &eq,
                        "`=` declares a new variable and needs a plain name on its left; use `:=` to reassign",
                    ));
                };
                let name = Ident { name: name.clone(), pos: e.pos };
                self.bump();
                let value = self.parse_rhs()?;
                return Ok(self.stmt(
                    &start,
                    StmtKind::VarDecl { mode: DeclMode::Normal, qualifier: None, ty: None, name, value },
                ));
            }
            TokKind::Reassign => AssignOp::Reassign,
            TokKind::PlusEq => AssignOp::Add,
            TokKind::MinusEq => AssignOp::Sub,
            TokKind::StarEq => AssignOp::Mul,
            TokKind::SlashEq => AssignOp::Div,
            TokKind::PercentEq => AssignOp::Rem,
            _ => return Ok(self.stmt(&start, StmtKind::Expr(e))),
        };
        let op_tok = self.peek();
        if !matches!(e.kind, ExprKind::Ident(_) | ExprKind::Member { .. } | ExprKind::Index { .. }) {
            return Err(self.err(&op_tok, format!("cannot assign to this expression with {}", self.describe(&op_tok))));
        }
        self.bump();
        let value = self.parse_rhs()?;
        Ok(self.stmt(&start, StmtKind::Assign { target: e, op, value }))
    }

    /// Right-hand side of `=`/`:=`: an expression or an `if`/`switch`/`for`/`while` structure.
    fn parse_rhs(&mut self) -> PResult<Expr> {
        if matches!(self.kind(), TokKind::If | TokKind::Switch | TokKind::For | TokKind::While) {
            self.parse_structure()
        } else {
            self.parse_expr()
        }
    }

    /// After `var`/`varip`/`export` or at a typed declaration: `[qualifier] [type] name = value`.
    fn parse_decl_rest(&mut self, start: &Token, mode: DeclMode) -> PResult<Stmt> {
        let mut qualifier = None;
        let mut ty = None;
        if self.typed_decl_ahead(self.i) {
            if QUALIFIERS.contains(&self.text_at(self.i)) && self.kind_at(self.i + 1) == TokKind::Ident {
                qualifier = Some(self.text_at(self.i).to_string());
                self.bump();
            }
            ty = Some(self.parse_type()?);
        }
        let name = self.expect_ident("a variable name")?;
        self.expect(TokKind::Assign, "`=`")?;
        let value = self.parse_rhs()?;
        Ok(self.stmt(start, StmtKind::VarDecl { mode, qualifier, ty, name, value }))
    }

    /// Index after a type starting at `j`, if the tokens there form a type.
    fn skip_type(&self, mut j: usize) -> Option<usize> {
        if self.kind_at(j) != TokKind::Ident {
            return None;
        }
        j += 1;
        while self.kind_at(j) == TokKind::Dot && self.kind_at(j + 1) == TokKind::Ident {
            j += 2;
        }
        if self.kind_at(j) == TokKind::Lt {
            j += 1;
            loop {
                j = self.skip_type(j)?;
                match self.kind_at(j) {
                    TokKind::Comma => j += 1,
                    TokKind::Gt => {
                        j += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        if self.kind_at(j) == TokKind::LBracket && self.kind_at(j + 1) == TokKind::RBracket {
            j += 2;
        }
        Some(j)
    }

    /// True when `[qualifier]* type name =` starts at `i`.
    fn typed_decl_ahead(&self, i: usize) -> bool {
        let mut j = i;
        while self.kind_at(j) == TokKind::Ident && QUALIFIERS.contains(&self.text_at(j)) {
            j += 1;
        }
        match self.skip_type(j) {
            Some(k) => self.kind_at(k) == TokKind::Ident && self.kind_at(k + 1) == TokKind::Assign,
            None => false,
        }
    }

    fn parse_type(&mut self) -> PResult<TypeRef> {
        let first = self.expect(TokKind::Ident, "a type name")?;
        let mut name = self.lx.text(&first).to_string();
        while self.kind() == TokKind::Dot && self.kind_at(self.i + 1) == TokKind::Ident {
            self.bump();
            let t = self.bump();
            name.push('.');
            name.push_str(self.lx.text(&t));
        }
        let mut args = Vec::new();
        if self.kind() == TokKind::Lt {
            let open = self.bump();
            loop {
                args.push(self.parse_type()?);
                match self.kind() {
                    TokKind::Comma => {
                        self.bump();
                    }
                    TokKind::Gt => {
                        self.bump();
                        break;
                    }
                    _ => {
                        return Err(self.expected(&format!(
                            "`>` to close the type arguments opened at {}:{}",
                            open.line, open.col
                        )));
                    }
                }
            }
        }
        let mut array_suffix = false;
        if self.kind() == TokKind::LBracket && self.kind_at(self.i + 1) == TokKind::RBracket {
            self.bump();
            self.bump();
            array_suffix = true;
        }
        Ok(TypeRef { name, args, array_suffix, pos: pos_of(&first) })
    }

    /// Index of the token matching the bracket at `i` (same line), if any.
    fn matching_close(&self, i: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut j = i;
        loop {
            match self.kind_at(j) {
                TokKind::LParen | TokKind::LBracket => depth += 1,
                TokKind::RParen | TokKind::RBracket => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(j);
                    }
                }
                TokKind::Newline | TokKind::Eof => return None,
                _ => {}
            }
            j += 1;
        }
    }

    fn func_def_ahead(&self, i: usize) -> bool {
        self.kind_at(i) == TokKind::Ident
            && self.kind_at(i + 1) == TokKind::LParen
            && self.matching_close(i + 1).is_some_and(|j| self.kind_at(j + 1) == TokKind::Arrow)
    }

    fn tuple_decl_ahead(&self) -> bool {
        self.matching_close(self.i).is_some_and(|j| self.kind_at(j + 1) == TokKind::Assign)
    }

    fn parse_tuple_decl(&mut self) -> PResult<Stmt> {
        let start = self.bump();
        let mut names = Vec::new();
        loop {
            names.push(self.expect_ident("a variable name in the tuple")?);
            match self.kind() {
                TokKind::Comma => {
                    self.bump();
                }
                TokKind::RBracket => {
                    self.bump();
                    break;
                }
                _ => return Err(self.expected("`,` or `]` in the tuple declaration")),
            }
        }
        self.expect(TokKind::Assign, "`=`")?;
        let value = self.parse_rhs()?;
        Ok(self.stmt(&start, StmtKind::TupleDecl { names, value }))
    }

    fn parse_import(&mut self) -> PResult<Stmt> {
        let start = self.bump();
        let path_start = self.peek();
        let mut path_end = path_start.end;
        while !self.at_line_end() && !self.ident_is(self.i, "as") {
            path_end = self.bump().end;
        }
        let path = self.lx.src.get(path_start.start..path_end).unwrap_or("").to_string();
        let segments: Vec<&str> = path.split('/').map(str::trim).collect();
        if segments.len() != 3 || segments.iter().any(|s| s.is_empty()) {
            return Err(self.err(&path_start, "expected a library path `user/library/version`"));
        }
        let alias = if self.ident_is(self.i, "as") {
            self.bump();
            self.expect_ident("an alias after `as`")?
        } else {
            Ident { name: segments[1].to_string(), pos: pos_of(&path_start) }
        };
        Ok(self.stmt(&start, StmtKind::Import { path, alias }))
    }

    fn parse_type_def(&mut self, start: &Token, export: bool) -> PResult<Stmt> {
        self.bump(); // `type`
        let name = self.expect_ident("a type name")?;
        let fields = self.parse_block_with("list of fields", Self::parse_field)?;
        Ok(self.stmt(start, StmtKind::TypeDef { name, export, fields }))
    }

    fn parse_field(&mut self) -> PResult<Field> {
        if self.kind() == TokKind::Varip {
            self.bump();
        }
        if QUALIFIERS.contains(&self.text_at(self.i)) && self.kind_at(self.i + 1) == TokKind::Ident {
            self.bump();
        }
        let ty = self.parse_type()?;
        let name = self.expect_ident("a field name")?;
        let default = if self.kind() == TokKind::Assign {
            self.bump();
            Some(self.parse_expr()?)
        } else {
            None
        };
        Ok(Field { ty, name, default })
    }

    fn parse_enum_def(&mut self, start: &Token, export: bool) -> PResult<Stmt> {
        self.bump(); // `enum`
        let name = self.expect_ident("an enum name")?;
        let members = self.parse_block_with("list of enum members", |p| {
            let m = p.expect_ident("an enum member name")?;
            let title = if p.kind() == TokKind::Assign {
                p.bump();
                Some(p.parse_expr()?)
            } else {
                None
            };
            Ok((m, title))
        })?;
        Ok(self.stmt(start, StmtKind::EnumDef { name, export, members }))
    }

    fn parse_func_def(&mut self, start: &Token, export: bool, is_method: bool) -> PResult<Stmt> {
        if is_method {
            self.bump(); // `method`
        }
        let name = self.expect_ident("a function name")?;
        let open = self.expect(TokKind::LParen, "`(`")?;
        let mut params = Vec::new();
        if self.kind() == TokKind::RParen {
            self.bump();
        } else {
            loop {
                params.push(self.parse_param()?);
                match self.kind() {
                    TokKind::Comma => {
                        self.bump();
                    }
                    TokKind::RParen => {
                        self.bump();
                        break;
                    }
                    _ => {
                        return Err(self.expected(&format!(
                            "`,` or `)` in the parameter list opened at {}:{}",
                            open.line, open.col
                        )));
                    }
                }
            }
        }
        self.expect(TokKind::Arrow, "`=>`")?;
        let body = self.parse_body()?;
        Ok(self.stmt(start, StmtKind::FuncDef(FuncDef { name, is_method, export, params, body })))
    }

    /// Body after `=>`: an indented block on the next lines or a statement on the same line.
    fn parse_body(&mut self) -> PResult<Block> {
        if self.depth + NEST_COST > MAX_DEPTH {
            return Err(self.too_deep());
        }
        if self.at_line_end() { self.parse_block() } else { Ok(vec![self.parse_stmt()?]) }
    }

    fn parse_param(&mut self) -> PResult<Param> {
        let mut qualifier = None;
        if QUALIFIERS.contains(&self.text_at(self.i)) && self.kind_at(self.i + 1) == TokKind::Ident {
            qualifier = Some(self.text_at(self.i).to_string());
            self.bump();
        }
        let typed = self.skip_type(self.i).is_some_and(|k| self.kind_at(k) == TokKind::Ident);
        let ty = if typed { Some(self.parse_type()?) } else { None };
        let name = self.expect_ident("a parameter name")?;
        let default = if self.kind() == TokKind::Assign {
            self.bump();
            Some(self.parse_expr()?)
        } else {
            None
        };
        Ok(Param { qualifier, ty, name, default })
    }

    /// `if`, `switch`, `for` or `while`, usable as a statement or as a value.
    fn parse_structure(&mut self) -> PResult<Expr> {
        self.nested(Self::parse_structure_inner)
    }

    fn parse_structure_inner(&mut self) -> PResult<Expr> {
        let start = self.peek();
        let kind = match start.kind {
            TokKind::If => {
                self.bump();
                let cond = self.parse_expr()?;
                let block = self.parse_block()?;
                let mut branches = vec![(cond, block)];
                let mut otherwise = None;
                while self.kind() == TokKind::Newline
                    && self.peek().level == self.level
                    && self.kind_at(self.i + 1) == TokKind::Else
                {
                    self.bump();
                    self.bump();
                    if self.kind() == TokKind::If {
                        self.bump();
                        let cond = self.parse_expr()?;
                        let block = self.parse_block()?;
                        branches.push((cond, block));
                    } else {
                        otherwise = Some(self.parse_block()?);
                        break;
                    }
                }
                ExprKind::If { branches, otherwise }
            }
            TokKind::While => {
                self.bump();
                let cond = self.parse_expr()?;
                let body = self.parse_block()?;
                ExprKind::While { cond: Box::new(cond), body }
            }
            TokKind::Switch => {
                self.bump();
                let subject = if self.at_line_end() { None } else { Some(Box::new(self.parse_expr()?)) };
                let cases = self.parse_block_with("list of `switch` cases", Self::parse_case)?;
                ExprKind::Switch { subject, cases }
            }
            TokKind::For => {
                self.bump();
                if self.kind() == TokKind::LBracket {
                    let open = self.bump();
                    let mut vars = vec![self.expect_ident("a loop variable")?];
                    self.expect(TokKind::Comma, "`,`")?;
                    vars.push(self.expect_ident("a loop variable")?);
                    if self.kind() != TokKind::RBracket {
                        return Err(
                            self.expected(&format!("`]` to close the `[` opened at {}:{}", open.line, open.col))
                        );
                    }
                    self.bump();
                    self.expect_in()?;
                    let iter = self.parse_expr()?;
                    let body = self.parse_block()?;
                    ExprKind::ForIn { vars, iter: Box::new(iter), body }
                } else {
                    let var = self.expect_ident("a loop variable")?;
                    if self.ident_is(self.i, "in") {
                        self.bump();
                        let iter = self.parse_expr()?;
                        let body = self.parse_block()?;
                        ExprKind::ForIn { vars: vec![var], iter: Box::new(iter), body }
                    } else {
                        self.expect(TokKind::Assign, "`=` or `in` after the loop variable")?;
                        let from = self.parse_expr()?;
                        if !self.ident_is(self.i, "to") {
                            return Err(self.expected("`to`"));
                        }
                        self.bump();
                        let to = self.parse_expr()?;
                        let step = if self.ident_is(self.i, "by") {
                            self.bump();
                            Some(Box::new(self.parse_expr()?))
                        } else {
                            None
                        };
                        let body = self.parse_block()?;
                        ExprKind::For { var, from: Box::new(from), to: Box::new(to), step, body }
                    }
                }
            }
            _ => return Err(self.expected("`if`, `for`, `while` or `switch`")),
        };
        Ok(Expr { pos: pos_of(&start), end: self.last_end.max(start.end), kind })
    }

    fn expect_in(&mut self) -> PResult<()> {
        if self.ident_is(self.i, "in") {
            self.bump();
            Ok(())
        } else {
            Err(self.expected("`in`"))
        }
    }

    fn parse_case(&mut self) -> PResult<(Option<Expr>, Block)> {
        let cond = if self.kind() == TokKind::Arrow { None } else { Some(self.parse_expr()?) };
        self.expect(TokKind::Arrow, "`=>` after the `switch` case")?;
        let body = self.parse_body()?;
        Ok((cond, body))
    }

    // ----- expressions -----

    /// Runs `f` one nesting level deeper, failing cleanly past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let saved = self.depth;
        self.depth += NEST_COST;
        if self.depth > MAX_DEPTH {
            self.depth = saved;
            return Err(self.too_deep());
        }
        let r = f(self);
        self.depth = saved;
        r
    }

    fn too_deep(&self) -> Diagnostic {
        let t = self.peek();
        self.err(&t, "expression or block nested too deeply")
    }

    /// Accounts for one more link in an operator or postfix chain.
    fn chain_link(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(self.too_deep()) } else { Ok(()) }
    }

    fn parse_expr(&mut self) -> PResult<Expr> {
        self.nested(Self::parse_expr_inner)
    }

    fn parse_expr_inner(&mut self) -> PResult<Expr> {
        let cond = self.parse_binary(1)?;
        if self.kind() != TokKind::Question {
            return Ok(cond);
        }
        let q = self.bump();
        let then = self.parse_expr()?;
        if self.kind() != TokKind::Colon {
            return Err(self.expected(&format!("`:` for the `?` at {}:{}", q.line, q.col)));
        }
        self.bump();
        let otherwise = self.parse_expr()?;
        Ok(Expr {
            pos: cond.pos,
            end: otherwise.end,
            kind: ExprKind::Ternary { cond: Box::new(cond), then: Box::new(then), otherwise: Box::new(otherwise) },
        })
    }

    fn binop(kind: TokKind) -> Option<(BinaryOp, u8)> {
        Some(match kind {
            TokKind::Or => (BinaryOp::Or, 1),
            TokKind::And => (BinaryOp::And, 2),
            TokKind::EqEq => (BinaryOp::Eq, 3),
            TokKind::NotEq => (BinaryOp::Ne, 3),
            TokKind::Lt => (BinaryOp::Lt, 4),
            TokKind::Gt => (BinaryOp::Gt, 4),
            TokKind::Le => (BinaryOp::Le, 4),
            TokKind::Ge => (BinaryOp::Ge, 4),
            TokKind::Plus => (BinaryOp::Add, 5),
            TokKind::Minus => (BinaryOp::Sub, 5),
            TokKind::Star => (BinaryOp::Mul, 6),
            TokKind::Slash => (BinaryOp::Div, 6),
            TokKind::Percent => (BinaryOp::Rem, 6),
            _ => return None,
        })
    }

    fn parse_binary(&mut self, min_prec: u8) -> PResult<Expr> {
        let saved = self.depth;
        let r = self.parse_binary_chain(min_prec);
        self.depth = saved;
        r
    }

    fn parse_binary_chain(&mut self, min_prec: u8) -> PResult<Expr> {
        let mut lhs = self.parse_unary()?;
        while let Some((op, prec)) = Self::binop(self.kind()) {
            if prec < min_prec {
                break;
            }
            self.bump();
            self.chain_link()?;
            let rhs = self.parse_binary(prec + 1)?;
            lhs = Expr {
                pos: lhs.pos,
                end: rhs.end,
                kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) },
            };
        }
        Ok(lhs)
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        let op = match t.kind {
            TokKind::Minus => UnaryOp::Neg,
            TokKind::Plus => UnaryOp::Plus,
            TokKind::Not => UnaryOp::Not,
            _ => return self.parse_postfix(),
        };
        self.bump();
        let operand = self.nested(Self::parse_unary)?;
        Ok(Expr { pos: pos_of(&t), end: operand.end, kind: ExprKind::Unary { op, operand: Box::new(operand) } })
    }

    fn generic_call_ahead(&self) -> bool {
        let mut j = self.i + 1;
        loop {
            let Some(k) = self.skip_type(j) else { return false };
            match self.kind_at(k) {
                TokKind::Comma => j = k + 1,
                TokKind::Gt => return self.kind_at(k + 1) == TokKind::LParen,
                _ => return false,
            }
        }
    }

    fn parse_postfix(&mut self) -> PResult<Expr> {
        let saved = self.depth;
        let r = self.parse_postfix_chain();
        self.depth = saved;
        r
    }

    fn parse_postfix_chain(&mut self) -> PResult<Expr> {
        let mut e = self.parse_primary()?;
        loop {
            if matches!(self.kind(), TokKind::Dot | TokKind::LParen | TokKind::LBracket | TokKind::Lt) {
                self.chain_link()?;
            }
            match self.kind() {
                TokKind::Dot => {
                    self.bump();
                    let name = self.expect_ident("a member name after `.`")?;
                    e = Expr { pos: e.pos, end: self.last_end, kind: ExprKind::Member { object: Box::new(e), name } };
                }
                TokKind::LParen => {
                    e = self.parse_call(e, Vec::new())?;
                }
                TokKind::Lt
                    if matches!(e.kind, ExprKind::Ident(_) | ExprKind::Member { .. }) && self.generic_call_ahead() =>
                {
                    self.bump();
                    let mut generics = Vec::new();
                    loop {
                        generics.push(self.parse_type()?);
                        if self.kind() == TokKind::Comma {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                    self.expect(TokKind::Gt, "`>`")?;
                    e = self.parse_call(e, generics)?;
                }
                TokKind::LBracket => {
                    let open = self.bump();
                    if self.at_line_end() {
                        return Err(self.expected(&format!(
                            "`]` to close the history reference opened at {}:{}",
                            open.line, open.col
                        )));
                    }
                    let index = self.parse_expr()?;
                    if self.kind() != TokKind::RBracket {
                        return Err(self.expected(&format!(
                            "`]` to close the history reference opened at {}:{}",
                            open.line, open.col
                        )));
                    }
                    self.bump();
                    e = Expr {
                        pos: e.pos,
                        end: self.last_end,
                        kind: ExprKind::Index { object: Box::new(e), index: Box::new(index) },
                    };
                }
                _ => break,
            }
        }
        Ok(e)
    }

    fn unclosed_call(&self, open: &Token) -> Diagnostic {
        let t = self.peek();
        let mut msg = format!("expected `)` to close the call opened at {}:{}", open.line, open.col);
        if t.kind == TokKind::Newline {
            msg.push_str(", found end of line (a line wrapped inside a call must be indented by a number of spaces that is not a multiple of 4)");
        } else {
            msg.push_str(&format!(", found {}", self.describe(&t)));
        }
        self.err_here(msg)
    }

    fn parse_call(&mut self, callee: Expr, generics: Vec<TypeRef>) -> PResult<Expr> {
        let open = self.bump();
        let mut args = Vec::new();
        loop {
            match self.kind() {
                TokKind::RParen => {
                    self.bump();
                    break;
                }
                TokKind::Newline | TokKind::Eof => return Err(self.unclosed_call(&open)),
                _ => {}
            }
            let name = if self.kind() == TokKind::Ident && self.kind_at(self.i + 1) == TokKind::Assign {
                let n = self.expect_ident("an argument name")?;
                self.bump();
                Some(n)
            } else {
                None
            };
            if self.at_line_end() {
                return Err(self.unclosed_call(&open));
            }
            let value = self.parse_expr()?;
            args.push(Arg { name, value });
            match self.kind() {
                TokKind::Comma => {
                    self.bump();
                }
                TokKind::RParen => {
                    self.bump();
                    break;
                }
                _ => return Err(self.unclosed_call(&open)),
            }
        }
        Ok(Expr {
            pos: callee.pos,
            end: self.last_end,
            kind: ExprKind::Call { callee: Box::new(callee), generics, args },
        })
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        let text = || self.lx.text(&t).to_string();
        let kind = match t.kind {
            TokKind::Number => ExprKind::Number(text()),
            TokKind::Str => ExprKind::Str(text()),
            TokKind::Color => ExprKind::Color(text()),
            TokKind::True => ExprKind::Bool(true),
            TokKind::False => ExprKind::Bool(false),
            TokKind::Ident => ExprKind::Ident(text()),
            TokKind::LParen => {
                self.bump();
                if self.at_line_end() {
                    return Err(self.expected(&format!("`)` to close the `(` opened at {}:{}", t.line, t.col)));
                }
                let mut inner = self.parse_expr()?;
                if self.kind() != TokKind::RParen {
                    return Err(self.expected(&format!("`)` to close the `(` opened at {}:{}", t.line, t.col)));
                }
                self.bump();
                inner.pos = pos_of(&t);
                inner.end = self.last_end;
                return Ok(inner);
            }
            TokKind::LBracket => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    if self.kind() == TokKind::RBracket {
                        self.bump();
                        break;
                    }
                    if self.at_line_end() {
                        return Err(self.expected(&format!("`]` to close the `[` opened at {}:{}", t.line, t.col)));
                    }
                    items.push(self.parse_expr()?);
                    match self.kind() {
                        TokKind::Comma => {
                            self.bump();
                        }
                        TokKind::RBracket => {
                            self.bump();
                            break;
                        }
                        _ => {
                            return Err(
                                self.expected(&format!("`,` or `]` to close the `[` opened at {}:{}", t.line, t.col))
                            );
                        }
                    }
                }
                return Ok(Expr { pos: pos_of(&t), end: self.last_end, kind: ExprKind::Tuple(items) });
            }
            TokKind::If | TokKind::Switch | TokKind::For | TokKind::While => return self.parse_structure(),
            _ => return Err(self.expected("an expression")),
        };
        self.bump();
        Ok(Expr { pos: pos_of(&t), end: t.end, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;

    fn parse_ok(src: &str) -> Script {
        let lx = lex(src);
        let (s, d) = parse_tokens(&lx);
        assert!(d.is_empty(), "{d:?}");
        s
    }

    fn first_err(src: &str) -> Diagnostic {
        let lx = lex(src);
        let (_, d) = parse_tokens(&lx);
        d.into_iter().next().unwrap_or_else(|| Diagnostic::error(0, 0, "no error"))
    }

    #[test]
    fn statements() {
        let s = parse_ok(
            "f(x) => x * 2\ng(float a, simple int n = 3) =>\n    a * n\n[a, b] = f(1)\nvar float v = na\nv := 1\n",
        );
        assert_eq!(s.stmts.len(), 5);
        assert!(matches!(s.stmts[0].kind, StmtKind::FuncDef(_)));
        assert!(matches!(s.stmts[2].kind, StmtKind::TupleDecl { .. }));
        let s = parse_ok("x = if a\n    1\nelse if b\n    2\nelse\n    3\n");
        let StmtKind::VarDecl { value, .. } = &s.stmts[0].kind else { panic!("decl") };
        let ExprKind::If { branches, otherwise } = &value.kind else { panic!("if") };
        assert_eq!(branches.len(), 2);
        assert!(otherwise.is_some());
    }

    #[test]
    fn generics_and_loops() {
        parse_ok(
            "var a = array.new<float>(0)\nm = map.new<string, float>()\narray<float> b = na\nfor [i, v] in a\n    x = v\nfor i = 0 to 10 by 2\n    continue\n",
        );
        parse_ok("s = switch\n    a > b => 1\n    => 2\nswitch x\n    \"a\" => f()\n    =>\n        g()\n");
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        let deep = format!("x = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
        assert!(first_err(&deep).message.contains("nested too deeply"));
        let neg = format!("x = {}1\n", "-".repeat(5000));
        assert!(first_err(&neg).message.contains("nested too deeply"));
        let mut blocks = String::new();
        for i in 0..200 {
            blocks.push_str(&format!("{}if a\n", "    ".repeat(i)));
        }
        blocks.push_str(&format!("{}b = 1\n", "    ".repeat(200)));
        assert!(first_err(&blocks).message.contains("nested too deeply"));
        let calls = format!("x = {}1{}\n", "f(".repeat(3000), ")".repeat(3000));
        assert!(first_err(&calls).message.contains("nested too deeply"));
        for chain in [
            format!("x = 1{}\n", " + 1".repeat(50_000)),
            format!("x = a{}\n", ".b".repeat(50_000)),
            format!("x = a{}\n", "[1]".repeat(50_000)),
            format!("x = f{}\n", "()".repeat(50_000)),
        ] {
            assert!(first_err(&chain).message.contains("nested too deeply"));
        }
        // A long but reasonable sum is fine, and checking it does not overflow either.
        let sum = format!("//@version=5\nindicator(\"x\")\nx = 1{}\nplot(x)\n", " + close".repeat(300));
        assert!(super::super::check(&sum).is_empty());
    }

    #[test]
    fn errors_point_at_token() {
        let d = first_err("plot(close,\ncolor=color.red)\n");
        assert_eq!((d.line, d.col), (1, 12));
        assert!(d.message.contains("expected `)` to close the call opened at 1:5"), "{}", d.message);
        let d = first_err("x = 1\n    y = 2\n");
        assert_eq!((d.line, d.col, d.message.as_str()), (2, 5, "unexpected indentation"));
        let d = first_err("if a\nb = 1\n");
        assert_eq!((d.line, d.col), (2, 1));
    }
}

//! Abstract syntax tree produced by the Pine parser. Every node carries the position of its first
//! token (`Pos`) and the byte offset just past its last token, which the checker uses for precise
//! diagnostics and the fixer uses to rewrite source text.

/// Position of a node's first token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub col: usize,
    /// Byte offset into the source.
    pub offset: usize,
}

/// A parsed script: the version annotation and the top-level statements.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    /// Version from `//@version=N`.
    pub version: Option<u32>,
    /// Top-level statements in source order.
    pub stmts: Vec<Stmt>,
}

/// A sequence of statements forming an indented block.
pub type Block = Vec<Stmt>;

/// A name with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The identifier text.
    pub name: String,
    /// Where it appears.
    pub pos: Pos,
}

/// A type annotation such as `float`, `array<float>`, `int[]`, `chart.point` or `lib.MyType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRef {
    /// Dotted type name.
    pub name: String,
    /// Generic arguments (`array<float>` has one).
    pub args: Vec<TypeRef>,
    /// True for the legacy `float[]` array form.
    pub array_suffix: bool,
    /// Where the type starts.
    pub pos: Pos,
}

/// `var`/`varip` persistence mode of a declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclMode {
    /// Plain declaration, re-evaluated on every bar.
    Normal,
    /// `var`: initialised once.
    Var,
    /// `varip`: initialised once, persists across realtime ticks.
    Varip,
}

/// Reassignment operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    /// `:=`
    Reassign,
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`
    Div,
    /// `%=`
    Rem,
}

/// A statement with its start position and end byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// Position of the first token.
    pub pos: Pos,
    /// Byte offset just past the last token.
    pub end: usize,
    /// What the statement is.
    pub kind: StmtKind,
}

/// The kinds of statements.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// An expression evaluated for its effect or value (calls, `if`, `for`, `switch`, …).
    Expr(Expr),
    /// `[var|varip] [qualifier] [type] name = value`.
    VarDecl {
        /// Persistence mode.
        mode: DeclMode,
        /// `const`, `simple` or `series`.
        qualifier: Option<String>,
        /// Declared type, if any.
        ty: Option<TypeRef>,
        /// The declared name.
        name: Ident,
        /// Initial value.
        value: Expr,
    },
    /// `[a, b] = value`.
    TupleDecl {
        /// Declared names.
        names: Vec<Ident>,
        /// Value producing the tuple.
        value: Expr,
    },
    /// `target := value` and compound assignments.
    Assign {
        /// Variable, field or element being assigned.
        target: Expr,
        /// Operator.
        op: AssignOp,
        /// New value.
        value: Expr,
    },
    /// A function or method definition.
    FuncDef(FuncDef),
    /// A user-defined type (`type Name` with fields).
    TypeDef {
        /// Type name.
        name: Ident,
        /// Exported from a library.
        export: bool,
        /// Fields.
        fields: Vec<Field>,
    },
    /// An enum (`enum Name` with members).
    EnumDef {
        /// Enum name.
        name: Ident,
        /// Exported from a library.
        export: bool,
        /// Members with optional titles.
        members: Vec<(Ident, Option<Expr>)>,
    },
    /// `import user/lib/1 as alias`.
    Import {
        /// The `user/lib/version` path.
        path: String,
        /// Namespace the library is bound to.
        alias: Ident,
    },
    /// `break`
    Break,
    /// `continue`
    Continue,
}

/// A field of a user-defined type.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Field type.
    pub ty: TypeRef,
    /// Field name.
    pub name: Ident,
    /// Default value.
    pub default: Option<Expr>,
}

/// A parameter of a user function.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// `const`, `simple` or `series`.
    pub qualifier: Option<String>,
    /// Declared type.
    pub ty: Option<TypeRef>,
    /// Parameter name.
    pub name: Ident,
    /// Default value (makes the parameter optional).
    pub default: Option<Expr>,
}

/// A function (`f(x) => …`) or method (`method m(T self) => …`) definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FuncDef {
    /// Function name.
    pub name: Ident,
    /// Declared with `method`.
    pub is_method: bool,
    /// Declared with `export`.
    pub export: bool,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// Body; a single-line body is one expression statement.
    pub body: Block,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Plus,
    /// `not x`
    Not,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `and`
    And,
    /// `or`
    Or,
}

/// A call argument, positional or named.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// Name for `name = value` arguments.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// An expression with its start position and end byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// Position of the first token.
    pub pos: Pos,
    /// Byte offset just past the last token.
    pub end: usize,
    /// What the expression is.
    pub kind: ExprKind,
}

/// The kinds of expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// Numeric literal (source text).
    Number(String),
    /// String literal (source text, quotes included).
    Str(String),
    /// Colour literal (source text).
    Color(String),
    /// `true` / `false`.
    Bool(bool),
    /// A name.
    Ident(String),
    /// `object.name`.
    Member {
        /// The expression before the dot.
        object: Box<Expr>,
        /// The member name.
        name: Ident,
    },
    /// `callee<generics>(args)`.
    Call {
        /// The called expression.
        callee: Box<Expr>,
        /// Generic type arguments.
        generics: Vec<TypeRef>,
        /// Arguments.
        args: Vec<Arg>,
    },
    /// History reference or element access `object[index]`.
    Index {
        /// The series.
        object: Box<Expr>,
        /// Bars back.
        index: Box<Expr>,
    },
    /// Unary operation.
    Unary {
        /// Operator.
        op: UnaryOp,
        /// Operand.
        operand: Box<Expr>,
    },
    /// Binary operation.
    Binary {
        /// Operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `cond ? a : b`.
    Ternary {
        /// Condition.
        cond: Box<Expr>,
        /// Value when true.
        then: Box<Expr>,
        /// Value when false.
        otherwise: Box<Expr>,
    },
    /// `[a, b, c]` tuple literal.
    Tuple(Vec<Expr>),
    /// `if … else if … else` (statement or expression).
    If {
        /// `(condition, block)` for `if` and each `else if`.
        branches: Vec<(Expr, Block)>,
        /// Final `else` block.
        otherwise: Option<Block>,
    },
    /// `switch [subject]` with cases; a case without condition is the default.
    Switch {
        /// Value compared against each case.
        subject: Option<Box<Expr>>,
        /// Cases in order.
        cases: Vec<(Option<Expr>, Block)>,
    },
    /// `for var = from to to [by step]`.
    For {
        /// Loop counter.
        var: Ident,
        /// Start value.
        from: Box<Expr>,
        /// End value (inclusive).
        to: Box<Expr>,
        /// Step.
        step: Option<Box<Expr>>,
        /// Body.
        body: Block,
    },
    /// `for x in coll` / `for [i, x] in coll`.
    ForIn {
        /// One or two loop variables.
        vars: Vec<Ident>,
        /// Collection.
        iter: Box<Expr>,
        /// Body.
        body: Block,
    },
    /// `while cond`.
    While {
        /// Condition.
        cond: Box<Expr>,
        /// Body.
        body: Block,
    },
}

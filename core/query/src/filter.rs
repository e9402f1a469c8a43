//! The filter language, MLflow's search syntax so users bring their habits:
//!
//! ```text
//! metrics.val_loss < 0.3 and params.training.optimizer = 'adam'
//!   and tags.team = 'nlp' and status = 'SUCCESS' and trial LIKE 'lr_%'
//!   order by metrics.val_loss asc limit 5
//! ```
//!
//! Comparisons `=, !=, <>, <, <=, >, >=`, `LIKE`, `ILIKE`, `[NOT] IN (...)`,
//! `IS [NOT] NULL`; `and`, `or`, `not`, parentheses; numbers and quoted
//! strings; `order by KEY [asc|desc], ...` and `limit N`. Keys name
//! columns of the runs frame: `metrics.KEY` (also `metrics.KEY.min`,
//! `.max`), `params.KEY`, `tags.KEY`, and `status`, `trial`, `experiment`,
//! `id`, `repeat`, `seed`, `host`, `duration` (MLflow's `metric.`,
//! `param.`, `tag.` and `attributes.` spellings work too); a key with
//! other characters goes in backticks (``metrics.`val-loss` ``).
//!
//! A query is parsed into an AST and compiled into polars expressions,
//! never pasted into SQL. An error points at the offending token with a
//! caret and says what was expected.

use polars::prelude::*;

use super::QueryError;
use expman_schema::suggest::closest as suggest_closest;

/// A parse or compile error at a place in the query text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub input: String,
    pub at: usize,
    pub len: usize,
    pub message: String,
}

impl FilterError {
    /// The query, a caret line under the offending token, and the message.
    pub fn render(&self) -> String {
        let col = self.input[..self.at.min(self.input.len())].chars().count();
        let width = self.input[self.at.min(self.input.len())..].chars().take(self.len.max(1)).count().max(1);
        format!("invalid filter: {}\n  {}\n  {}{}", self.message, self.input, " ".repeat(col), "^".repeat(width))
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// A backticked name part.
    Quoted(String),
    Str(String),
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Dot,
    End,
}

#[derive(Clone, Debug, PartialEq)]
struct Token {
    tok: Tok,
    at: usize,
    len: usize,
}

fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let err = |at: usize, len: usize, message: String| FilterError { input: input.to_string(), at, len, message };
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' | b')' | b',' | b'.' => {
                let tok = match c {
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b',' => Tok::Comma,
                    _ => {
                        // `.5` is a number, `a.b` a path.
                        if bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                            && !matches!(out.last(), Some(Token { tok: Tok::Ident(_) | Tok::Quoted(_), .. }))
                        {
                            let (n, len) = number(&input[i..]).ok_or_else(|| err(i, 1, "malformed number".into()))?;
                            out.push(Token { tok: Tok::Num(n), at: i, len });
                            i += len;
                            continue;
                        }
                        Tok::Dot
                    }
                };
                out.push(Token { tok, at: i, len: 1 });
                i += 1;
            }
            b'\'' | b'"' | b'`' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(err(start, input.len() - start, "unclosed quote".into())),
                        Some(&q) if q == quote => {
                            if bytes.get(i + 1) == Some(&quote) {
                                text.push(quote as char);
                                i += 2;
                                continue;
                            }
                            i += 1;
                            break;
                        }
                        Some(_) => {
                            let ch = input[i..].chars().next().unwrap_or(' ');
                            text.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                let tok = if quote == b'`' { Tok::Quoted(text) } else { Tok::Str(text) };
                out.push(Token { tok, at: start, len: i - start });
            }
            b'=' | b'!' | b'<' | b'>' => {
                let two = input.get(i..i + 2).unwrap_or("");
                let op: &'static str = match two {
                    "==" => "=",
                    "!=" => "!=",
                    "<>" => "!=",
                    "<=" => "<=",
                    ">=" => ">=",
                    _ => match c {
                        b'=' => "=",
                        b'<' => "<",
                        b'>' => ">",
                        _ => return Err(err(i, 1, "expected `!=`".into())),
                    },
                };
                let len = if matches!(two, "==" | "!=" | "<>" | "<=" | ">=") { 2 } else { 1 };
                out.push(Token { tok: Tok::Op(op), at: i, len });
                i += len;
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let (n, len) = number(&input[i..]).ok_or_else(|| err(i, 1, "expected a number".into()))?;
                out.push(Token { tok: Tok::Num(n), at: i, len });
                i += len;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'-') {
                    i += 1;
                }
                out.push(Token { tok: Tok::Ident(input[start..i].to_string()), at: start, len: i - start });
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or('?');
                return Err(err(i, ch.len_utf8(), format!("unexpected character `{ch}`")));
            }
        }
    }
    out.push(Token { tok: Tok::End, at: input.len(), len: 0 });
    Ok(out)
}

/// A number at the start of `s`: its value and length.
fn number(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits_start = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i == digits_start {
        return None;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < b.len() && matches!(b[j], b'-' | b'+') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    s[..i].parse().ok().map(|n| (n, i))
}

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
enum Lit {
    Num(f64),
    Str(String),
}

/// The parsed query.
#[derive(Clone, Debug, PartialEq)]
enum Ast {
    Or(Box<Ast>, Box<Ast>),
    And(Box<Ast>, Box<Ast>),
    Not(Box<Ast>),
    Cmp { key: Key, op: &'static str, value: Lit, value_at: (usize, usize) },
    Like { key: Key, pattern: String, case_insensitive: bool, negated: bool },
    In { key: Key, values: Vec<(Lit, (usize, usize))>, negated: bool },
    IsNull { key: Key, negated: bool },
}

/// A key as written, and where.
#[derive(Clone, Debug, PartialEq)]
struct Key {
    parts: Vec<String>,
    at: usize,
    len: usize,
}

/// A parsed query: an optional condition, sort keys, a limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    text: String,
    condition: Option<Ast>,
    order: Vec<(Key, bool)>,
    limit: Option<usize>,
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

fn keyword(tok: &Tok, word: &str) -> bool {
    matches!(tok, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn error(&self, token: &Token, expected: &str) -> FilterError {
        let found = match &token.tok {
            Tok::End => "the end of the filter".to_string(),
            _ => format!("`{}`", &self.input[token.at..token.at + token.len]),
        };
        FilterError {
            input: self.input.to_string(),
            at: token.at,
            len: token.len,
            message: format!("expected {expected}, found {found}"),
        }
    }

    fn is_kw(&self, word: &str) -> bool {
        keyword(&self.peek().tok, word)
    }

    fn query(&mut self) -> Result<Query, FilterError> {
        let condition = if self.is_kw("order") || self.is_kw("limit") || self.peek().tok == Tok::End {
            None
        } else {
            Some(self.or()?)
        };
        let mut order = Vec::new();
        if self.is_kw("order") {
            self.next();
            if !self.is_kw("by") {
                return Err(self.error(&self.peek().clone(), "`by` after `order`"));
            }
            self.next();
            loop {
                let key = self.key()?;
                let mut desc = false;
                if self.is_kw("asc") {
                    self.next();
                } else if self.is_kw("desc") {
                    self.next();
                    desc = true;
                }
                order.push((key, desc));
                if self.peek().tok == Tok::Comma {
                    self.next();
                } else {
                    break;
                }
            }
        }
        let mut limit = None;
        if self.is_kw("limit") {
            self.next();
            let t = self.next();
            match t.tok {
                Tok::Num(n) if n >= 0.0 && n.fract() == 0.0 => limit = Some(n as usize),
                _ => return Err(self.error(&t, "a whole number after `limit`")),
            }
        }
        let t = self.peek().clone();
        if t.tok != Tok::End {
            let expected =
                if condition.is_some() { "`and`, `or`, `order by`, `limit` or the end" } else { "a condition" };
            return Err(self.error(&t, expected));
        }
        Ok(Query { text: self.input.to_string(), condition, order, limit })
    }

    fn or(&mut self) -> Result<Ast, FilterError> {
        let mut left = self.and()?;
        while self.is_kw("or") {
            self.next();
            let right = self.and()?;
            left = Ast::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Ast, FilterError> {
        let mut left = self.unary()?;
        while self.is_kw("and") {
            self.next();
            let right = self.unary()?;
            left = Ast::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Ast, FilterError> {
        if self.is_kw("not") {
            self.next();
            return Ok(Ast::Not(Box::new(self.unary()?)));
        }
        if self.peek().tok == Tok::LParen {
            self.next();
            let inner = self.or()?;
            let t = self.next();
            if t.tok != Tok::RParen {
                return Err(self.error(&t, "`)`"));
            }
            return Ok(inner);
        }
        self.comparison()
    }

    fn key(&mut self) -> Result<Key, FilterError> {
        let first = self.next();
        let mut parts = match &first.tok {
            Tok::Ident(s) | Tok::Quoted(s) => vec![s.clone()],
            _ => return Err(self.error(&first, "a key such as `metrics.val_loss`, `params.lr` or `status`")),
        };
        let mut end = first.at + first.len;
        while self.peek().tok == Tok::Dot {
            self.next();
            let part = self.next();
            match &part.tok {
                Tok::Ident(s) | Tok::Quoted(s) | Tok::Str(s) => parts.push(s.clone()),
                Tok::Num(_) => parts.push(self.input[part.at..part.at + part.len].to_string()),
                _ => return Err(self.error(&part, "a name after `.`")),
            }
            end = part.at + part.len;
        }
        Ok(Key { parts, at: first.at, len: end - first.at })
    }

    fn literal(&mut self) -> Result<(Lit, (usize, usize)), FilterError> {
        let t = self.next();
        match t.tok {
            Tok::Num(n) => Ok((Lit::Num(n), (t.at, t.len))),
            Tok::Str(s) => Ok((Lit::Str(s), (t.at, t.len))),
            _ => Err(self.error(&t, "a number or a quoted string")),
        }
    }

    fn comparison(&mut self) -> Result<Ast, FilterError> {
        let key = self.key()?;
        let t = self.next();
        match &t.tok {
            Tok::Op(op) => {
                let (value, value_at) = self.literal()?;
                Ok(Ast::Cmp { key, op, value, value_at })
            }
            tok if keyword(tok, "like") || keyword(tok, "ilike") => self.like(key, keyword(tok, "ilike"), false),
            tok if keyword(tok, "in") => self.in_list(key, false),
            tok if keyword(tok, "is") => {
                let negated = if self.is_kw("not") {
                    self.next();
                    true
                } else {
                    false
                };
                let n = self.next();
                if !keyword(&n.tok, "null") {
                    return Err(self.error(&n, "`null`"));
                }
                Ok(Ast::IsNull { key, negated })
            }
            tok if keyword(tok, "not") => {
                let n = self.next();
                if keyword(&n.tok, "in") {
                    self.in_list(key, true)
                } else if keyword(&n.tok, "like") || keyword(&n.tok, "ilike") {
                    self.like(key, keyword(&n.tok, "ilike"), true)
                } else {
                    Err(self.error(&n, "`in`, `like` or `ilike` after `not`"))
                }
            }
            _ => {
                Err(self.error(&t, "a comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`, `like`, `ilike`, `in`, `is null`)"))
            }
        }
    }

    fn like(&mut self, key: Key, case_insensitive: bool, negated: bool) -> Result<Ast, FilterError> {
        let t = self.next();
        match t.tok {
            Tok::Str(pattern) => Ok(Ast::Like { key, pattern, case_insensitive, negated }),
            _ => Err(self.error(&t, "a quoted pattern such as 'lr_%'")),
        }
    }

    fn in_list(&mut self, key: Key, negated: bool) -> Result<Ast, FilterError> {
        let t = self.next();
        if t.tok != Tok::LParen {
            return Err(self.error(&t, "`(` to start the list"));
        }
        let mut values = vec![self.literal()?];
        loop {
            let t = self.next();
            match t.tok {
                Tok::Comma => values.push(self.literal()?),
                Tok::RParen => break,
                _ => return Err(self.error(&t, "`,` or `)`")),
            }
        }
        Ok(Ast::In { key, values, negated })
    }
}

/// Column names a key may be written as, besides the column itself.
fn column_name(parts: &[String]) -> String {
    let mut parts: Vec<String> = parts.to_vec();
    match parts[0].as_str() {
        "metric" => parts[0] = "metrics".into(),
        "param" => parts[0] = "params".into(),
        "tag" => parts[0] = "tags".into(),
        "attribute" | "attributes" | "attr" if parts.len() > 1 => {
            parts.remove(0);
        }
        _ => {}
    }
    let joined = parts.join(".");
    match joined.as_str() {
        "run_id" | "run" | "run_uuid" => "id".into(),
        "duration" => "duration_s".into(),
        "start_time" => "started_at".into(),
        "end_time" => "ended_at".into(),
        "trial_name" | "run_name" => "trial".into(),
        _ => joined,
    }
}

/// `%` and `_` as a regular expression, anchored.
fn like_regex(pattern: &str, case_insensitive: bool) -> String {
    let mut out = String::from(if case_insensitive { "(?is)^" } else { "(?s)^" });
    for c in pattern.chars() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c if "\\.+*?()|[]{}^$#&-~".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('$');
    out
}

impl Query {
    /// Parses a filter (possibly empty).
    pub fn parse(text: &str) -> Result<Query, FilterError> {
        let tokens = lex(text)?;
        Parser { input: text, tokens, pos: 0 }.query()
    }

    /// A query that selects everything.
    pub fn all() -> Query {
        Query { text: String::new(), condition: None, order: Vec::new(), limit: None }
    }

    /// Adds `order by` keys and a limit given as flags (they come after the
    /// query's own).
    pub fn with(mut self, order_by: &[String], limit: Option<usize>) -> Result<Query, FilterError> {
        for item in order_by {
            let extra = Query::parse(&format!("order by {item}"))?;
            self.order.extend(extra.order);
        }
        if limit.is_some() {
            self.limit = limit;
        }
        Ok(self)
    }

    fn error(&self, at: usize, len: usize, message: String) -> FilterError {
        FilterError { input: self.text.clone(), at, len, message }
    }

    /// The column a key names, checked against the frame.
    fn column(&self, key: &Key, schema: &Schema) -> Result<(String, DataType), FilterError> {
        let name = column_name(&key.parts);
        if let Some(dtype) = schema.get(&name) {
            return Ok((name, dtype.clone()));
        }
        let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
        let hint = match suggest_closest(&name, names.iter().copied()) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => {
                let prefix = name.split('.').next().unwrap_or("");
                let known: Vec<&str> =
                    names.iter().copied().filter(|n| n.starts_with(&format!("{prefix}."))).take(8).collect();
                if known.is_empty() { String::new() } else { format!("; known: {}", known.join(", ")) }
            }
        };
        Err(self.error(key.at, key.len, format!("no column `{name}` in the runs{hint}")))
    }

    fn compile(&self, ast: &Ast, schema: &Schema) -> Result<Expr, FilterError> {
        Ok(match ast {
            Ast::Or(a, b) => self.compile(a, schema)?.or(self.compile(b, schema)?),
            Ast::And(a, b) => self.compile(a, schema)?.and(self.compile(b, schema)?),
            Ast::Not(a) => self.compile(a, schema)?.not(),
            Ast::Cmp { key, op, value, value_at } => {
                let (name, dtype) = self.column(key, schema)?;
                let (left, right) = self.operands(&name, &dtype, value, *value_at)?;
                match *op {
                    "=" => left.eq(right),
                    "!=" => left.neq(right),
                    "<" => left.lt(right),
                    "<=" => left.lt_eq(right),
                    ">" => left.gt(right),
                    _ => left.gt_eq(right),
                }
            }
            Ast::Like { key, pattern, case_insensitive, negated } => {
                let (name, dtype) = self.column(key, schema)?;
                if dtype != DataType::String {
                    return Err(self.error(key.at, key.len, format!("`{name}` is not text; `like` matches text")));
                }
                let matched = col(name.as_str()).str().contains(lit(like_regex(pattern, *case_insensitive)), true);
                if *negated { matched.not() } else { matched }
            }
            Ast::In { key, values, negated } => {
                let (name, dtype) = self.column(key, schema)?;
                let mut exprs = Vec::new();
                for (value, at) in values {
                    let (left, right) = self.operands(&name, &dtype, value, *at)?;
                    exprs.push(left.eq(right));
                }
                let any = exprs.into_iter().reduce(|a, b| a.or(b)).unwrap_or(lit(false));
                if *negated { any.not() } else { any }
            }
            Ast::IsNull { key, negated } => {
                let (name, _) = self.column(key, schema)?;
                if *negated { col(name.as_str()).is_not_null() } else { col(name.as_str()).is_null() }
            }
        })
    }

    /// The two sides of a comparison, with types made to agree.
    fn operands(
        &self,
        name: &str,
        dtype: &DataType,
        value: &Lit,
        at: (usize, usize),
    ) -> Result<(Expr, Expr), FilterError> {
        let numeric = dtype.is_primitive_numeric();
        match (value, numeric, dtype) {
            (Lit::Num(n), true, _) => Ok((col(name).cast(DataType::Float64), lit(*n))),
            (Lit::Num(n), false, DataType::Boolean) => Ok((col(name).cast(DataType::Float64), lit(*n))),
            (Lit::Num(_), false, _) => {
                Err(self.error(at.0, at.1, format!("`{name}` is text; compare it with a quoted string")))
            }
            (Lit::Str(s), true, _) => match s.trim().parse::<f64>() {
                Ok(n) => Ok((col(name).cast(DataType::Float64), lit(n))),
                Err(_) => Err(self.error(at.0, at.1, format!("`{name}` is a number; compare it with a number"))),
            },
            (Lit::Str(s), false, DataType::Boolean) => match s.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok((col(name), lit(s.eq_ignore_ascii_case("true")))),
                _ => Err(self.error(at.0, at.1, format!("`{name}` is true or false"))),
            },
            (Lit::Str(s), false, DataType::Datetime(..)) => Ok((col(name).cast(DataType::String), lit(s.clone()))),
            (Lit::Str(s), false, _) => Ok((col(name), lit(s.clone()))),
        }
    }

    /// Applies the query to a runs frame.
    pub fn apply(&self, frame: DataFrame) -> Result<DataFrame, QueryError> {
        let schema = frame.schema().clone();
        let mut lazy = frame.lazy();
        if let Some(condition) = &self.condition {
            lazy = lazy.filter(self.compile(condition, &schema)?);
        }
        if !self.order.is_empty() {
            let mut by = Vec::new();
            let mut descending = Vec::new();
            for (key, desc) in &self.order {
                let (name, _) = self.column(key, &schema)?;
                by.push(col(name.as_str()));
                descending.push(*desc);
            }
            let options = SortMultipleOptions::default().with_order_descending_multi(descending).with_nulls_last(true);
            lazy = lazy.sort_by_exprs(by, options);
        }
        if let Some(n) = self.limit {
            lazy = lazy.limit(n as IdxSize);
        }
        Ok(lazy.collect()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df!(
            "id" => ["a", "b", "c", "d"],
            "trial" => ["lr_1", "lr_2", "base", "LR_3"],
            "status" => ["SUCCESS", "FAILED", "SUCCESS", "SUCCESS"],
            "metrics.val_loss" => [Some(0.2), Some(0.5), None, Some(0.25)],
            "params.training.optimizer" => [Some("adam"), Some("sgd"), Some("adam"), None],
            "params.layers" => [Some(2i64), Some(4), Some(2), Some(8)],
            "tags.team" => ["nlp", "nlp", "cv", "nlp"]
        )
        .unwrap()
    }

    fn ids(query: &str) -> Vec<String> {
        let out = Query::parse(query).unwrap().apply(frame()).unwrap();
        out.column("id").unwrap().str().unwrap().iter().map(|s| s.unwrap().to_string()).collect()
    }

    #[test]
    fn mlflow_style_queries() {
        assert_eq!(ids("metrics.val_loss < 0.3 and params.training.optimizer = 'adam'"), ["a"]);
        assert_eq!(ids("tags.team = 'nlp' and status = 'SUCCESS' order by metrics.val_loss desc"), ["d", "a"]);
        assert_eq!(ids("trial LIKE 'lr_%'"), ["a", "b"]);
        assert_eq!(ids("trial ILIKE 'lr_%'"), ["a", "b", "d"]);
        assert_eq!(ids("params.layers IN (2, 8) and not status = 'FAILED'"), ["a", "c", "d"]);
        assert_eq!(ids("(status = 'FAILED' or metrics.val_loss >= 0.25) limit 1"), ["b"]);
        assert_eq!(ids("metrics.val_loss is null"), ["c"]);
        assert_eq!(ids("metric.val_loss != 0.2 order by id"), ["b", "d"]);
        assert_eq!(ids("attributes.status = 'FAILED'"), ["b"]);
        assert_eq!(ids(""), ["a", "b", "c", "d"]);
        assert_eq!(ids("order by params.layers desc, id asc limit 2"), ["d", "b"]);
    }

    #[test]
    fn injection_is_just_a_string() {
        assert!(ids("trial = 'x'' or 1=1 --'").is_empty());
    }

    #[test]
    fn errors_point_at_the_token() {
        let e = Query::parse("metrics.val_loss < abc").unwrap_err();
        assert_eq!(
            e.render(),
            "invalid filter: expected a number or a quoted string, found `abc`\n  metrics.val_loss < abc\n                     ^^^"
        );
        let e = Query::parse("metrics.val_loss < 0.3 and").unwrap_err();
        assert!(e.message.contains("found the end of the filter"), "{}", e.message);
        let e = Query::parse("status = 'x' limit").unwrap_err();
        assert!(e.message.contains("a whole number"), "{}", e.message);
        let q = Query::parse("metrics.val_los < 1").unwrap();
        let e = q.apply(frame()).unwrap_err();
        assert!(
            e.to_string().contains("no column `metrics.val_los` in the runs; did you mean `metrics.val_loss`?"),
            "{e}"
        );
        assert!(e.to_string().contains("  ^^^^^^^^^^^^^^^"), "{e}");
        let e = Query::parse("trial > 3").unwrap().apply(frame()).unwrap_err();
        assert!(e.to_string().contains("`trial` is text"), "{e}");
        let e = Query::parse("params.layers like '2%'").unwrap().apply(frame()).unwrap_err();
        assert!(e.to_string().contains("not text"), "{e}");
    }
}

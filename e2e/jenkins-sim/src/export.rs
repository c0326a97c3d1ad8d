//! Stapler's export machinery: the `tree=` parser (the grammar of Stapler's
//! `NamedPathPruner`), the `depth=` rules, and the serialisation of lazily built models.
//!
//! Every exported object has a `_class` and a list of properties, each with a visibility.
//! With `tree=` only the named properties are exported (`*` names all of them), nested with
//! `[...]`, lists cut with `{M,N}` / `{M,}` / `{,N}` / `{N}`. Without `tree=`, the top object
//! exports its properties of visibility ≥ 1 and an object nested L levels down those of
//! visibility > L − depth (Jenkins' job `name`, `url` and `color` have visibility 2, so
//! `/api/json` lists jobs with just those). The visibilities are plausible, not copied.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// An exported document. Objects keep their property order (Stapler's), which
/// `serde_json::Map` would sort without the workspace-wide `preserve_order` feature.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Json(Value),
    Obj(Vec<(String, Out)>),
    Arr(Vec<Out>),
}

impl Out {
    /// As a `serde_json::Value` (keys sorted), for tests and internal checks.
    pub fn to_value(&self) -> Value {
        match self {
            Out::Json(v) => v.clone(),
            Out::Obj(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
            Out::Arr(items) => Value::Array(items.iter().map(Out::to_value).collect()),
        }
    }
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Json(v) => v.serialize(s),
            Out::Obj(fields) => {
                let mut m = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Out::Arr(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    q.serialize_element(item)?;
                }
                q.end()
            }
        }
    }
}

/// One node of a parsed `tree=`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree {
    pub children: Vec<(String, Tree)>,
    pub range: Option<(usize, usize)>,
}

impl Tree {
    fn child(&self, name: &str) -> Option<&Tree> {
        self.children
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .or_else(|| self.children.iter().rev().find(|(n, _)| n == "*"))
            .map(|(_, t)| t)
    }

    /// Parses a `tree=` value; `Err` carries Stapler's message ("expected name at 7").
    pub fn parse(spec: &str) -> Result<Tree, String> {
        let mut r = Reader { text: spec, pos: 0 };
        let mut t = Tree::default();
        list(&mut r, &mut t)?;
        r.expect(Tok::Eof)?;
        Ok(t)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Comma,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Eof,
    Name(&'a str),
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> (Tok<'a>, usize) {
        let rest = &self.text[self.pos..];
        match rest.chars().next() {
            None => (Tok::Eof, self.pos),
            Some(',') => (Tok::Comma, self.pos + 1),
            Some('[') => (Tok::LBracket, self.pos + 1),
            Some(']') => (Tok::RBracket, self.pos + 1),
            Some('{') => (Tok::LBrace, self.pos + 1),
            Some('}') => (Tok::RBrace, self.pos + 1),
            Some(_) => {
                let end = rest
                    .find([',', '[', ']', '{', '}'])
                    .map_or(self.text.len(), |i| self.pos + i);
                (Tok::Name(&self.text[self.pos..end]), end)
            }
        }
    }
    fn accept(&mut self, tok: Tok<'_>) -> bool {
        let (t, next) = self.peek();
        if t == tok {
            self.pos = next;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, tok: Tok<'_>) -> Result<(), String> {
        if self.accept(tok) {
            Ok(())
        } else {
            Err(format!("expected {tok:?} at {}", self.pos))
        }
    }
    fn number(&mut self) -> Result<usize, String> {
        match self.peek() {
            (Tok::Name(s), next) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                let n = s
                    .parse::<usize>()
                    .map_err(|_| format!("expected number at {}", self.pos))?;
                self.pos = next;
                Ok(n)
            }
            _ => Err(format!("expected number at {}", self.pos)),
        }
    }
}

fn list(r: &mut Reader<'_>, t: &mut Tree) -> Result<(), String> {
    node(r, t)?;
    while r.accept(Tok::Comma) {
        node(r, t)?;
    }
    Ok(())
}

fn node(r: &mut Reader<'_>, t: &mut Tree) -> Result<(), String> {
    let (tok, next) = r.peek();
    let Tok::Name(name) = tok else {
        return Err(format!("expected name at {}", r.pos));
    };
    r.pos = next;
    let mut sub = Tree::default();
    if r.accept(Tok::LBracket) {
        list(r, &mut sub)?;
        r.expect(Tok::RBracket)?;
    }
    if r.accept(Tok::LBrace) {
        sub.range = Some(range(r)?);
        r.expect(Tok::RBrace)?;
    }
    t.children.push((name.to_owned(), sub));
    Ok(())
}

fn range(r: &mut Reader<'_>) -> Result<(usize, usize), String> {
    if r.accept(Tok::Comma) {
        return Ok((0, r.number()?));
    }
    let min = r.number()?;
    if r.peek().0 == Tok::RBrace {
        return Ok((min, min.saturating_add(1)));
    }
    r.expect(Tok::Comma)?;
    if r.peek().0 == Tok::RBrace {
        return Ok((min, usize::MAX));
    }
    Ok((min, r.number()?))
}

/// A lazily computed exported value.
pub enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Json(Value),
    Obj(Box<dyn Model + 'a>),
    List(Vec<V<'a>>),
}

impl<'a> V<'a> {
    pub fn str(s: impl Into<String>) -> V<'a> {
        V::Str(s.into())
    }
    pub fn opt_str(s: Option<impl Into<String>>) -> V<'a> {
        s.map_or(V::Null, |s| V::Str(s.into()))
    }
    pub fn obj(m: impl Model + 'a) -> V<'a> {
        V::Obj(Box::new(m))
    }
    pub fn opt_obj<M: Model + 'a>(m: Option<M>) -> V<'a> {
        m.map_or(V::Null, |m| V::Obj(Box::new(m)))
    }
}

/// An exported object: its `_class`, its properties with their visibility, and their values.
pub trait Model {
    /// `None` exports no `_class` (Jenkins' `{}` for actions of anonymous classes).
    fn class(&self) -> Option<&str>;
    fn properties(&self) -> &'static [(&'static str, i32)];
    fn get(&self, name: &str) -> V<'_>;
    /// An `@Exported(inline=true)` property: with `depth=`, its objects are exported at this
    /// object's level (the queue's `items`).
    fn inline(&self, _name: &str) -> bool {
        false
    }
}

/// How to select properties.
#[derive(Clone, Copy)]
pub enum Sel<'t> {
    Tree(&'t Tree),
    Depth { depth: u32, level: u32 },
}

pub fn export(m: &dyn Model, sel: Sel<'_>) -> Out {
    let mut map = Vec::new();
    if let Some(class) = m.class() {
        map.push((
            "_class".to_owned(),
            Out::Json(Value::String(class.to_owned())),
        ));
    }
    for &(name, visibility) in m.properties() {
        let (child_sel, range) = match sel {
            Sel::Tree(t) => match t.child(name) {
                Some(sub) => (Sel::Tree(sub), sub.range),
                None => continue,
            },
            Sel::Depth { depth, level } => {
                if i64::from(visibility) + i64::from(depth) <= i64::from(level) {
                    continue;
                }
                let level = if m.inline(name) { level } else { level + 1 };
                (Sel::Depth { depth, level }, None)
            }
        };
        let value = m.get(name);
        map.push((name.to_owned(), value_to_json(value, child_sel, range)));
    }
    Out::Obj(map)
}

fn value_to_json(v: V<'_>, sel: Sel<'_>, range: Option<(usize, usize)>) -> Out {
    match v {
        V::Null => Out::Json(Value::Null),
        V::Bool(b) => Out::Json(Value::Bool(b)),
        V::Int(i) => Out::Json(Value::from(i)),
        V::Str(s) => Out::Json(Value::String(s)),
        V::Json(j) => Out::Json(prune(j, sel, range)),
        V::Obj(m) => export(m.as_ref(), sel),
        V::List(items) => {
            let (from, to) = range.unwrap_or((0, usize::MAX));
            Out::Arr(
                items
                    .into_iter()
                    .skip(from)
                    .take(to.saturating_sub(from))
                    .map(|item| value_to_json(item, sel, None))
                    .collect(),
            )
        }
    }
}

/// Applies a tree (and range) to a literal JSON value, as if its objects were models whose
/// properties are their keys.
fn prune(v: Value, sel: Sel<'_>, range: Option<(usize, usize)>) -> Value {
    let Sel::Tree(t) = sel else {
        return v;
    };
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| {
                    if k == "_class" {
                        return Some((k, v));
                    }
                    let sub = t.child(&k)?;
                    let v = prune(v, Sel::Tree(sub), sub.range);
                    Some((k, v))
                })
                .collect(),
        ),
        Value::Array(items) => {
            let (from, to) = range.unwrap_or((0, usize::MAX));
            Value::Array(
                items
                    .into_iter()
                    .skip(from)
                    .take(to.saturating_sub(from))
                    .map(|item| prune(item, sel, None))
                    .collect(),
            )
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &Tree) -> Vec<&str> {
        t.children.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn parses_nested_trees_and_ranges() {
        let t = Tree::parse("a,b[c,d]{,10},e").expect("parses");
        assert_eq!(names(&t), ["a", "b", "e"]);
        let b = t.child("b").expect("b");
        assert_eq!(names(b), ["c", "d"]);
        assert_eq!(b.range, Some((0, 10)));
        assert_eq!(
            Tree::parse("x{3}").expect("parses").children[0].1.range,
            Some((3, 4))
        );
        assert_eq!(
            Tree::parse("x{3,}").expect("parses").children[0].1.range,
            Some((3, usize::MAX))
        );
        assert_eq!(
            Tree::parse("x[y]{2,5}").expect("parses").children[0]
                .1
                .range,
            Some((2, 5))
        );
    }

    #[test]
    fn rejects_malformed_trees() {
        for bad in [
            "", "a,", "a[b", "a]", "a[]", "a{1,b}", "a{", "a{1", ",a", "a[b]]", "a{-1}",
        ] {
            assert!(Tree::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}

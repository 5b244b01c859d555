//! JSON text read strictly: a key given twice in one object is refused, at any
//! depth. serde_json keeps the last of two, other readers the first, so
//! `{"action":"status",...,"action":"pause"}` would be read as a status by a
//! person and carried out as a pause: every payload, environment value and
//! series file goes through here instead.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use thiserror::Error;

use crate::model::{clipped, shown};

#[derive(Debug, Error)]
pub enum JsonError {
    /// The same key twice in one object.
    #[error("{key} is given twice {at}: give each key once")]
    Duplicate { key: String, at: String },
    #[error("{0}")]
    Syntax(#[source] serde_json::Error),
}

/// One JSON document, the whole text, with no key repeated in any object.
pub fn parse(text: &[u8]) -> Result<Value, JsonError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(text);
    let strict = Strict {
        path: String::new(),
        duplicate: &duplicate,
    };
    match strict
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
    {
        Ok(v) => Ok(v),
        // The visitor's own error only says "duplicate key": the side channel
        // carries which key and where, without serde_json's line and column.
        Err(e) => Err(duplicate.take().unwrap_or(JsonError::Syntax(e))),
    }
}

/// Builds a `Value` like serde_json's own, remembering where it is.
struct Strict<'a> {
    /// `policy.metrics[0]`; empty at the top level.
    path: String,
    duplicate: &'a RefCell<Option<JsonError>>,
}

impl Strict<'_> {
    fn child(&self, step: fmt::Arguments<'_>) -> Self {
        let path = if self.path.is_empty() {
            step.to_string().trim_start_matches('.').to_string()
        } else {
            format!("{}{step}", self.path)
        };
        Strict {
            path,
            duplicate: self.duplicate,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text has no NaN or infinity, so this always holds a number.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.child(format_args!("[{}]", out.len())))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let at = if self.path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in {}", clipped(self.path.clone(), 120))
                };
                *self.duplicate.borrow_mut() = Some(JsonError::Duplicate {
                    key: shown(&key),
                    at,
                });
                return Err(A::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(self.child(format_args!(".{key}")))?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        let text = r#"{"a":[1,-2,3.5,true,null,"x",{"b":{}}],"c":18446744073709551615}"#;
        let want: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parse(text.as_bytes()).unwrap(), want);
        for bad in ["", "{", "{} {}", "[1,]", "nul"] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(JsonError::Syntax(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_key_twice_is_refused_where_it_is() {
        let cases = [
            (
                r#"{"action":"status","action":"pause"}"#,
                r#""action" is given twice at the top level"#,
            ),
            (
                r#"{"dry_run":true,"x":1,"dry_run":false}"#,
                r#""dry_run" is given twice at the top level"#,
            ),
            (
                r#"{"policy":{"steps":[100],"steps":[10]}}"#,
                r#""steps" is given twice in policy"#,
            ),
            (
                r#"{"targets":[{"function":"f"},{"alias":"a","alias":"b"}]}"#,
                r#""alias" is given twice in targets[1]"#,
            ),
            (
                r#"{"a":{"b":[{"c":1,"c":1}]}}"#,
                r#""c" is given twice in a.b[0]"#,
            ),
        ];
        for (text, want) in cases {
            let e = parse(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        let huge = format!(r#"{{"{k}":1,"{k}":2}}"#, k = "k".repeat(100_000));
        assert!(parse(huge.as_bytes()).unwrap_err().to_string().len() < 200);
    }
}

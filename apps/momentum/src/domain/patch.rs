//! Three-state fields of update bodies: absent (keep), `null` (clear), a value (set).
//! Document such a field with `#[schema(value_type = Option<T>)]`.

use serde::{Deserialize, Deserializer};

/// A field of a `PUT` body: absent keeps the stored value, `null` clears it, a value sets it
/// (JSON Merge Patch semantics, RFC 7396 §2).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch<T> {
    /// Not in the body: unchanged.
    #[default]
    Absent,
    /// `null`: cleared.
    Null,
    /// A new value.
    Value(T),
}

impl<T> Patch<T> {
    /// Whether the body named the field at all.
    pub fn is_present(&self) -> bool {
        !matches!(self, Patch::Absent)
    }

    /// The value, if one was given.
    pub fn value(&self) -> Option<&T> {
        match self {
            Patch::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Maps the value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)),
        }
    }

    /// The new stored value given the old one.
    pub fn apply(self, old: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => old,
            Patch::Null => None,
            Patch::Value(v) => Some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Value(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        a: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_differ() {
        let b: Body = serde_json::from_str("{}").unwrap();
        assert_eq!(b.a, Patch::Absent);
        let b: Body = serde_json::from_str(r#"{"a":null}"#).unwrap();
        assert_eq!(b.a, Patch::Null);
        let b: Body = serde_json::from_str(r#"{"a":"x"}"#).unwrap();
        assert_eq!(b.a, Patch::Value("x".into()));
        assert_eq!(Patch::Value(1).apply(Some(2)), Some(1));
        assert_eq!(Patch::<i32>::Null.apply(Some(2)), None);
        assert_eq!(Patch::<i32>::Absent.apply(Some(2)), Some(2));
    }
}

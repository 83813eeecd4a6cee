//! Integers as JSON Schema defines them: "any number with a zero fractional part"
//! (JSON Schema Core 2020-12, section 4.2.2), so `3.0` is the integer 3. serde's `i64` refuses
//! `3.0`, which made the server reject bodies its own OpenAPI document allows (issue 7,
//! item 13). Use with `#[serde(deserialize_with = "trellis_kernel::json_int::i64")]`.

use serde::{Deserialize, Deserializer, de::Error as _};

/// An `i64` from a JSON integer or from a number with no fractional part within range;
/// anything else is the usual type error (rendered 422 by the kernel's `Json` extractor).
pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        Int(i64),
        Float(f64),
    }
    match Num::deserialize(d) {
        Ok(Num::Int(i)) => Ok(i),
        // i64::MIN is exactly representable; i64::MAX rounds up to 2^63, hence `<`.
        Ok(Num::Float(f)) if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63) => {
            Ok(f as i64) // integral and in range: exact
        }
        _ => Err(D::Error::custom("expected an integer")),
    }
}

/// [`i64`] for an optional field: `null` is `None`. Use with `#[serde(default)]` so that an
/// absent field is `None` too.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "i64")] i64);
    Ok(Option::<Whole>::deserialize(d)?.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    //! Regression: `{"id": 3.0}` was refused although the document says `integer`.
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::i64")]
        id: i64,
    }

    fn id(json: &str) -> Option<i64> {
        serde_json::from_str::<Body>(json).ok().map(|b| b.id)
    }

    #[test]
    fn integral_numbers_are_integers() {
        assert_eq!(id(r#"{"id": 3}"#), Some(3));
        assert_eq!(id(r#"{"id": 3.0}"#), Some(3));
        assert_eq!(id(r#"{"id": -0.0}"#), Some(0));
        assert_eq!(id(r#"{"id": 1e3}"#), Some(1000));
        assert_eq!(id(r#"{"id": 3.5}"#), None);
        assert_eq!(id(r#"{"id": 1e300}"#), None);
        assert_eq!(id(r#"{"id": "3"}"#), None);
        assert_eq!(id(r#"{"id": null}"#), None);
    }

    #[derive(serde::Deserialize)]
    struct Optional {
        #[serde(default, deserialize_with = "super::opt_i64")]
        at: Option<i64>,
    }

    fn at(json: &str) -> Result<Option<i64>, ()> {
        serde_json::from_str::<Optional>(json)
            .map(|b| b.at)
            .map_err(|_| ())
    }

    #[test]
    fn optional_integral_numbers() {
        assert_eq!(at(r#"{"at": 4461.0}"#), Ok(Some(4461)));
        assert_eq!(at(r#"{"at": 7}"#), Ok(Some(7)));
        assert_eq!(at(r#"{"at": null}"#), Ok(None));
        assert_eq!(at("{}"), Ok(None));
        assert!(at(r#"{"at": 0.5}"#).is_err());
    }
}

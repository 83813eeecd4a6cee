//! Token usage: reading the provider's `usage` object leniently, estimating when it reports
//! none, summing attempts and pricing them.
//!
//! The estimate is the common rule of thumb of about four characters per token (OpenAI's
//! tokenizer guidance for English text): `ceil(chars / 4)` for the prompt (the contents of
//! every message) and for the completion (answer plus reasoning). It is rough for Chinese
//! text (closer to one or two characters per token), which is why a reported usage always
//! wins.

use serde_json::Value;

use crate::Usage;

/// Reads `{"prompt_tokens", "completion_tokens", "total_tokens"}`; `None` unless it is an
/// object with at least one of them as a non-negative integer. A missing total is the sum.
pub(crate) fn from_wire(v: &Value) -> Option<Usage> {
    let obj = v.as_object()?;
    let field = |name: &str| obj.get(name).and_then(Value::as_u64);
    let (prompt, completion, total) = (
        field("prompt_tokens"),
        field("completion_tokens"),
        field("total_tokens"),
    );
    if prompt.is_none() && completion.is_none() && total.is_none() {
        return None;
    }
    let prompt_tokens = prompt.unwrap_or(0);
    let completion_tokens = completion.unwrap_or(0);
    Some(Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: total.unwrap_or(prompt_tokens.saturating_add(completion_tokens)),
    })
}

/// The estimate for `prompt_chars` and `completion_chars` characters (see the module doc).
pub(crate) fn estimate(prompt_chars: usize, completion_chars: usize) -> Usage {
    let tokens = |chars: usize| u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX);
    let prompt_tokens = tokens(prompt_chars);
    let completion_tokens = tokens(completion_chars);
    Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens.saturating_add(completion_tokens),
    }
}

/// `a + b`, field by field, saturating.
pub(crate) fn add(a: Usage, b: Usage) -> Usage {
    Usage {
        prompt_tokens: a.prompt_tokens.saturating_add(b.prompt_tokens),
        completion_tokens: a.completion_tokens.saturating_add(b.completion_tokens),
        total_tokens: a.total_tokens.saturating_add(b.total_tokens),
    }
}

/// US dollars for `u` at the given prices (US dollars per million tokens).
pub(crate) fn cost(u: Usage, input_per_mtok: f64, output_per_mtok: f64) -> f64 {
    // u64 → f64 loses precision only past 2^53 tokens.
    (u.prompt_tokens as f64 * input_per_mtok + u.completion_tokens as f64 * output_per_mtok)
        / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_usage_is_read_leniently() {
        let u = from_wire(&json!({"prompt_tokens": 3, "completion_tokens": 4})).unwrap();
        assert_eq!(u.total_tokens, 7);
        let u = from_wire(&json!({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 9}));
        assert_eq!(u.unwrap().total_tokens, 9);
        assert_eq!(from_wire(&json!(null)), None);
        assert_eq!(from_wire(&json!({"prompt_tokens": -1})), None);
        assert_eq!(from_wire(&json!({})), None);
    }

    #[test]
    fn estimate_rounds_up() {
        let u = estimate(9, 0);
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (3, 0, 3)
        );
    }

    #[test]
    fn cost_uses_both_prices() {
        let u = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            total_tokens: 1_500_000,
        };
        assert!((cost(u, 0.5, 2.0) - 1.5).abs() < 1e-9);
        assert_eq!(add(u, u).total_tokens, 3_000_000);
    }
}

//! JSON Schema (draft 2020-12) of the LLM [`super::Narrative`]: texts only — `ai_suggestions`
//! and exactly four weeks of `diet_adjustment_principle`, `weekly_special_adjustment_note`
//! and `suggestions`. No numeric field exists or is required; length limits match what
//! `assemble` keeps (longer texts are cut there as well).

use serde_json::{Value, json};

use super::assemble::{MAX_ITEM, MAX_ITEMS, MAX_SUGGESTIONS, MAX_WEEK_TEXT};

/// The schema document.
pub(crate) fn narrative() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Narrative",
        "description": "Narrative text added on top of the nutrition engine's plan. It must not contain or change any numbers of the plan; the engine's numbers are authoritative.",
        "type": "object",
        "additionalProperties": false,
        "required": ["ai_suggestions", "weeks"],
        "properties": {
            "ai_suggestions": {"type": "string", "maxLength": MAX_SUGGESTIONS},
            "weeks": {
                "type": "array",
                "minItems": 4,
                "maxItems": 4,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["diet_adjustment_principle", "weekly_special_adjustment_note", "suggestions"],
                    "properties": {
                        "diet_adjustment_principle": {"type": "string", "maxLength": MAX_WEEK_TEXT},
                        "weekly_special_adjustment_note": {"type": "string", "maxLength": MAX_WEEK_TEXT},
                        "suggestions": {
                            "type": "array",
                            "maxItems": MAX_ITEMS,
                            "items": {"type": "string", "maxLength": MAX_ITEM}
                        }
                    }
                }
            }
        }
    })
}

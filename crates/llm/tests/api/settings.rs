//! Settings through the public API: placeholders, errors naming variables, order, and a
//! `Debug` that hides keys.

use std::collections::HashMap;

use trellis_llm::{Llm, check_settings};

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_seed_placeholders_count_as_unset() {
    let seed = vars(&[
        (
            "DASHSCOPE_API_BASE",
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
        ),
        ("DASHSCOPE_API_KEY", "your-dashscope-api-key"),
        ("DEEPSEEK_API_KEY", "your-deepseek-api-key"),
        ("ZAI_API_KEY", "your-zai-api-key"),
        ("MOONSHOT_API_KEY", "your-moonshot-api-key"),
        ("SILICONFLOW_API_KEY", "your-siliconflow-api-key"),
    ]);
    assert!(Llm::from_vars(&seed).unwrap().is_none());
    assert!(check_settings(&seed).is_empty());

    let mut one_real = seed.clone();
    one_real.insert("MOONSHOT_API_KEY".into(), "sk-real".into());
    let llm = Llm::from_vars(&one_real).unwrap().unwrap();
    assert_eq!(llm.providers(), ["moonshot"]);
}

#[test]
fn errors_name_the_variable() {
    let errors = check_settings(&vars(&[
        ("DEEPSEEK_API_KEY", "sk-x"),
        ("TRELLIS_LLM_PROVIDERS", "deepseek,gpt"),
        ("TRELLIS_LLM_TIMEOUT_SECONDS", "forever"),
        ("DEEPSEEK_PRICE_OUTPUT_PER_MTOK", "free"),
        ("ZAI_API_BASE", "api.z.ai"),
    ]));
    let named: Vec<&str> = errors
        .iter()
        .map(|e| e.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        named,
        [
            "TRELLIS_LLM_PROVIDERS",
            "TRELLIS_LLM_TIMEOUT_SECONDS",
            "DEEPSEEK_PRICE_OUTPUT_PER_MTOK",
            "ZAI_API_BASE"
        ],
        "{errors:?}"
    );
    assert!(Llm::from_vars(&vars(&[("TRELLIS_LLM_MAX_RETRIES", "x")])).is_err());
}

#[test]
fn providers_follow_the_configured_order() {
    let llm = Llm::from_vars(&vars(&[
        ("TRELLIS_LLM_PROVIDERS", "siliconflow,zai,deepseek"),
        ("DEEPSEEK_API_KEY", "a"),
        ("SILICONFLOW_API_KEY", "b"),
        ("DASHSCOPE_API_KEY", "c"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(llm.providers(), ["siliconflow", "deepseek"]);
}

#[test]
fn debug_does_not_show_the_key() {
    let key = "sk-do-not-print-me-0123456789";
    let llm = Llm::from_vars(&vars(&[("DEEPSEEK_API_KEY", key)]))
        .unwrap()
        .unwrap();
    let debug = format!("{llm:?} {:?}", llm.clone());
    assert!(!debug.contains(key), "{debug}");
    assert!(!debug.contains("do-not-print"), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
    assert!(debug.contains("deepseek"), "{debug}");
}

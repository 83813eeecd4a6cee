//! LLM settings from environment variables: which providers, in which order, with which keys,
//! models, prices, timeout, retries and cooldown.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `TRELLIS_LLM_PROVIDERS` | `dashscope,deepseek,moonshot,zai,siliconflow` | fallback order (comma list; unknown or repeated names are errors) |
//! | `<P>_API_KEY` | unset | bearer key; empty or `your-…` placeholders count as unset, and a provider without a key is skipped |
//! | `<P>_API_BASE` | see [`PROVIDERS`] | OpenAI-compatible base URL; requests go to `{base}/chat/completions` |
//! | `<P>_MODEL` | see [`PROVIDERS`] | model id sent in every request |
//! | `<P>_PRICE_INPUT_PER_MTOK` | `0` | US dollars per million prompt tokens, for `cost_usd` |
//! | `<P>_PRICE_OUTPUT_PER_MTOK` | `0` | US dollars per million completion tokens |
//! | `TRELLIS_LLM_TIMEOUT_SECONDS` | `120` (1–3600) | one HTTP attempt, connect to last byte (connect alone: 10 s) |
//! | `TRELLIS_LLM_MAX_RETRIES` | `2` (0–10) | retries per provider after its first attempt |
//! | `TRELLIS_LLM_COOLDOWN_SECONDS` | `60` (0–86400, 0 = off) | how long a provider that used up its retries is skipped |
//!
//! `<P>` is `DASHSCOPE`, `DEEPSEEK`, `MOONSHOT`, `ZAI` or `SILICONFLOW`.
//!
//! Invariants: every listed provider has a usable key (non-empty, not a `your-…` placeholder,
//! only characters allowed in an HTTP header); every bad value yields one error string that
//! names its variable and never contains a key. Values of providers that are not used are
//! validated too, so a typo fails at start-up instead of on the day the fallback is needed.
//!
//! Sources of the defaults (checked 2026-11-30 against the providers' public docs):
//! DashScope's OpenAI-compatible mode (`https://dashscope.aliyuncs.com/compatible-mode/v1`,
//! `qwen-plus`); DeepSeek's first-call page (`https://api.deepseek.com`, `/v1` accepted for
//! OpenAI compatibility; `deepseek-chat` was retired on 2026-07-24, `deepseek-v4-flash`
//! replaces it); Kimi/Moonshot's API overview (`https://api.moonshot.cn/v1`, the v1 models
//! including `moonshot-v1-8k` are still listed); Z.ai (`https://api.z.ai/api/paas/v4`, whose
//! free flash model is `glm-4.5-flash`; `glm-4-flash` is served on the mainland
//! `open.bigmodel.cn` endpoint); SiliconFlow's quick start (`https://api.siliconflow.cn/v1`,
//! free `Qwen/Qwen2.5-7B-Instruct`).

use std::collections::HashMap;
use std::time::Duration;

use secrecy::SecretString;

/// A provider this crate knows: its name, its variable prefix and its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProviderDefaults {
    /// The name used in `TRELLIS_LLM_PROVIDERS` and in answers (`deepseek`).
    pub name: &'static str,
    /// The prefix of its variables (`DEEPSEEK` for `DEEPSEEK_API_KEY`, `DEEPSEEK_API_BASE`,
    /// `DEEPSEEK_MODEL`, `DEEPSEEK_PRICE_INPUT_PER_MTOK`, `DEEPSEEK_PRICE_OUTPUT_PER_MTOK`).
    pub prefix: &'static str,
    /// The OpenAI-compatible base URL used without `<PREFIX>_API_BASE`.
    pub base_url: &'static str,
    /// The model used without `<PREFIX>_MODEL`.
    pub model: &'static str,
}

/// The known providers, in the default fallback order.
pub const PROVIDERS: [ProviderDefaults; 5] = [
    ProviderDefaults {
        name: "dashscope",
        prefix: "DASHSCOPE",
        base_url: "https://dashscope.aliyuncs.com/compatible-mode/v1",
        model: "qwen-plus",
    },
    ProviderDefaults {
        name: "deepseek",
        prefix: "DEEPSEEK",
        base_url: "https://api.deepseek.com/v1",
        model: "deepseek-v4-flash",
    },
    ProviderDefaults {
        name: "moonshot",
        prefix: "MOONSHOT",
        base_url: "https://api.moonshot.cn/v1",
        model: "moonshot-v1-8k",
    },
    ProviderDefaults {
        name: "zai",
        prefix: "ZAI",
        base_url: "https://api.z.ai/api/paas/v4",
        model: "glm-4.5-flash",
    },
    ProviderDefaults {
        name: "siliconflow",
        prefix: "SILICONFLOW",
        base_url: "https://api.siliconflow.cn/v1",
        model: "Qwen/Qwen2.5-7B-Instruct",
    },
];

/// Default of `TRELLIS_LLM_TIMEOUT_SECONDS`: one HTTP attempt, connect to last byte.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 120;
/// Default of `TRELLIS_LLM_MAX_RETRIES`: retries per provider after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default of `TRELLIS_LLM_COOLDOWN_SECONDS`: how long a failed provider is skipped.
pub const DEFAULT_COOLDOWN_SECONDS: u64 = 60;

/// One usable provider.
#[derive(Debug)]
pub(crate) struct Provider {
    /// `deepseek`.
    pub name: &'static str,
    /// `{base}/chat/completions`.
    pub endpoint: String,
    /// The bearer token; `SecretString` keeps it out of `Debug`.
    pub key: SecretString,
    /// The model sent in every request.
    pub model: String,
    /// US dollars per million prompt tokens.
    pub price_input_per_mtok: f64,
    /// US dollars per million completion tokens.
    pub price_output_per_mtok: f64,
}

/// Everything the client needs.
#[derive(Debug)]
pub(crate) struct Settings {
    /// Usable providers in fallback order (never empty when returned by [`parse`] as `Some`).
    pub providers: Vec<Provider>,
    /// Whole-attempt timeout.
    pub timeout: Duration,
    /// Retries per provider after its first attempt.
    pub max_retries: u32,
    /// How long a provider that used up its retries is skipped.
    pub cooldown: Duration,
}

/// Reads the settings: `Ok(None)` when no listed provider has a usable key, `Err` with one
/// message per bad variable.
pub(crate) fn parse(vars: &HashMap<String, String>) -> Result<Option<Settings>, Vec<String>> {
    let mut errors = Vec::new();
    let order = provider_order(vars, &mut errors);
    let timeout = number(
        vars,
        "TRELLIS_LLM_TIMEOUT_SECONDS",
        DEFAULT_TIMEOUT_SECONDS,
        1,
        3600,
        &mut errors,
    );
    let max_retries = number(
        vars,
        "TRELLIS_LLM_MAX_RETRIES",
        u64::from(DEFAULT_MAX_RETRIES),
        0,
        10,
        &mut errors,
    );
    let cooldown = number(
        vars,
        "TRELLIS_LLM_COOLDOWN_SECONDS",
        DEFAULT_COOLDOWN_SECONDS,
        0,
        86_400,
        &mut errors,
    );

    // Every provider's variables are checked, used or not.
    let mut parsed: Vec<Option<Provider>> = PROVIDERS
        .iter()
        .map(|spec| provider(vars, spec, &mut errors))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let providers: Vec<Provider> = order
        .iter()
        .filter_map(|&i| parsed.get_mut(i).and_then(Option::take))
        .collect();
    if providers.is_empty() {
        return Ok(None);
    }
    Ok(Some(Settings {
        providers,
        timeout: Duration::from_secs(timeout),
        max_retries: u32::try_from(max_retries).unwrap_or(DEFAULT_MAX_RETRIES),
        cooldown: Duration::from_secs(cooldown),
    }))
}

/// The trimmed value of `name`, `None` when unset or blank.
fn get<'a>(vars: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// `TRELLIS_LLM_PROVIDERS` as indexes into [`PROVIDERS`]; the default order when unset.
fn provider_order(vars: &HashMap<String, String>, errors: &mut Vec<String>) -> Vec<usize> {
    const VAR: &str = "TRELLIS_LLM_PROVIDERS";
    let Some(list) = get(vars, VAR) else {
        return (0..PROVIDERS.len()).collect();
    };
    let mut order = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let lower = item.to_ascii_lowercase();
        match PROVIDERS.iter().position(|p| p.name == lower) {
            Some(i) if order.contains(&i) => {
                errors.push(format!("{VAR}: \"{lower}\" is listed twice"));
            }
            Some(i) => order.push(i),
            None => errors.push(format!(
                "{VAR}: unknown provider \"{}\" (known: {})",
                printable(item),
                PROVIDERS.map(|p| p.name).join(", ")
            )),
        }
    }
    if order.is_empty() && errors.is_empty() {
        return (0..PROVIDERS.len()).collect();
    }
    order
}

/// One provider's variables; `None` when its key is unset or a placeholder.
fn provider(
    vars: &HashMap<String, String>,
    spec: &ProviderDefaults,
    errors: &mut Vec<String>,
) -> Option<Provider> {
    let prefix = spec.prefix;
    let endpoint = match get(vars, &format!("{prefix}_API_BASE")) {
        None => Some(format!("{}/chat/completions", spec.base_url)),
        Some(raw) => match base_url(raw) {
            Ok(base) => Some(format!("{base}/chat/completions")),
            Err(why) => {
                errors.push(format!("{prefix}_API_BASE: {why}"));
                None
            }
        },
    };
    let model = match get(vars, &format!("{prefix}_MODEL")) {
        None => Some(spec.model.to_string()),
        Some(m) if m.len() <= 200 && !m.chars().any(char::is_control) => Some(m.to_string()),
        Some(_) => {
            errors.push(format!(
                "{prefix}_MODEL: expected a model id of at most 200 characters without control characters"
            ));
            None
        }
    };
    let price_in = price(vars, &format!("{prefix}_PRICE_INPUT_PER_MTOK"), errors);
    let price_out = price(vars, &format!("{prefix}_PRICE_OUTPUT_PER_MTOK"), errors);
    let key_var = format!("{prefix}_API_KEY");
    let key = get(vars, &key_var).filter(|k| !is_placeholder(k))?;
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        // Never echo the key, not even a part of it.
        errors.push(format!(
            "{key_var}: contains characters not allowed in an HTTP header (spaces, control or non-ASCII characters)"
        ));
        return None;
    }
    Some(Provider {
        name: spec.name,
        endpoint: endpoint?,
        key: SecretString::from(key.to_string()),
        model: model?,
        price_input_per_mtok: price_in?,
        price_output_per_mtok: price_out?,
    })
}

/// True for the placeholders of the seed's `.env.example` (`your-deepseek-api-key`) and
/// the usual `<your key>` style: such a key counts as unset.
pub(crate) fn is_placeholder(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("your-")
        || lower.starts_with("your_")
        || (lower.starts_with('<') && lower.ends_with('>'))
}

/// A base URL without its trailing slash: http(s), a host, no credentials, query or fragment.
fn base_url(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("expected an http:// or https:// URL".into());
    }
    if url.host().is_none() {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not contain credentials (the key goes in <P>_API_KEY)".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL must not have a query or a fragment".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A price in US dollars per million tokens: a finite number ≥ 0, 0 when unset.
fn price(vars: &HashMap<String, String>, name: &str, errors: &mut Vec<String>) -> Option<f64> {
    let Some(raw) = get(vars, name) else {
        return Some(0.0);
    };
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
        _ => {
            errors.push(format!(
                "{name}: expected a number ≥ 0 of US dollars per million tokens, got \"{}\"",
                printable(raw)
            ));
            None
        }
    }
}

/// A whole number in `min..=max`, `default` when unset; an error names `name`.
fn number(
    vars: &HashMap<String, String>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
    errors: &mut Vec<String>,
) -> u64 {
    let Some(raw) = get(vars, name) else {
        return default;
    };
    match raw.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => v,
        _ => {
            errors.push(format!(
                "{name}: expected a whole number from {min} to {max}, got \"{}\"",
                printable(raw)
            ));
            default
        }
    }
}

/// A non-secret value fit for an error message: at most 60 characters, no control characters.
fn printable(raw: &str) -> String {
    raw.chars()
        .take(60)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn errors(pairs: &[(&str, &str)]) -> Vec<String> {
        parse(&vars(pairs)).err().unwrap_or_default()
    }

    #[test]
    fn no_keys_means_no_client() {
        assert!(matches!(parse(&vars(&[])), Ok(None)));
    }

    #[test]
    fn defaults_and_order() {
        let s = parse(&vars(&[
            ("SILICONFLOW_API_KEY", "k1"),
            ("DEEPSEEK_API_KEY", "k2"),
        ]))
        .unwrap()
        .unwrap();
        let names: Vec<_> = s.providers.iter().map(|p| p.name).collect();
        assert_eq!(names, ["deepseek", "siliconflow"]);
        assert_eq!(
            s.providers[0].endpoint,
            "https://api.deepseek.com/v1/chat/completions"
        );
        assert_eq!(s.providers[0].model, "deepseek-v4-flash");
        assert_eq!(s.providers[0].price_input_per_mtok, 0.0);
        assert_eq!(s.timeout, Duration::from_secs(120));
        assert_eq!(s.max_retries, 2);
        assert_eq!(s.cooldown, Duration::from_secs(60));
    }

    #[test]
    fn explicit_order_base_model_and_prices() {
        let s = parse(&vars(&[
            ("TRELLIS_LLM_PROVIDERS", " ZAI , dashscope"),
            ("DASHSCOPE_API_KEY", "a"),
            ("ZAI_API_KEY", "b"),
            ("DEEPSEEK_API_KEY", "c"),
            ("ZAI_API_BASE", "http://127.0.0.1:9/v1/"),
            ("ZAI_MODEL", "glm-x"),
            ("ZAI_PRICE_INPUT_PER_MTOK", "0.5"),
            ("ZAI_PRICE_OUTPUT_PER_MTOK", "2"),
            ("TRELLIS_LLM_TIMEOUT_SECONDS", "5"),
            ("TRELLIS_LLM_MAX_RETRIES", "0"),
            ("TRELLIS_LLM_COOLDOWN_SECONDS", "0"),
        ]))
        .unwrap()
        .unwrap();
        let names: Vec<_> = s.providers.iter().map(|p| p.name).collect();
        assert_eq!(names, ["zai", "dashscope"]);
        assert_eq!(
            s.providers[0].endpoint,
            "http://127.0.0.1:9/v1/chat/completions"
        );
        assert_eq!(s.providers[0].model, "glm-x");
        assert_eq!(s.providers[0].price_input_per_mtok, 0.5);
        assert_eq!(s.providers[0].price_output_per_mtok, 2.0);
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.max_retries, 0);
        assert_eq!(s.cooldown, Duration::ZERO);
    }

    #[test]
    fn placeholders_count_as_unset() {
        for key in ["your-deepseek-api-key", "YOUR_KEY", "<your key>", "  "] {
            assert!(
                matches!(parse(&vars(&[("DEEPSEEK_API_KEY", key)])), Ok(None)),
                "{key}"
            );
        }
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let cases = [
            ("TRELLIS_LLM_PROVIDERS", "deepseek,openai"),
            ("TRELLIS_LLM_PROVIDERS", "deepseek,deepseek"),
            ("TRELLIS_LLM_TIMEOUT_SECONDS", "0"),
            ("TRELLIS_LLM_TIMEOUT_SECONDS", "soon"),
            ("TRELLIS_LLM_MAX_RETRIES", "-1"),
            ("TRELLIS_LLM_COOLDOWN_SECONDS", "1.5"),
            ("MOONSHOT_API_BASE", "ftp://example.com"),
            ("MOONSHOT_API_BASE", "not a url"),
            ("MOONSHOT_API_BASE", "https://user:pw@example.com/v1"),
            ("MOONSHOT_API_BASE", "https://example.com/v1?x=1"),
            ("ZAI_PRICE_INPUT_PER_MTOK", "-0.1"),
            ("ZAI_PRICE_OUTPUT_PER_MTOK", "NaN"),
            ("SILICONFLOW_MODEL", "bad\u{7}model"),
        ];
        for (name, value) in cases {
            let errs = errors(&[("DEEPSEEK_API_KEY", "k"), (name, value)]);
            assert_eq!(errs.len(), 1, "{name}={value}: {errs:?}");
            assert!(errs[0].starts_with(&format!("{name}: ")), "{errs:?}");
        }
    }

    #[test]
    fn bad_values_of_unused_providers_are_reported_too() {
        let errs = errors(&[("DEEPSEEK_API_KEY", "k"), ("ZAI_API_BASE", "nope")]);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("ZAI_API_BASE: "));
    }

    #[test]
    fn a_bad_key_is_named_but_never_echoed() {
        let errs = errors(&[("DEEPSEEK_API_KEY", "sk-secret part")]);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("DEEPSEEK_API_KEY: "));
        assert!(!errs[0].contains("sk-secret"));
    }

    #[test]
    fn several_errors_are_all_listed() {
        let errs = errors(&[
            ("TRELLIS_LLM_TIMEOUT_SECONDS", "x"),
            ("TRELLIS_LLM_MAX_RETRIES", "99"),
        ]);
        assert_eq!(errs.len(), 2);
    }
}

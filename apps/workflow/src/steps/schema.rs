//! The step-type catalogue (name, description, JSON Schema draft 2020-12 of `params`) and
//! parameter validation: the schema (via the `jsonschema` crate, each schema compiled once)
//! plus semantic checks the schema cannot express: jq fields compile, templates parse,
//! `for_each.step` is a valid non-`for_each` step, channel-specific `notify` fields.
//!
//! Numeric fields (`timeout_seconds`, `concurrency`, `seconds`) also accept a `{{ … }}`
//! template string; their range is checked again when the engine validates the rendered
//! params (rendering keeps a single `{{ expr }}` a number, see [`super::template`]).
//!
//! jq fields (`transform.program`, `condition.predicate`, `for_each.items`) are not
//! templates, and `for_each.step.params` are rendered per item (with `item` and `index`
//! in the context): [`render_params`] renders the rest.

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonschema::Validator;
use serde_json::{Map, Value, json};

use super::{jq, net, template};

/// One step type of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct StepType {
    /// The `type` of a step in a workflow definition (`http_request`, …).
    pub name: &'static str,
    /// One sentence for users (shown by the API and the console).
    pub description: &'static str,
    /// JSON Schema (draft 2020-12) of the step's `params`.
    pub params_schema: Value,
}

/// Step types a `for_each` may not run (no nested fan-out).
const NOT_IN_FOR_EACH: &[&str] = &["for_each"];

/// A string holding a `{{ … }}` template, accepted where a number is expected.
fn template_string() -> Value {
    json!({"type": "string", "pattern": "\\{\\{", "description": "a {{ … }} template yielding the value"})
}

fn integer_or_template(min: u64, max: u64, description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [{"type": "integer", "minimum": min, "maximum": max}, template_string()]
    })
}

fn uuid_or_template() -> Value {
    json!({"anyOf": [
        {"type": "string", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        template_string()
    ], "description": "one of your Xiaohongshu accounts (default: the first usable one)"})
}

fn book_id() -> Value {
    json!({"anyOf": [{"type": "string", "pattern": "^[0-9]{1,12}$"}, template_string()], "description": "numeric id, as a string"})
}

/// A collector step type: its own parameters plus the budget and proxy parameters every
/// collector takes (`max_requests`, `max_seconds`, `proxy_pool_id`).
fn collector(
    name: &'static str,
    description: &'static str,
    required: &[&str],
    props: Value,
) -> StepType {
    let mut properties = props;
    if let Some(o) = properties.as_object_mut() {
        o.insert(
            "max_requests".into(),
            integer_or_template(1, 100_000, "requests at most (default 100)"),
        );
        o.insert(
            "max_seconds".into(),
            integer_or_template(1, 86_400, "seconds at most (default 600)"),
        );
        o.insert(
            "proxy_pool_id".into(),
            json!({"anyOf": [
                {"type": "string", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
                template_string()
            ], "description": "lease a proxy of this pool (yours) per request"}),
        );
    }
    StepType {
        name,
        description,
        params_schema: json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": required,
            "additionalProperties": false,
            "properties": properties,
        }),
    }
}

/// The step types, in documentation order (docs/WORKFLOWS.md, "Step types").
pub fn catalogue() -> Vec<StepType> {
    vec![
        StepType {
            name: "http_request",
            description: "Sends one HTTP request; outputs {status, headers, body} (JSON body parsed).",
            params_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["method", "url"],
                "additionalProperties": false,
                "properties": {
                    "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
                    "url": {"type": "string", "minLength": 1, "description": "absolute http(s) URL"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "body": {"description": "a string is sent as is, other JSON as application/json"},
                    "timeout_seconds": integer_or_template(1, 300, "whole-request timeout"),
                    "proxy_pool_id": {
                        "anyOf": [
                            {"type": "string", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
                            template_string()
                        ],
                        "description": "send through a proxy leased from this pool (yours); the outcome is reported to it"
                    }
                }
            }),
        },
        StepType {
            name: "transform",
            description: "Runs a jq program over {input, steps}; outputs its result (an array when it yields several).",
            params_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["program"],
                "additionalProperties": false,
                "properties": {"program": {"type": "string", "minLength": 1, "description": "jq program"}}
            }),
        },
        StepType {
            name: "condition",
            description: "Evaluates a jq predicate over {input, steps}; true lets dependent steps run, false skips them.",
            params_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["predicate"],
                "additionalProperties": false,
                "properties": {"predicate": {"type": "string", "minLength": 1, "description": "jq program; false and null are false"}}
            }),
        },
        StepType {
            name: "for_each",
            description: "Runs one inner step for every element of the array a jq program yields; outputs the results in order.",
            params_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["items", "step"],
                "additionalProperties": false,
                "properties": {
                    "items": {"type": "string", "minLength": 1, "description": "jq program yielding an array, over {input, steps}"},
                    "step": {
                        "type": "object",
                        "required": ["type", "params"],
                        "additionalProperties": false,
                        "properties": {
                            "type": {"type": "string"},
                            "params": {"type": "object"}
                        }
                    },
                    "concurrency": integer_or_template(1, 32, "items run at once (default 4)")
                }
            }),
        },
        StepType {
            name: "delay",
            description: "Waits a number of seconds (0 to 86400).",
            params_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["seconds"],
                "additionalProperties": false,
                "properties": {
                    "seconds": {
                        "anyOf": [{"type": "number", "minimum": 0, "maximum": 86400}, template_string()]
                    }
                }
            }),
        },
        StepType {
            name: "notify",
            description: "Sends an e-mail (channel email) or a signed JSON webhook (channel webhook).",
            params_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["channel"],
                "additionalProperties": false,
                "properties": {
                    "channel": {"enum": ["email", "webhook"]},
                    "to": {"type": "string", "minLength": 1, "description": "e-mail address (email)"},
                    "subject": {"type": "string"},
                    "body": {"type": "string"},
                    "url": {"type": "string", "minLength": 1, "description": "http(s) URL (webhook)"},
                    "secret": {"type": "string", "minLength": 1, "description": "HMAC key for X-Trellis-Signature (webhook)"},
                    "payload": {"description": "JSON to POST (webhook)"}
                },
                "allOf": [
                    {"if": {"properties": {"channel": {"const": "email"}}, "required": ["channel"]},
                     "then": {"required": ["to"]}},
                    {"if": {"properties": {"channel": {"const": "webhook"}}, "required": ["channel"]},
                     "then": {"required": ["url"]}}
                ]
            }),
        },
        collector(
            "qidian.book",
            "Collects one Qidian book's public metadata (title, author, category, status, word count, intro, tags, latest chapter); item kind `book`.",
            &["book_id"],
            json!({"book_id": book_id()}),
        ),
        collector(
            "qidian.catalog",
            "Collects a Qidian book's catalog: volumes and chapters with free/VIP flag, word count and publish time (never chapter bodies); item kind `chapter`.",
            &["book_id"],
            json!({"book_id": book_id()}),
        ),
        collector(
            "qidian.rankings",
            "Collects Qidian ranking pages (20 books a page; a metric hidden behind an obfuscated font is stored as unknown); item kind `rank_entry`.",
            &["rank_type"],
            json!({
                "rank_type": {"anyOf": [{"enum": ["yuepiao", "hotsales", "readindex", "recom", "collect", "signnewbook", "pubnewbook", "newsign", "newauthor"]}, template_string()]},
                "period": {"anyOf": [{"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}, template_string()], "description": "YYYY-MM (monthly ranking)"},
                "page": integer_or_template(1, 500, "one page only"),
                "max_pages": integer_or_template(1, 100, "pages from 1 (default 5) when page is absent"),
            }),
        ),
        collector(
            "qidian.search",
            "Collects Qidian search results for a keyword; item kind `search_result`.",
            &["keyword"],
            json!({
                "keyword": {"type": "string", "minLength": 1, "maxLength": 100},
                "page": integer_or_template(1, 500, "one page only"),
                "max_pages": integer_or_template(1, 100, "pages from 1 (default 5) when page is absent"),
            }),
        ),
        collector(
            "xhs.search_notes",
            "Collects Xiaohongshu notes listed by a keyword search (needs TRELLIS_XHS_ENABLED, a signer, the terms accepted and your own account); item kind `note`.",
            &["keyword"],
            json!({
                "keyword": {"type": "string", "minLength": 1, "maxLength": 200},
                "page": integer_or_template(1, 100, "one page only"),
                "max_pages": integer_or_template(1, 100, "pages from 1 (default 5)"),
                "account_id": uuid_or_template(),
            }),
        ),
        collector(
            "xhs.note_detail",
            "Collects one Xiaohongshu note's detail; the xsec_token comes from a listing; item kind `note`.",
            &["note_id", "xsec_token"],
            json!({
                "note_id": {"type": "string", "minLength": 1, "maxLength": 200},
                "xsec_token": {"type": "string", "minLength": 1, "maxLength": 200},
                "account_id": uuid_or_template(),
            }),
        ),
        collector(
            "xhs.comments",
            "Collects a Xiaohongshu note's comments by cursor (with the first replies inline); item kind `comment`.",
            &["note_id", "xsec_token"],
            json!({
                "note_id": {"type": "string", "minLength": 1, "maxLength": 200},
                "xsec_token": {"type": "string", "minLength": 1, "maxLength": 200},
                "cursor": {"type": "string", "maxLength": 200},
                "max_pages": integer_or_template(1, 100, "pages (default 5)"),
                "account_id": uuid_or_template(),
            }),
        ),
        collector(
            "xhs.creator_notes",
            "Collects a Xiaohongshu creator's notes by cursor; item kind `creator_note`.",
            &["user_id"],
            json!({
                "user_id": {"type": "string", "minLength": 1, "maxLength": 200},
                "xsec_token": {"type": "string", "maxLength": 200},
                "max_pages": integer_or_template(1, 100, "pages (default 5)"),
                "account_id": uuid_or_template(),
            }),
        ),
    ]
}

/// Each step type's compiled schema, built once. A schema that does not compile is a bug
/// (a test compiles them all); it is kept as its error so validation reports it.
static VALIDATORS: LazyLock<HashMap<&'static str, Result<Validator, String>>> =
    LazyLock::new(|| {
        catalogue()
            .into_iter()
            .map(|t| {
                let v = jsonschema::draft202012::new(&t.params_schema)
                    .map_err(|e| format!("schema of {} does not compile: {e}", t.name));
                (t.name, v)
            })
            .collect()
    });

/// Checks `params` of a step of type `step_type`: the catalogue schema and the semantic
/// rules in the module docs.
///
/// Errors: every problem found, each naming a JSON pointer from the step
/// (`/params/url: …`, `/params/program: jq: …`, `/type: unknown step type 'x' …`).
pub fn validate(step_type: &str, params: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    validate_at(step_type, params, "", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// [`validate`] for a step whose pointers start with `prefix` (`/params/step` for the
/// inner step of a `for_each`).
fn validate_at(step_type: &str, params: &Value, prefix: &str, errors: &mut Vec<String>) {
    let Some(validator) = VALIDATORS.get(step_type) else {
        let known: Vec<&str> = catalogue().iter().map(|t| t.name).collect();
        errors.push(format!(
            "{prefix}/type: unknown step type '{step_type}' (known: {})",
            known.join(", ")
        ));
        return;
    };
    let validator = match validator {
        Ok(v) => v,
        Err(e) => {
            errors.push(format!("{prefix}/type: {e}"));
            return;
        }
    };
    let at = format!("{prefix}/params");
    for err in validator.iter_errors(params) {
        // Masked: messages never echo the value (it may be a secret or a header value).
        errors.push(format!(
            "{at}{}: {}",
            err.instance_path().as_str(),
            err.masked()
        ));
    }
    let Some(obj) = params.as_object() else {
        return;
    };
    let jq_fields = jq_fields(step_type);
    for field in jq_fields {
        if let Some(Value::String(code)) = obj.get(*field)
            && let Err(e) = jq::Program::compile(code)
        {
            errors.push(format!("{at}/{field}: {e}"));
        }
    }
    let templated = templated_part(step_type, obj);
    for e in template::check(&Value::Object(templated)) {
        errors.push(format!("{at}{e}"));
    }
    match step_type {
        "http_request" => check_url_field(obj, "url", &at, errors),
        "notify" => {
            check_url_field(obj, "url", &at, errors);
            if let Some(Value::String(to)) = obj.get("to")
                && !template::is_template(to)
                && !looks_like_email(to)
            {
                errors.push(format!("{at}/to: not an e-mail address"));
            }
        }
        "for_each" => {
            let Some(step) = obj.get("step").and_then(Value::as_object) else {
                return;
            };
            let (Some(Value::String(inner)), Some(inner_params)) =
                (step.get("type"), step.get("params"))
            else {
                return;
            };
            if NOT_IN_FOR_EACH.contains(&inner.as_str()) {
                errors.push(format!(
                    "{at}/step/type: a for_each cannot run a '{inner}' step"
                ));
                return;
            }
            validate_at(inner, inner_params, &format!("{at}/step"), errors);
        }
        _ => {}
    }
}

/// The params of `step_type` that are jq programs (never rendered as templates).
pub fn jq_fields(step_type: &str) -> &'static [&'static str] {
    match step_type {
        "transform" => &["program"],
        "condition" => &["predicate"],
        "for_each" => &["items"],
        _ => &[],
    }
}

/// The params that [`render_params`] renders: all but jq fields and `for_each.step`.
fn templated_part(step_type: &str, params: &Map<String, Value>) -> Map<String, Value> {
    let skip = jq_fields(step_type);
    params
        .iter()
        .filter(|(k, _)| !(skip.contains(&k.as_str()) || (step_type == "for_each" && *k == "step")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Renders a step's params with `ctx` (see [`template::render`]), leaving jq fields and
/// `for_each.step` as they are. Errors name the pointer within params (`/url: …`).
pub fn render_params(step_type: &str, params: &Value, ctx: &Value) -> Result<Value, String> {
    let Some(obj) = params.as_object() else {
        return template::render(params, ctx);
    };
    let rendered = template::render(&Value::Object(templated_part(step_type, obj)), ctx)?;
    let mut out = obj.clone();
    if let Value::Object(rendered) = rendered {
        out.extend(rendered);
    }
    Ok(Value::Object(out))
}

fn check_url_field(obj: &Map<String, Value>, field: &str, at: &str, errors: &mut Vec<String>) {
    // Private targets depend on the server's setting: checked when the step runs.
    if let Some(Value::String(url)) = obj.get(field)
        && !template::is_template(url)
        && let Err(e) = net::check_url(url, true)
    {
        errors.push(format!("{at}/{field}: {e}"));
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(step_type: &str, params: Value) -> Vec<String> {
        validate(step_type, &params).err().unwrap_or_default()
    }

    fn has(errors: &[String], prefix: &str) -> bool {
        errors.iter().any(|e| e.starts_with(prefix))
    }

    #[test]
    fn every_schema_compiles_and_types_are_unique() {
        let names: Vec<_> = catalogue().iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "http_request",
                "transform",
                "condition",
                "for_each",
                "delay",
                "notify",
                "qidian.book",
                "qidian.catalog",
                "qidian.rankings",
                "qidian.search",
                "xhs.search_notes",
                "xhs.note_detail",
                "xhs.comments",
                "xhs.creator_notes"
            ]
        );
        for (name, v) in VALIDATORS.iter() {
            assert!(v.is_ok(), "{name}: {:?}", v.as_ref().err());
        }
    }

    #[test]
    fn unknown_type() {
        let e = errs("send_fax", json!({}));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("/type: unknown step type 'send_fax' (known: http_request"),
            "{e:?}"
        );
    }

    #[test]
    fn http_request() {
        assert!(
            validate(
                "http_request",
                &json!({"method": "GET", "url": "https://example.com/x"})
            )
            .is_ok()
        );
        assert!(validate(
            "http_request",
            &json!({"method": "POST", "url": "https://{{ input.host }}/x", "headers": {"A": "b"},
                    "body": {"k": 1}, "timeout_seconds": "{{ input.t }}",
                    "proxy_pool_id": "0190c1d2-0000-7000-8000-000000000000"})
        )
        .is_ok());
        let e = errs("http_request", json!({"url": "https://example.com"}));
        assert!(
            has(&e, "/params: \"method\" is a required property"),
            "{e:?}"
        );
        let e = errs(
            "http_request",
            json!({"method": "TRACE", "url": "ftp://x.example"}),
        );
        assert!(has(&e, "/params/method: "), "{e:?}");
        assert!(
            has(&e, "/params/url: unsupported URL scheme 'ftp'"),
            "{e:?}"
        );
        let e = errs(
            "http_request",
            json!({"method": "GET", "url": "https://a.example", "timeout_seconds": 0, "headers": {"X": 1}, "extra": true}),
        );
        assert!(has(&e, "/params/timeout_seconds: "), "{e:?}");
        assert!(has(&e, "/params/headers/X: "), "{e:?}");
        assert!(has(&e, "/params: "), "{e:?}");
        let e = errs(
            "http_request",
            json!({"method": "GET", "url": "https://a.example/{{ x"}),
        );
        assert!(has(&e, "/params/url: syntax error"), "{e:?}");
        // Values are masked in messages.
        let e = errs(
            "http_request",
            json!({"method": "GET", "url": "https://a.example", "headers": {"Authorization": 12345}}),
        );
        assert!(e.iter().all(|m| !m.contains("12345")), "{e:?}");
    }

    #[test]
    fn transform_and_condition() {
        assert!(validate("transform", &json!({"program": "{a: .input.x}"})).is_ok());
        let e = errs("transform", json!({"program": ".a |"}));
        assert!(has(&e, "/params/program: jq: expected"), "{e:?}");
        let e = errs("transform", json!({}));
        assert!(
            has(&e, "/params: \"program\" is a required property"),
            "{e:?}"
        );
        assert!(
            validate(
                "condition",
                &json!({"predicate": ".steps.fetch.status == 200"})
            )
            .is_ok()
        );
        let e = errs("condition", json!({"predicate": "nosuch"}));
        assert!(
            has(&e, "/params/predicate: jq: undefined filter 'nosuch/0'"),
            "{e:?}"
        );
        let e = errs("condition", json!({"predicate": 1}));
        assert!(has(&e, "/params/predicate: "), "{e:?}");
    }

    #[test]
    fn for_each() {
        let ok = json!({"items": ".input.urls", "concurrency": 8,
                        "step": {"type": "http_request", "params": {"method": "GET", "url": "{{ item }}"}}});
        assert!(
            validate("for_each", &ok).is_ok(),
            "{:?}",
            validate("for_each", &ok)
        );
        let e = errs(
            "for_each",
            json!({"items": ".x", "concurrency": 33, "step": {"type": "delay", "params": {"seconds": 1}}}),
        );
        assert!(has(&e, "/params/concurrency: "), "{e:?}");
        let e = errs(
            "for_each",
            json!({"items": ".x", "step": {"type": "for_each", "params": {}}}),
        );
        assert!(
            has(
                &e,
                "/params/step/type: a for_each cannot run a 'for_each' step"
            ),
            "{e:?}"
        );
        let e = errs(
            "for_each",
            json!({"items": ".x", "step": {"type": "nope", "params": {}}}),
        );
        assert!(
            has(&e, "/params/step/type: unknown step type 'nope'"),
            "{e:?}"
        );
        let e = errs(
            "for_each",
            json!({"items": ".x", "step": {"type": "delay", "params": {"seconds": -1}}}),
        );
        assert!(has(&e, "/params/step/params/seconds: "), "{e:?}");
        let e = errs(
            "for_each",
            json!({"items": "[", "step": {"type": "delay", "params": {"seconds": 1}}}),
        );
        assert!(has(&e, "/params/items: jq: "), "{e:?}");
    }

    #[test]
    fn delay() {
        assert!(validate("delay", &json!({"seconds": 0})).is_ok());
        assert!(validate("delay", &json!({"seconds": 1.5})).is_ok());
        assert!(validate("delay", &json!({"seconds": "{{ input.wait }}"})).is_ok());
        let e = errs("delay", json!({"seconds": 86401}));
        assert!(has(&e, "/params/seconds: "), "{e:?}");
        let e = errs("delay", json!({"seconds": "ten"}));
        assert!(has(&e, "/params/seconds: "), "{e:?}");
    }

    #[test]
    fn notify() {
        assert!(
            validate(
                "notify",
                &json!({"channel": "email", "to": "a@example.com", "subject": "s", "body": "b"})
            )
            .is_ok()
        );
        assert!(validate("notify", &json!({"channel": "webhook", "url": "https://hooks.example/x", "secret": "k", "payload": {"a": 1}})).is_ok());
        let e = errs("notify", json!({"channel": "email"}));
        assert!(has(&e, "/params: \"to\" is a required property"), "{e:?}");
        let e = errs("notify", json!({"channel": "webhook"}));
        assert!(has(&e, "/params: \"url\" is a required property"), "{e:?}");
        let e = errs("notify", json!({"channel": "email", "to": "nobody"}));
        assert!(has(&e, "/params/to: not an e-mail address"), "{e:?}");
        let e = errs("notify", json!({"channel": "sms", "to": "a@b.c"}));
        assert!(has(&e, "/params/channel: "), "{e:?}");
        let e = errs("notify", json!({"channel": "webhook", "url": "gopher://x"}));
        assert!(has(&e, "/params/url: unsupported URL scheme"), "{e:?}");
    }

    #[test]
    fn render_params_skips_jq_fields_and_inner_steps() {
        let ctx = json!({"input": {"n": 2, "host": "h.example"}});
        let params = json!({"items": "[{{ not a template }}]", "concurrency": "{{ input.n }}",
                            "step": {"type": "http_request", "params": {"method": "GET", "url": "https://{{ item }}"}}});
        let out = render_params("for_each", &params, &ctx).unwrap();
        assert_eq!(out["concurrency"], json!(2));
        assert_eq!(out["items"], params["items"]);
        assert_eq!(out["step"], params["step"]);
        let out = render_params(
            "http_request",
            &json!({"method": "GET", "url": "https://{{ input.host }}/"}),
            &ctx,
        )
        .unwrap();
        assert_eq!(out["url"], json!("https://h.example/"));
    }
}

//! `{{ }}` parameter templates, rendered by `minijinja` (ARCHITECTURE.md, "workflow
//! expressions"): a step's `params` are JSON in which strings may refer to the workflow's
//! input, earlier steps' outputs and the execution.
//!
//! Rules (documented for users in docs/WORKFLOWS.md, "Step types"):
//! - Only string *values* containing `{{` or `{%` are templates; object keys and other
//!   strings are kept as they are.
//! - A string that is exactly one `{{ expr }}` (nothing before or after, no other tags)
//!   keeps the JSON type of the value: `"{{ steps.fetch.body.count }}"` gives `3`, not `"3"`.
//!   Every other template renders to a string.
//! - Strict undefined: a name or attribute missing from the context is an error naming it
//!   (`/url: undefined variable 'input.host'`), never an empty string.
//! - No auto-escaping (this is JSON and text, not HTML), no loader (`include`/`import` find
//!   nothing), trailing newlines are kept, and each render has a fuel budget
//!   ([`FUEL`]) so a template loop cannot run unbounded.
//!
//! The context looks like
//! `{"input": {...}, "steps": {"<step id>": <output>}, "execution": {"id": ..., "attempt": ...}}`.

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::Value;

/// Instructions one template render may execute (minijinja fuel; roughly 64 bytes of memory
/// per unit as well), so `{% for i in range(100000) %}…` fails instead of running long.
pub const FUEL: u64 = 100_000;

/// The environment all templates run in: strict undefined, no auto-escape, no loader,
/// trailing newline kept, fuel-limited. Building one costs microseconds (it registers the
/// builtin filters); one is made per template string, so it can borrow that string.
fn environment<'s>() -> Environment<'s> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_fuel(Some(FUEL));
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env
}

/// True for strings that are templates (contain `{{` or `{%`).
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// The expression of a string that is exactly one `{{ expr }}` (whitespace control
/// markers `-`/`+` allowed), or `None`.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#")
    {
        return None;
    }
    Some(inner.trim())
}

/// Renders every template string in `params` with `ctx` and returns the new JSON.
///
/// Errors: the first failing string, as `<JSON pointer>: <message>`, e.g.
/// `/url: undefined variable 'input.host'` or `/body/n: syntax error: …`; the pointer is
/// relative to `params` (`""` when `params` itself is the string).
pub fn render(params: &Value, ctx: &Value) -> Result<Value, String> {
    let mj_ctx = minijinja::Value::from(Serde(ctx));
    walk(params, "", &mut |pointer, s| {
        render_string(s, &mj_ctx, ctx).map_err(|e| format!("{pointer}: {e}"))
    })
}

/// Renders one string template (see the module rules); `ctx` is the JSON form of `mj_ctx`,
/// used to name undefined variables.
fn render_string(s: &str, mj_ctx: &minijinja::Value, ctx: &Value) -> Result<Value, String> {
    let env = environment();
    if let Some(expr) = single_expression(s) {
        let compiled = env.compile_expression(expr).map_err(|e| describe(&e))?;
        let value = compiled.eval(mj_ctx.clone()).map_err(|e| {
            undefined_name(compiled.undeclared_variables(true), ctx).unwrap_or_else(|| describe(&e))
        })?;
        if value.is_undefined() {
            let name = undefined_name(compiled.undeclared_variables(true), ctx)
                .unwrap_or_else(|| format!("undefined value in '{expr}'"));
            return Err(name);
        }
        return serde_json::to_value(&value)
            .map_err(|e| format!("template value is not JSON: {e}"));
    }
    let template = env.template_from_str(s).map_err(|e| describe(&e))?;
    template
        .render(mj_ctx.clone())
        .map(Value::String)
        .map_err(|e| {
            if e.kind() == ErrorKind::UndefinedError
                && let Some(name) = undefined_name(template.undeclared_variables(true), ctx)
            {
                return name;
            }
            describe(&e)
        })
}

/// Syntax errors of every template string in `params`, without rendering (for save-time
/// validation); each message is `<JSON pointer>: syntax error: …`. Empty when all parse.
pub fn check(params: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    // walk stops at the first Err, so collect errors on the side and always return Ok.
    let _ = walk(params, "", &mut |pointer, s| {
        let env = environment();
        let parsed = match single_expression(s) {
            Some(expr) => env.compile_expression(expr).map(|_| ()),
            None => env.template_from_str(s).map(|_| ()),
        };
        if let Err(e) = parsed {
            errors.push(format!("{pointer}: {}", describe(&e)));
        }
        Ok(Value::Null)
    });
    errors
}

/// Applies `f` to every template string of `value` (with its JSON pointer) and rebuilds
/// the JSON with the results; other values are cloned.
fn walk(
    value: &Value,
    pointer: &str,
    f: &mut dyn FnMut(&str, &str) -> Result<Value, String>,
) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if is_template(s) => f(pointer, s)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| walk(v, &format!("{pointer}/{i}"), f))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), walk(v, &format!("{pointer}/{}", escape(k)), f)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// One JSON-pointer reference token (RFC 6901: `~` as `~0`, `/` as `~1`).
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The first dotted name among `names` (minijinja's undeclared variables, e.g.
/// `steps.fetch.body`) that does not resolve in `ctx`, as an error message.
fn undefined_name(names: std::collections::HashSet<String>, ctx: &Value) -> Option<String> {
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    names.into_iter().find_map(|name| {
        let mut cur = ctx;
        let mut resolved = Vec::new();
        for part in name.split('.') {
            match cur.get(part) {
                Some(next) => {
                    resolved.push(part);
                    cur = next;
                }
                None => {
                    // Globals such as `range`, `dict` or `loop` are not in the context.
                    if resolved.is_empty() && is_global(part) {
                        return None;
                    }
                    resolved.push(part);
                    return Some(format!("undefined variable '{}'", resolved.join(".")));
                }
            }
        }
        None
    })
}

fn is_global(name: &str) -> bool {
    matches!(
        name,
        "range" | "dict" | "namespace" | "debug" | "loop" | "true" | "false" | "none"
    )
}

/// A minijinja error as one line, without the template name it uses internally.
fn describe(e: &Error) -> String {
    let kind = match e.kind() {
        ErrorKind::SyntaxError => "syntax error",
        ErrorKind::UndefinedError => "undefined value",
        ErrorKind::OutOfFuel => "template ran out of fuel (too much work)",
        _ => "template error",
    };
    match e.detail() {
        Some(detail) => match e.line() {
            Some(line) if e.kind() == ErrorKind::SyntaxError => {
                format!("{kind}: {detail} (line {line})")
            }
            _ => format!("{kind}: {detail}"),
        },
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({
            "input": {"name": "Ada", "n": 3, "tags": ["a", "b"], "host": "example.com"},
            "steps": {"fetch": {"status": 200, "body": {"items": [1, 2], "ok": true, "none": null}}},
            "execution": {"id": "0190-abc", "attempt": 2}
        })
    }

    #[test]
    fn single_expression_keeps_the_json_type() {
        let params = json!({
            "n": "{{ input.n }}",
            "sum": "{{ input.n + 1 }}",
            "items": "{{ steps.fetch.body.items }}",
            "ok": "{{steps.fetch.body.ok}}",
            "body": "{{ steps.fetch.body }}",
            "nothing": "{{ steps.fetch.body.none }}",
            "trimmed": "{{- execution.attempt -}}",
        });
        assert_eq!(
            render(&params, &ctx()),
            Ok(json!({
                "n": 3, "sum": 4, "items": [1, 2], "ok": true,
                "body": {"items": [1, 2], "ok": true, "none": null}, "nothing": null,
                "trimmed": 2,
            }))
        );
    }

    #[test]
    fn mixed_text_becomes_a_string() {
        let params = json!({
            "url": "https://{{ input.host }}/users/{{ input.n }}",
            "spaced": " {{ input.n }}",
            "two": "{{ input.n }}{{ input.n }}",
            "loop": "{% for t in input.tags %}{{ t }};{% endfor %}",
            "nl": "hi {{ input.name }}\n",
            "plain": "no template",
            "num": 5,
            "nested": [{"k": "{{ execution.id }}"}],
            "html": "{{ '<b>&' }}",
        });
        assert_eq!(
            render(&params, &ctx()),
            Ok(json!({
                "url": "https://example.com/users/3",
                "spaced": " 3",
                "two": "33",
                "loop": "a;b;",
                "nl": "hi Ada\n",
                "plain": "no template",
                "num": 5,
                "nested": [{"k": "0190-abc"}],
                "html": "<b>&",
            }))
        );
    }

    #[test]
    fn undefined_variables_are_errors_naming_them() {
        let err = render(&json!({"url": "{{ input.missing }}"}), &ctx()).unwrap_err();
        assert_eq!(err, "/url: undefined variable 'input.missing'");
        let err = render(&json!({"a": ["x {{ steps.nope.body }} y"]}), &ctx()).unwrap_err();
        assert_eq!(err, "/a/0: undefined variable 'steps.nope'");
        let err = render(&json!("{{ nosuch }}"), &ctx()).unwrap_err();
        assert_eq!(err, ": undefined variable 'nosuch'");
        let err = render(&json!({"a/b": "{{ input.n.x.y }}"}), &ctx()).unwrap_err();
        assert!(err.starts_with("/a~1b: "), "{err}");
    }

    #[test]
    fn check_reports_syntax_errors_without_rendering() {
        let params = json!({
            "ok": "{{ input.whatever }}",
            "bad": "{{ input.n ",
            "list": ["fine", "{% for x in %}{% endfor %}"],
            "expr": "{{ 1 + }}",
        });
        let errors = check(&params);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors.iter().any(|e| e.starts_with("/bad: syntax error")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("/list/1: syntax error")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("/expr: syntax error")),
            "{errors:?}"
        );
        assert!(check(&json!({"a": "{{ x }}", "b": 1})).is_empty());
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let t = json!(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
        );
        let err = render(&t, &ctx()).unwrap_err();
        assert!(err.contains("fuel"), "{err}");
    }

    #[test]
    fn no_loader_no_includes() {
        let err = render(&json!("{% include 'x' %}"), &ctx()).unwrap_err();
        assert!(!err.is_empty());
    }
}

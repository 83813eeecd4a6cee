//! jq programs for `transform`, `condition` and `for_each.items`, run by the `jaq` crates
//! (jaq-core, jaq-std, jaq-json): never an interpreter of our own (ARCHITECTURE.md, "workflow
//! expressions").
//!
//! A [`Program`] is compiled once (at save time and when a step starts) and run any number of
//! times, from any thread: with jaq-json's `sync` feature the compiled filter holds only
//! plain data and function pointers, so `Program` is `Send + Sync` (checked by a test below)
//! and no per-thread cache or recompilation is needed; a run costs only the interpretation
//! plus two conversions of the input/outputs between `serde_json::Value` and jaq's `Val`.
//! Measured once by hand (dev profile, the shared 2-core machine): compiling costs about 3 ms
//! (mostly parsing jaq's standard-library definitions), running `.a + 1` about 4 µs, and a
//! `select`/`map`/`add` over 100 objects about 1 ms. In the release engine bench, compiling
//! per step took ~15 % of the server's CPU (`perf`, docs/PERFORMANCE.md "Workflow engine"),
//! so the engine keeps compiled programs in a cache (`runtime::program`).
//!
//! Sandbox: the standard library is the jq one minus what reaches outside the program.
//! `env`/`$ENV` is an empty object (the server's environment holds secrets), `stderr` and
//! `debug` do not write to the server's stderr, `input`/`inputs` yield nothing, and `halt`
//! ends the run with an error instead of exiting the process (jaq's own `unwrap_valr` would
//! call `std::process::exit`).
//!
//! Bounds: a run stops with an error after [`MAX_OUTPUTS`] outputs and when [`RUN_DEADLINE`]
//! has passed at the time an output (or error) is produced. A program that loops without
//! ever yielding (`last(range(1e18))`, `until(false; .)`) cannot be interrupted from inside:
//! callers run programs on a blocking thread (`tokio::task::spawn_blocking`) under the step's
//! timeout, which abandons the thread's result but cannot stop the CPU work. Unbounded
//! recursion (`def f: 1 + f; f`) would overflow the thread's stack and abort the process
//! (jaq has no depth limit), so programs may not define filters (`def`): see
//! `refuse_definitions`. Both limits are documented in docs/WORKFLOWS.md.

use std::time::{Duration, Instant};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{Fun, bome, v};
use jaq_core::{Compiler, Ctx, Native, Vars, data};
use jaq_json::Val;
use serde_json::Value;

/// The most outputs one run may produce before it fails (brief of the steps issue).
pub const MAX_OUTPUTS: usize = 10_000;

/// Wall-clock budget of one run, checked each time the program yields a value or an error.
pub const RUN_DEADLINE: Duration = Duration::from_secs(10);

type D = data::JustLut<Val>;

/// A compiled jq program; `Send + Sync`, so compile once and share it (e.g. in an `Arc`).
pub struct Program {
    /// The program's text, kept for messages and `Debug`.
    source: String,
    filter: jaq_core::Filter<D>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Program {
    /// Parses and compiles `code`. Errors are one message naming the problem and its
    /// position (`line 1, column 5`), e.g. `jq: expected term at line 1, column 3 ("|")` or
    /// `jq: undefined filter 'nosuch/0' at line 1, column 1`.
    pub fn compile(code: &str) -> Result<Program, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errs| load_errors(code, errs))?;
        refuse_definitions(code)?;
        let filter = Compiler::default()
            .with_funs(funs())
            .compile(modules)
            .map_err(|errs| compile_errors(code, errs))?;
        Ok(Program {
            source: code.to_string(),
            filter,
        })
    }

    /// The program's text, as given to [`Program::compile`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Runs the program on `input` and returns all its outputs, in order. Fails with the
    /// first runtime error (`jq: cannot index 1 with "a"`), after [`MAX_OUTPUTS`] outputs,
    /// or once [`RUN_DEADLINE`] has passed (see the module docs for what cannot be bounded).
    pub fn run(&self, input: &Value) -> Result<Vec<Value>, String> {
        self.run_limited(input, MAX_OUTPUTS)
    }

    /// The first output, `None` when the program yields nothing (`empty`, `select(false)`).
    pub fn first(&self, input: &Value) -> Result<Option<Value>, String> {
        Ok(self.run_limited(input, 1)?.into_iter().next())
    }

    /// The output of a `transform` step: `null` when the program yields nothing, the value
    /// when it yields one, an array of all outputs when it yields several.
    pub fn output(&self, input: &Value) -> Result<Value, String> {
        let mut outputs = self.run(input)?;
        Ok(match outputs.len() {
            0 => Value::Null,
            1 => outputs.pop().unwrap_or(Value::Null),
            _ => Value::Array(outputs),
        })
    }

    /// jq truthiness of the first output: `false` and `null` are false, every other value
    /// (including `0`, `""` and `[]`) is true, and no output at all is false. Used by the
    /// `condition` step.
    pub fn truthy(&self, input: &Value) -> Result<bool, String> {
        Ok(!matches!(
            self.first(input)?,
            None | Some(Value::Null) | Some(Value::Bool(false))
        ))
    }

    /// Runs until `want` outputs were collected (stopping there, without error, when
    /// `want` is below [`MAX_OUTPUTS`]); an output past [`MAX_OUTPUTS`] is an error.
    fn run_limited(&self, input: &Value, want: usize) -> Result<Vec<Value>, String> {
        let started = Instant::now();
        let ctx = Ctx::<D>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = Vec::new();
        for item in self.filter.id.run((ctx, to_val(input))) {
            if started.elapsed() > RUN_DEADLINE {
                return Err(format!(
                    "jq: program ran longer than {} s",
                    RUN_DEADLINE.as_secs()
                ));
            }
            if outputs.len() == MAX_OUTPUTS {
                return Err(format!(
                    "jq: program yielded more than {MAX_OUTPUTS} outputs"
                ));
            }
            match item {
                Ok(v) => outputs.push(from_val(&v)),
                Err(exn) => {
                    return Err(match exn.get_err() {
                        Ok(err) => format!("jq: {}", error_text(err)),
                        Err(other) => match other.get_halt() {
                            Ok(code) => format!("jq: program called halt (exit code {code})"),
                            Err(_) => "jq: program stopped with an internal exception".into(),
                        },
                    });
                }
            }
            // Stop before asking for another output: the rest may never come.
            if outputs.len() == want && want < MAX_OUTPUTS {
                break;
            }
        }
        Ok(outputs)
    }
}

/// Runs `program` on `input` on tokio's blocking pool, so a long program does not stall the
/// async workers, and gives up after `timeout` (the step's `timeout_seconds`). On timeout
/// the error is returned at once, but a program that never yields keeps its blocking
/// thread busy until [`RUN_DEADLINE`] is noticed or it ends (see the module docs).
///
/// Errors: the program's errors, `jq: program ran longer than N s`, or
/// `jq: program panicked`.
pub async fn run_blocking(
    program: std::sync::Arc<Program>,
    input: Value,
    timeout: Duration,
) -> Result<Vec<Value>, String> {
    let task = tokio::task::spawn_blocking(move || program.run(&input));
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(_join)) => Err("jq: program panicked".to_string()),
        Err(_elapsed) => Err(format!(
            "jq: program ran longer than {} s",
            timeout.as_secs_f64()
        )),
    }
}

/// The text of a runtime error: `error("msg")` gives `msg`, `error({...})` its JSON, and
/// jaq's own errors their message.
fn error_text(err: jaq_core::Error<Val>) -> String {
    match err.into_val() {
        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(&b).into_owned(),
        other => from_val(&other).to_string(),
    }
}

/// jq-std and jq-json natives with the sandboxed replacements described in the module docs.
fn funs() -> impl Iterator<Item = Fun<D>> {
    let replaced = ["env", "stderr_empty", "debug_empty", "input", "inputs"];
    let sandbox: [Fun<D>; 4] = [
        (
            "env",
            v(0),
            Native::new(|_| bome(Ok(Val::obj(jaq_json::Map::default())))),
        ),
        (
            "stderr_empty",
            v(0),
            Native::new(|_| Box::new(std::iter::empty())),
        ),
        (
            "debug_empty",
            v(0),
            Native::new(|_| Box::new(std::iter::empty())),
        ),
        (
            "inputs",
            v(0),
            Native::new(|_| Box::new(std::iter::empty())),
        ),
    ];
    let input: Fun<D> = ("input", v(0), Native::new(|_| Box::new(std::iter::empty())));
    jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(move |(name, _, _)| !replaced.contains(name))
        .chain(sandbox)
        .chain([input])
}

/// Refuses programs that define their own filters (`def f: …;`). jaq has no recursion
/// limit, and a recursive definition (`def f: 1 + f; f`) overflows the thread's stack,
/// which aborts the whole server; the built-in filters (`map`, `reduce`, `recurse`,
/// `until`, `while`, `limit`, …) iterate without growing the stack (checked up to a
/// million iterations), so only user definitions are refused.
fn refuse_definitions(code: &str) -> Result<(), String> {
    use jaq_core::load::lex::{Lexer, StrPart, Tok, Token};
    fn find_def<'a>(tokens: &[Token<&'a str>]) -> Option<&'a str> {
        tokens.iter().find_map(|Token(text, tok)| match tok {
            Tok::Word if *text == "def" => Some(*text),
            Tok::Block(inner) => find_def(inner),
            Tok::Str(parts) => parts.iter().find_map(|part| match part {
                StrPart::Term(t) => find_def(std::slice::from_ref(t)),
                _ => None,
            }),
            _ => None,
        })
    }
    // The loader already lexed the program successfully; a lex error here cannot happen,
    // and would only mean there is nothing to refuse.
    let Ok(tokens) = Lexer::new(code).lex() else {
        return Ok(());
    };
    match find_def(&tokens) {
        Some(at) => Err(format!(
            "jq: filter definitions ('def') are not allowed in workflow programs ({}); \
             use the built-in filters (map, reduce, recurse, until, …)",
            position(code, at)
        )),
        None => Ok(()),
    }
}

/// Byte offset of `part` (a slice of `code`, as jaq reports positions) as `line L, column C`.
fn position(code: &str, part: &str) -> String {
    let offset = (part.as_ptr() as usize)
        .checked_sub(code.as_ptr() as usize)
        .filter(|o| *o <= code.len())
        .unwrap_or(code.len());
    let before = code.get(..offset).unwrap_or(code);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// The found text of an error, shortened for messages.
fn snippet(part: &str) -> String {
    let s: String = part.chars().take(20).collect();
    if s.is_empty() {
        "end of program".to_string()
    } else {
        format!("{s:?}")
    }
}

fn load_errors(code: &str, errs: jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error;
    let mut msgs = Vec::new();
    for (_file, err) in errs {
        match err {
            Error::Io(items) => {
                for (path, e) in items {
                    msgs.push(format!("cannot load module {path:?}: {e}"));
                }
            }
            Error::Lex(items) => {
                for (expect, at) in items {
                    msgs.push(format!(
                        "expected {} at {} ({})",
                        expect.as_str(),
                        position(code, at),
                        snippet(at)
                    ));
                }
            }
            Error::Parse(items) => {
                for (expect, at) in items {
                    msgs.push(format!(
                        "expected {} at {} ({})",
                        expect.as_str(),
                        position(code, at),
                        snippet(at)
                    ));
                }
            }
        }
    }
    format!("jq: {}", msgs.join("; "))
}

fn compile_errors(code: &str, errs: jaq_core::compile::Errors<&str, ()>) -> String {
    use jaq_core::compile::Undefined;
    let mut msgs = Vec::new();
    for (_file, items) in errs {
        for (name, undefined) in items {
            let what = match &undefined {
                Undefined::Filter(arity) => format!("filter '{name}/{arity}'"),
                Undefined::Var => format!("variable '{name}'"),
                other => format!("{} '{name}'", other.as_str()),
            };
            msgs.push(format!("undefined {what} at {}", position(code, name)));
        }
    }
    format!("jq: {}", msgs.join("; "))
}

/// `serde_json::Value` to jaq's `Val`, losslessly: integers stay integers (`i64`/`u64`, big
/// ones as jaq big integers), floats stay `f64`, strings keep their UTF-8 bytes, object key
/// order is kept.
pub(crate) fn to_val(value: &Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Val::Num(jaq_json::Num::from_integral(i))
            } else if let Some(u) = n.as_u64() {
                Val::Num(jaq_json::Num::from_integral(u))
            } else {
                Val::Num(jaq_json::Num::Float(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        Value::String(s) => Val::utf8_str(s.clone().into_bytes()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => Val::obj(
            map.iter()
                .map(|(k, v)| (Val::utf8_str(k.clone().into_bytes()), to_val(v)))
                .collect(),
        ),
    }
}

/// jaq's `Val` back to JSON. Integers that fit `i64`/`u64` stay integers; larger ones and
/// decimal literals go through their decimal text (as `f64`); NaN and infinities become
/// `null` as in jq; byte strings are read as UTF-8 (invalid bytes replaced); non-string
/// object keys (`{(1): 2}`) are written as their JSON text.
pub(crate) fn from_val(val: &Val) -> Value {
    match val {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => num_to_json(n),
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(items) => Value::Array(items.iter().map(from_val).collect()),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => from_val(other).to_string(),
                    };
                    (key, from_val(v))
                })
                .collect(),
        ),
    }
}

fn num_to_json(n: &jaq_json::Num) -> Value {
    use jaq_json::Num;
    let from_f64 = |f: f64| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    match n {
        Num::Int(i) => Value::Number(serde_json::Number::from(*i as i64)),
        Num::Float(f) => from_f64(*f),
        Num::BigInt(_) | Num::Dec(_) => {
            let text = n.to_string();
            if let Ok(i) = text.parse::<i64>() {
                Value::Number(i.into())
            } else if let Ok(u) = text.parse::<u64>() {
                Value::Number(u.into())
            } else {
                from_f64(text.parse::<f64>().unwrap_or(f64::NAN))
            }
        }
    }
}

// The compiled filter must stay shareable across the engine's worker threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Program>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(code: &str, input: Value) -> Result<Vec<Value>, String> {
        Program::compile(code)?.run(&input)
    }

    #[test]
    fn paths_and_iteration() {
        let input = json!({"a": {"b": [1, 2, {"c": "x"}]}});
        assert_eq!(run(".a.b[2].c", input.clone()), Ok(vec![json!("x")]));
        assert_eq!(
            run(".a.b[]", input.clone()),
            Ok(vec![json!(1), json!(2), json!({"c": "x"})])
        );
        assert_eq!(run(".missing", input.clone()), Ok(vec![json!(null)]));
        assert_eq!(run(".a.b | length", input), Ok(vec![json!(3)]));
    }

    #[test]
    fn map_select_and_construction() {
        let input =
            json!({"items": [{"n": 1, "ok": true}, {"n": 2, "ok": false}, {"n": 3, "ok": true}]});
        assert_eq!(
            run("[.items[] | select(.ok) | .n]", input.clone()),
            Ok(vec![json!([1, 3])])
        );
        assert_eq!(
            run(".items | map(.n * 10)", input.clone()),
            Ok(vec![json!([10, 20, 30])])
        );
        assert_eq!(
            run(
                "{total: (.items | map(.n) | add), first: .items[0].n}",
                input
            ),
            Ok(vec![json!({"total": 6, "first": 1})])
        );
    }

    #[test]
    fn arithmetic_keeps_integers_and_floats() {
        assert_eq!(run(".a + .b", json!({"a": 2, "b": 3})), Ok(vec![json!(5)]));
        assert_eq!(run(".a * 1.5", json!({"a": 2})), Ok(vec![json!(3.0)]));
        assert_eq!(run("1 / 4", json!(null)), Ok(vec![json!(0.25)]));
        assert_eq!(run(". - 1", json!(u64::MAX)), Ok(vec![json!(u64::MAX - 1)]));
        assert_eq!(run("\"a\" + \"b\"", json!(null)), Ok(vec![json!("ab")]));
    }

    #[test]
    fn round_trip_is_lossless() {
        let input = json!({
            "big": u64::MAX, "neg": i64::MIN, "f": 0.1, "e": 1e300,
            "s": "héllo \u{1F600} \"q\"", "arr": [null, true, false], "o": {"z": 1, "a": 2}
        });
        assert_eq!(run(".", input.clone()), Ok(vec![input]));
        // Key order survives (serde_json here has no preserve_order, so only equality).
        assert_eq!(
            run("keys", json!({"b": 1, "a": 2})),
            Ok(vec![json!(["a", "b"])])
        );
    }

    #[test]
    fn errors_are_messages() {
        let err = run(".a.b", json!({"a": 1})).unwrap_err();
        assert!(err.starts_with("jq: cannot index 1"), "{err}");
        assert_eq!(run("error(\"boom\")", json!(null)), Err("jq: boom".into()));
        assert_eq!(
            run("halt", json!(null)),
            Err("jq: program called halt (exit code 0)".into())
        );
    }

    #[test]
    fn compile_errors_name_the_problem() {
        let err = Program::compile(".a |").unwrap_err();
        assert!(err.starts_with("jq: expected"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        let err = Program::compile("nosuchfilter(1)").unwrap_err();
        assert!(err.contains("undefined filter 'nosuchfilter/1'"), "{err}");
        let err = Program::compile("$x").unwrap_err();
        assert!(err.contains("undefined variable"), "{err}");
        let err = Program::compile("{a: \"unterminated}").unwrap_err();
        assert!(err.starts_with("jq: expected"), "{err}");
    }

    #[test]
    fn definitions_are_refused() {
        let err = Program::compile("def f: 1 + f; f").unwrap_err();
        assert!(
            err.contains("'def') are not allowed") && err.contains("line 1, column 1"),
            "{err}"
        );
        let err = Program::compile(".a | (def g: .; g)").unwrap_err();
        assert!(err.contains("line 1, column 7"), "{err}");
        let err = Program::compile("\"x\\(def h: 1; h)\"").unwrap_err();
        assert!(err.contains("not allowed"), "{err}");
        // The word inside a string, or as a quoted key, is fine.
        assert_eq!(run("\"def\"", json!(null)), Ok(vec![json!("def")]));
        assert_eq!(
            run("{\"def\": 1}", json!(null)),
            Ok(vec![json!({"def": 1})])
        );
        // Deep iteration through built-ins does not grow the stack.
        assert_eq!(
            run("last(limit(100000; repeat(1)))", json!(null)),
            Ok(vec![json!(1)])
        );
    }

    #[test]
    fn truthiness_and_first() {
        let p = |c: &str| Program::compile(c).unwrap();
        assert!(!p("false").truthy(&json!(null)).unwrap());
        assert!(!p("null").truthy(&json!(null)).unwrap());
        assert!(!p("empty").truthy(&json!(null)).unwrap());
        assert!(p("0").truthy(&json!(null)).unwrap());
        assert!(p("\"\"").truthy(&json!(null)).unwrap());
        assert!(p(".n > 1").truthy(&json!({"n": 2})).unwrap());
        assert_eq!(p("1, 2").first(&json!(null)).unwrap(), Some(json!(1)));
        assert_eq!(p("empty").first(&json!(null)).unwrap(), None);
        // first stops early: an infinite generator, or a loop after the first output, is fine.
        assert_eq!(p("repeat(1)").first(&json!(null)).unwrap(), Some(json!(1)));
        assert!(p("true, until(false; .)").truthy(&json!(null)).unwrap());
    }

    #[test]
    fn transform_output_shapes() {
        let p = |c: &str| Program::compile(c).unwrap().output(&json!({"a": [1, 2]}));
        assert_eq!(p("empty"), Ok(json!(null)));
        assert_eq!(p(".a[0]"), Ok(json!(1)));
        assert_eq!(p(".a[]"), Ok(json!([1, 2])));
    }

    #[test]
    fn outputs_are_capped() {
        let err = run("range(20000)", json!(null)).unwrap_err();
        assert!(err.contains("more than 10000 outputs"), "{err}");
        assert_eq!(run("range(10000)", json!(null)).unwrap().len(), MAX_OUTPUTS);
    }

    #[test]
    fn sandbox_hides_the_environment() {
        assert_eq!(run("env", json!(null)), Ok(vec![json!({})]));
        assert_eq!(run("[inputs]", json!(null)), Ok(vec![json!([])]));
        assert_eq!(run("1 | debug | stderr", json!(null)), Ok(vec![json!(1)]));
        assert!(Program::compile("$ENV").is_err());
    }

    #[tokio::test]
    async fn run_blocking_returns_results_and_times_out() {
        let p = std::sync::Arc::new(Program::compile(".a * 2").unwrap());
        let out = run_blocking(p, json!({"a": 21}), Duration::from_secs(5)).await;
        assert_eq!(out, Ok(vec![json!(42)]));
        // Yields only at the end (about 3 s here): the caller gets its answer at the timeout.
        let p = std::sync::Arc::new(Program::compile("last(range(3000000))").unwrap());
        let err = run_blocking(p, json!(null), Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(err.contains("ran longer than 0.05 s"), "{err}");
    }

    #[test]
    fn program_is_shareable_across_threads() {
        let p = std::sync::Arc::new(Program::compile(".x + 1").unwrap());
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let p = p.clone();
                std::thread::spawn(move || p.run(&json!({"x": i})))
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), Ok(vec![json!(i + 1)]));
        }
    }
}

//! `window.__INITIAL_STATE__` in XHS HTML pages (`collectors.md` §2.6): a JS object
//! literal, not JSON, because it holds bare `undefined`. MediaCrawler reads the note page
//! as a fallback when the API answers empty; so can we.

use serde_json::{Map, Value};

use super::model::NoteDetail;
use super::parse::note_card;

const MARKER: &str = "window.__INITIAL_STATE__";

/// Extracts and parses the `window.__INITIAL_STATE__={…}` literal of a page. Bare
/// `undefined` outside strings becomes `null`. Returns `None` when the page has no state
/// or it does not parse (a captcha page, a "page isn't available" page, …).
pub fn parse_initial_state(html: &str) -> Option<Value> {
    let start = html.find(MARKER)? + MARKER.len();
    let rest = html[start..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    if !rest.starts_with('{') {
        return None;
    }
    let json = js_literal_to_json(rest)?;
    serde_json::from_str(&json).ok()
}

/// The note `note_id` of a note page's state (`note.noteDetailMap[id].note`, camelCase),
/// decamelised and parsed like an API `note_card`. `None` without that entry (HTML
/// without `noteDetailMap` means a captcha page or a missing note, §2.5).
pub fn note_from_initial_state(state: &Value, note_id: &str) -> Option<NoteDetail> {
    let note = state
        .get("note")?
        .get("noteDetailMap")?
        .get(note_id)?
        .get("note")?;
    note_card(&decamelize(note), Some(note_id))
}

/// Copies the object literal at the start of `text` up to its matching `}`, replacing
/// bare `undefined` with `null` and single-quoted strings with JSON strings. `None` if
/// the braces never balance.
fn js_literal_to_json(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0_usize;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            // Inside a string. Single-quoted JS strings are rewritten as JSON strings.
            match c {
                '\\' => {
                    let (_, next) = chars.next()?;
                    if next == '\'' {
                        out.push('\'');
                    } else {
                        out.push('\\');
                        out.push(next);
                    }
                }
                c if c == q => {
                    out.push('"');
                    quote = None;
                }
                '"' => out.push_str("\\\""),
                c => out.push(c),
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                out.push('"');
            }
            '{' | '[' => {
                depth += 1;
                out.push(c);
            }
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                out.push(c);
                if depth == 0 {
                    return Some(out);
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '$' => {
                // A bare word: copy it whole so `undefinedX` or `"…undefined…"` stay intact.
                let mut end = i + c.len_utf8();
                while let Some(&(j, next)) = chars.peek() {
                    if next.is_ascii_alphanumeric() || next == '_' || next == '$' {
                        end = j + next.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &text[i..end];
                out.push_str(if word == "undefined" { "null" } else { word });
            }
            _ => out.push(c),
        }
    }
    None
}

/// Object keys camelCase → snake_case, recursively (`lastUpdateTime` → `last_update_time`).
fn decamelize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (snake_case(k), decamelize(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(decamelize).collect()),
        other => other.clone(),
    }
}

fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{note_from_initial_state, parse_initial_state, snake_case};

    const PAGE: &str = r##"<html><head><script>window.__INITIAL_STATE__ = {"global":{"appSettings":undefined,"x":[undefined,1]},"note":{"noteDetailMap":{"6630e1f5000000001e03b0a9":{"comments":undefined,"note":{"noteId":"6630e1f5000000001e03b0a9","title":"say \"undefined\" {not a brace}","desc":"#露营[话题]#","type":"normal","time":1714479605000,"lastUpdateTime":1714479606000,"ipLocation":undefined,"user":{"userId":"5f0e","nickname":"薯队长"},"interactInfo":{"likedCount":"1w+","collectedCount":"9.7万","commentCount":"44","shareCount":"10+"},"imageList":[{"urlDefault":"https://i/1","infoList":[]}],"tagList":[{"name":"露营"}]}}}},"undefinedKey":'single'}</script><script>var x = 1;</script></head></html>"##;

    #[test]
    fn parses_the_literal_with_undefined() {
        let state = parse_initial_state(PAGE).unwrap();
        assert_eq!(state["global"]["appSettings"], json!(null));
        assert_eq!(state["global"]["x"], json!([null, 1]));
        assert_eq!(state["undefinedKey"], json!("single"));
        let note = note_from_initial_state(&state, "6630e1f5000000001e03b0a9").unwrap();
        assert_eq!(note.title, "say \"undefined\" {not a brace}");
        assert_eq!(note.ip_location, None);
        assert_eq!(note.last_update_time_ms, Some(1_714_479_606_000));
        assert_eq!(note.author.user_id, "5f0e");
        assert_eq!(note.liked_count, Some(10_000));
        assert_eq!(note.collected_count, Some(97_000));
        assert_eq!(note.share_count, Some(10));
        assert_eq!(note.image_urls, vec!["https://i/1".to_owned()]);
        assert_eq!(note_from_initial_state(&state, "other"), None);
    }

    #[test]
    fn pages_without_state_give_none() {
        for html in [
            "<html>请通过验证</html>",
            "window.__INITIAL_STATE__",
            "window.__INITIAL_STATE__={\"a\":1",
            "window.__INITIAL_STATE__=}",
            "window.__INITIAL_STATE__=[1]",
            "window.__INITIAL_STATE__={\"a\":nope}",
        ] {
            assert_eq!(parse_initial_state(html), None, "{html}");
        }
    }

    #[test]
    fn keys_are_decamelised() {
        assert_eq!(snake_case("lastUpdateTime"), "last_update_time");
        assert_eq!(snake_case("noteId"), "note_id");
        assert_eq!(snake_case("desc"), "desc");
    }
}

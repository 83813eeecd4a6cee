//! A lenient reader for JavaScript object literals such as the legacy book page's
//! `g_data.pageJson = {isVip: 1, bookId: '1010868264', authorInfo: {…}}` (collectors.md §1.2:
//! "JS literal, not strict JSON").
//!
//! Accepts what JSON accepts plus unquoted keys, single-quoted strings, trailing commas,
//! `//` and `/* */` comments, `undefined`, and bare identifier paths (`window.x`), both read as
//! `null`. Nesting is capped so hostile input cannot exhaust the stack. Never evaluates code.

use serde_json::{Map, Number, Value};

/// Deepest nesting accepted; the real `pageJson` is three levels deep.
const MAX_DEPTH: usize = 64;

/// Reads the JS literal assigned to `name` (e.g. `"g_data.pageJson"`) anywhere in `source`.
/// `None` when the assignment is absent or its value cannot be read.
pub(crate) fn assigned_literal(source: &str, name: &str) -> Option<Value> {
    let mut from = 0;
    while let Some(pos) = source[from..].find(name) {
        let after = from + pos + name.len();
        let rest = source[after..].trim_start();
        if let Some(value_src) = rest.strip_prefix('=')
            && !value_src.starts_with('=')
        {
            return parse_prefix(value_src).map(|(v, _)| v);
        }
        from = after;
    }
    None
}

/// Parses one literal at the start of `src` (after whitespace); returns it and the number of
/// bytes consumed. `None` on malformed input.
pub(crate) fn parse_prefix(src: &str) -> Option<(Value, usize)> {
    let mut reader = Reader {
        src: src.as_bytes(),
        text: src,
        pos: 0,
    };
    let value = reader.value(0)?;
    Some((value, reader.pos))
}

struct Reader<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    /// Skips whitespace and comments.
    fn skip(&mut self) {
        loop {
            while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
                self.pos += 1;
            }
            let rest = &self.src[self.pos..];
            if rest.starts_with(b"//") {
                while self.peek().is_some_and(|b| b != b'\n') {
                    self.pos += 1;
                }
            } else if rest.starts_with(b"/*") {
                match self.text[self.pos + 2..].find("*/") {
                    Some(end) => self.pos += end + 4,
                    None => self.pos = self.src.len(),
                }
            } else {
                return;
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' | b'\'' => self.string().map(Value::String),
            b'-' | b'+' | b'.' | b'0'..=b'9' => self.number(),
            _ => {
                let word = self.identifier()?;
                Some(match word {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::Null,
                })
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.skip();
            match self.peek()? {
                b'}' => {
                    self.pos += 1;
                    return Some(Value::Object(map));
                }
                b'"' | b'\'' => {
                    let key = self.string()?;
                    map.insert(key, self.member_value(depth)?);
                }
                _ => {
                    let key = self.identifier()?.to_owned();
                    map.insert(key, self.member_value(depth)?);
                }
            }
            self.skip();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {}
                _ => return None,
            }
        }
    }

    fn member_value(&mut self, depth: usize) -> Option<Value> {
        self.skip();
        if self.peek()? != b':' {
            return None;
        }
        self.pos += 1;
        self.value(depth + 1)
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip();
            if self.peek()? == b']' {
                self.pos += 1;
                return Some(Value::Array(items));
            }
            items.push(self.value(depth + 1)?);
            self.skip();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {}
                _ => return None,
            }
        }
    }

    /// An identifier path such as `undefined` or `window.g_info.x` (letters, digits, `_`,
    /// `$`, `.`).
    fn identifier(&mut self) -> Option<&str> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'))
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.text[start..self.pos])
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
        {
            self.pos += 1;
        }
        let raw = self.text[start..self.pos].trim_start_matches('+');
        if let Ok(i) = raw.parse::<i64>() {
            return Some(Value::Number(i.into()));
        }
        let f: f64 = raw.parse().ok()?;
        Some(Number::from_f64(f).map_or(Value::Null, Value::Number))
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let stop = rest.find([quote as char, '\\', '\n'])?;
            out.push_str(&rest[..stop]);
            self.pos += stop;
            match self.peek()? {
                b'\\' => self.escape(&mut out)?,
                b'\n' => return None,
                _ => {
                    self.pos += 1;
                    return Some(out);
                }
            }
        }
    }

    /// One backslash escape; unknown escapes keep the escaped character, as JS does.
    fn escape(&mut self, out: &mut String) -> Option<()> {
        self.pos += 1;
        let c = self.text[self.pos..].chars().next()?;
        self.pos += c.len_utf8();
        match c {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '0' => out.push('\0'),
            'x' => out.push(self.hex(2)?),
            'u' => out.push(self.hex(4)?),
            '\n' => {}
            other => out.push(other),
        }
        Some(())
    }

    fn hex(&mut self, len: usize) -> Option<char> {
        let digits = self.text.get(self.pos..self.pos + len)?;
        let code = u32::from_str_radix(digits, 16).ok()?;
        self.pos += len;
        // A lone surrogate half cannot be a Rust char; keep the replacement character.
        Some(char::from_u32(code).unwrap_or('\u{FFFD}'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_legacy_page_json() {
        let src = "var g_data = {};\n g_data.pageJson = {\n  isVip: 1, // comment\n  bookId: '1010868264',\n  signStatus: '签约作品', bookType: 1, salesMode: -1.5,\n  authorInfo: { authorId: \"4362088\", 'authorName': '爱潜水\\'的乌贼', avatar: undefined, },\n  list: [1, 2, /* x */ 3,], ok: true, w: window.x\n};\n g_data.chanId = 21;";
        let v = assigned_literal(src, "g_data.pageJson").unwrap();
        assert_eq!(v["bookId"], json!("1010868264"));
        assert_eq!(v["isVip"], json!(1));
        assert_eq!(v["salesMode"], json!(-1.5));
        assert_eq!(v["authorInfo"]["authorName"], json!("爱潜水'的乌贼"));
        assert_eq!(v["authorInfo"]["avatar"], Value::Null);
        assert_eq!(v["list"], json!([1, 2, 3]));
        assert_eq!(v["ok"], json!(true));
        assert_eq!(v["w"], Value::Null);
        assert_eq!(assigned_literal(src, "g_data.chanId"), Some(json!(21)));
    }

    #[test]
    fn rejects_malformed_and_deep_input() {
        assert_eq!(
            assigned_literal("g_data.pageJson = {a: 'x", "g_data.pageJson"),
            None
        );
        assert_eq!(assigned_literal("nothing here", "g_data.pageJson"), None);
        assert_eq!(parse_prefix("{a 1}"), None);
        let deep = "[".repeat(10_000);
        assert_eq!(parse_prefix(&deep), None);
        assert_eq!(
            parse_prefix("'\\u4e2d\\x41'").map(|v| v.0),
            Some(json!("中A"))
        );
    }
}

//! Plugin names (reverse domain), backup user keys, and file-name sanitizing.

/// `com.example.myplugin`: two or more dot-separated segments of letters, digits, `_` and
/// `-`, each starting with a letter or digit; at most 128 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginName(String);

impl PluginName {
    /// Parses a name; the error is the message clients see.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = s.len() <= 128
            && s.split('.').count() >= 2
            && s.split('.').all(|seg| {
                !seg.is_empty()
                    && seg.as_bytes()[0].is_ascii_alphanumeric()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if ok {
            Ok(PluginName(s.to_string()))
        } else {
            Err(format!(
                "插件名称 {s:?} 不是有效的反向域名格式（例如 com.example.myplugin）"
            ))
        }
    }

    /// Parses a name from a lookup request: a malformed one cannot exist (`None`, answered
    /// as "not found" by the caller).
    pub fn lookup(s: &str) -> Option<Self> {
        Self::parse(s).ok()
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A backup owner's key: `[A-Za-z0-9_-]{1,128}`. It works as a secret.
pub fn user_key(s: &str) -> Result<&str, String> {
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(s)
    } else {
        Err("user_key 只能包含字母、数字、下划线和连字符，长度 1-128".to_string())
    }
}

/// A client-supplied file name reduced to its last component and safe characters; what is
/// shown to users (Unicode letters kept).
pub fn display_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    // What the desktop client can save on Windows (issue 7 item 7: accept only what the next
    // component accepts): no trailing dots or spaces (Windows drops them), no device names
    // (`CON`, `NUL`, `COM1`… with any extension open the device, not a file).
    let cleaned = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' '])
        .to_string();
    if cleaned.is_empty() {
        return "backup".to_string();
    }
    let stem = cleaned
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        format!("_{cleaned}").chars().take(100).collect()
    } else {
        cleaned
    }
}

/// The ASCII-only form used inside storage keys.
pub fn storage_file_name(display: &str) -> String {
    let s: String = display
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "backup".to_string()
    } else {
        s
    }
}

/// Checks a display field (shown by the console and the desktop client): no HTML markup (a
/// `<` opening a tag, comment or declaration: `<a`, `</`, `<!`, `<?`), no control characters
/// other than line breaks and tabs where `multiline`. A lone `<` (`a < b`) is text. Issue 7
/// item 14: the console renders these fields.
pub fn plain_text(field: &str, s: &str, multiline: bool) -> Result<(), String> {
    let tag = s
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || b"/!?".contains(&w[1])));
    if tag {
        return Err(format!("{field} 不能包含 HTML 标签"));
    }
    let bad_control = s
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')));
    if bad_control {
        return Err(format!("{field} 不能包含控制字符"));
    }
    Ok(())
}

/// Checks a homepage: an absolute `http://` or `https://` URL with a host, without spaces,
/// control characters, quotes or angle brackets (RFC 3986 §3; other schemes such as
/// `javascript:` or `file:` are refused: the console links it). Issue 7 item 14.
pub fn homepage(s: &str) -> Result<(), String> {
    let lower = s.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.starts_with(['@', ':'])
    });
    let chars_ok = !s.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
    });
    if host_ok && chars_ok {
        Ok(())
    } else {
        Err("homepage 必须是 http:// 或 https:// 开头的网址".into())
    }
}

/// `program` or `plugin`; `None` for anything else.
pub fn backup_type(s: &str) -> Option<&'static str> {
    match s {
        "program" => Some("program"),
        "plugin" => Some("plugin"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names() {
        for ok in [
            "com.example.myplugin",
            "io.a-b.c_d",
            "a.b",
            "Com.Example.X1",
        ] {
            assert!(PluginName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "plugin",
            "com..x",
            ".com.x",
            "com.x.",
            "com.x/../y",
            "com.-x",
            "com.x y",
            &"a.".repeat(70),
        ] {
            assert!(PluginName::parse(bad).is_err(), "{bad}");
        }
    }

    /// Issue 7 item 14: display fields are rendered by the console; markup is refused,
    /// plain comparisons are not.
    #[test]
    fn display_fields_refuse_html() {
        for bad in [
            "<script>alert(1)</script>",
            "x<img src=x>",
            "</b>",
            "<!-- c -->",
            "a\u{7}",
        ] {
            assert!(plain_text("displayName", bad, false).is_err(), "{bad}");
        }
        for ok in ["我的插件", "a < b", "1 <= 2", "x -> y", "AT&T"] {
            assert!(plain_text("displayName", ok, false).is_ok(), "{ok}");
        }
        assert!(plain_text("description", "line 1\nline 2", true).is_ok());
        assert!(plain_text("displayName", "line 1\nline 2", false).is_err());
    }

    /// Issue 7 item 14: homepage must be http or https.
    #[test]
    fn homepages() {
        for ok in [
            "https://example.com",
            "http://example.com/a?b=1#c",
            "HTTPS://EXAMPLE.COM",
        ] {
            assert!(homepage(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "ftp://x.y",
            "https://",
            "https:///path",
            "//example.com",
            "https://exa mple.com",
            "https://example.com/\"onmouseover=\"x",
            "data:text/html,<b>",
        ] {
            assert!(homepage(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_keys() {
        assert!(user_key("user123abc").is_ok());
        assert!(user_key("a-b_C").is_ok());
        for bad in ["", "a b", "../x", "ключ", &"k".repeat(129)] {
            assert!(user_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_names() {
        assert_eq!(display_file_name("../../etc/passwd"), "passwd");
        assert_eq!(display_file_name("C:\\x\\备份 1.zip"), "备份 1.zip");
        assert_eq!(display_file_name("..hidden"), "hidden");
        assert_eq!(display_file_name("a;b|c.zip"), "a_b_c.zip");
        assert_eq!(display_file_name(""), "backup");
        assert_eq!(storage_file_name("备份 1.zip"), "___1.zip");
    }

    /// Issue 7 item 7: names the Windows desktop client cannot save were accepted as given.
    #[test]
    fn file_names_windows_can_save() {
        assert_eq!(display_file_name("backup.zip. . "), "backup.zip");
        assert_eq!(display_file_name("CON.zip"), "_CON.zip");
        assert_eq!(display_file_name("nul"), "_nul");
        assert_eq!(display_file_name("com1.tar.gz"), "_com1.tar.gz");
        assert_eq!(display_file_name("console.zip"), "console.zip");
        assert_eq!(display_file_name("COM10.zip"), "COM10.zip");
        assert_eq!(display_file_name("..."), "backup");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any input parses or is refused; never a panic.
            #[test]
            fn parsers_never_panic(s in ".{0,300}") {
                let _ = PluginName::parse(&s);
                let _ = user_key(&s);
                let _ = backup_type(&s);
            }

            /// Accepted plugin names are reverse-domain: at most 128 bytes, two or more
            /// non-empty segments of `[A-Za-z0-9_-]` starting with a letter or digit.
            #[test]
            fn accepted_plugin_names_are_reverse_domain(s in "[a-z0-9._-]{0,140}") {
                if let Ok(n) = PluginName::parse(&s) {
                    prop_assert!(n.as_str().len() <= 128);
                    let segments: Vec<&str> = n.as_str().split('.').collect();
                    prop_assert!(segments.len() >= 2);
                    for seg in segments {
                        prop_assert!(seg.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric));
                    }
                }
            }

            /// Whatever a client calls its file, the stored name is one safe path segment:
            /// no separators, no leading dot, ASCII only, never empty.
            #[test]
            fn file_names_are_one_safe_segment(raw in ".{0,300}") {
                let shown = display_file_name(&raw);
                prop_assert!(!shown.is_empty() && shown.chars().count() <= 100);
                prop_assert!(!shown.contains(['/', '\\']) && !shown.starts_with('.'));
                prop_assert!(!shown.ends_with(['.', ' ']));
                let stored = storage_file_name(&shown);
                prop_assert!(!stored.is_empty() && !stored.starts_with('.'));
                prop_assert!(stored.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            }
        }
    }
}

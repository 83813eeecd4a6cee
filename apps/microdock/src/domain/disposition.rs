//! The file name of a multipart part, read the way real clients write it (issue 7 item 7):
//!
//! 1. `filename*` (RFC 7578 §4.2 defers to RFC 6266 §4.3 / RFC 8187 (was 5987):
//!    `charset'lang'percent-encoded`), preferred whenever it decodes;
//! 2. `filename` holding RFC 2047 encoded words (`=?utf-8?B?…?=`, `=?utf-8?Q?…?=`): what .NET's
//!    `MultipartFormDataContent` (the MicroDock desktop client) writes for non-ASCII names,
//!    next to a `filename*`;
//! 3. `filename` as browsers send it (WHATWG HTML "multipart/form-data encoding
//!    algorithm"): raw UTF-8 with `"`, CR and LF escaped as `%22`, `%0D`, `%0A`; a quoted
//!    string's backslash escapes are honoured.
//!
//! Whatever comes out is then reduced by the caller to what storage and clients accept
//! (`names::display_file_name`).

use base64::Engine as _;

/// The `(name, value)` parameters after the disposition type; values unquoted.
fn params(header: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = header
        .iter()
        .position(|b| *b == b';')
        .map_or(header.len(), |p| p + 1);
    while i < header.len() {
        while i < header.len() && matches!(header[i], b' ' | b'\t' | b';') {
            i += 1;
        }
        let start = i;
        while i < header.len() && !matches!(header[i], b'=' | b';') {
            i += 1;
        }
        let name = String::from_utf8_lossy(&header[start..i])
            .trim()
            .to_ascii_lowercase();
        if i >= header.len() || header[i] == b';' {
            continue;
        }
        i += 1; // '='
        while i < header.len() && matches!(header[i], b' ' | b'\t') {
            i += 1;
        }
        let mut value = Vec::new();
        if header.get(i) == Some(&b'"') {
            i += 1;
            while i < header.len() && header[i] != b'"' {
                if header[i] == b'\\' && i + 1 < header.len() {
                    i += 1;
                }
                value.push(header[i]);
                i += 1;
            }
            i += 1; // closing quote
            while i < header.len() && header[i] != b';' {
                i += 1;
            }
        } else {
            let start = i;
            while i < header.len() && header[i] != b';' {
                i += 1;
            }
            value.extend_from_slice(header[start..i].trim_ascii());
        }
        out.push((name, value));
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `%XX` sequences decoded; `None` on a malformed escape.
fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            out.push(hex(*s.get(i + 1)?)? << 4 | hex(*s.get(i + 2)?)?);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Bytes in `charset` as text (UTF-8 and ISO-8859-1, the two RFC 8187 requires).
fn decode_charset(charset: &str, bytes: Vec<u8>) -> Option<String> {
    match charset.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" | "latin1" | "us-ascii" => Some(bytes.iter().map(|b| *b as char).collect()),
        _ => None,
    }
}

/// RFC 8187 `ext-value`: `charset'[language]'value-chars`.
fn ext_value(v: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(v).ok()?;
    let mut parts = text.splitn(3, '\'');
    let (charset, _lang, value) = (parts.next()?, parts.next()?, parts.next()?);
    decode_charset(charset, percent_decode(value.as_bytes())?)
}

/// One or more RFC 2047 encoded words separated by whitespace; `None` if `v` is not made
/// of them.
fn encoded_words(v: &str) -> Option<String> {
    let mut out = String::new();
    for word in v.split_whitespace() {
        let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
        let mut parts = inner.splitn(3, '?');
        let (charset, enc, text) = (parts.next()?, parts.next()?, parts.next()?);
        let charset = charset.split('*').next()?; // RFC 2231 language suffix
        let bytes = match enc {
            "B" | "b" => base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()?,
            "Q" | "q" => percent_decode(text.replace('_', " ").replace('=', "%").as_bytes())?,
            _ => return None,
        };
        out.push_str(&decode_charset(charset, bytes)?);
    }
    (!out.is_empty()).then_some(out)
}

/// The file name a `Content-Disposition` header gives, as described in the module
/// documentation; `None` when it has none.
pub fn file_name(header: &[u8]) -> Option<String> {
    let params = params(header);
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    if let Some(name) = get("filename*").and_then(|v| ext_value(v))
        && !name.is_empty()
    {
        return Some(name);
    }
    let raw = get("filename")?;
    let text =
        String::from_utf8(raw.clone()).unwrap_or_else(|_| raw.iter().map(|b| *b as char).collect());
    if let Some(decoded) = encoded_words(&text) {
        return Some(decoded);
    }
    Some(
        text.replace("%22", "\"")
            .replace("%0D", "\r")
            .replace("%0A", "\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 7 item 7: .NET's `MultipartFormDataContent` sends both forms; the plugin upload
    /// answered "仅支持 .zip" and a backup was stored as `__utf-8_B_…`.
    #[test]
    fn dotnet_multipart_names() {
        let h = "form-data; name=file; filename=\"=?utf-8?B?5o+S5Lu2LnppcA==?=\"; filename*=utf-8''%E6%8F%92%E4%BB%B6.zip";
        assert_eq!(file_name(h.as_bytes()).unwrap(), "插件.zip");
        let only_2047 = "form-data; name=file; filename=\"=?utf-8?B?5o+S5Lu2LnppcA==?=\"";
        assert_eq!(file_name(only_2047.as_bytes()).unwrap(), "插件.zip");
    }

    #[test]
    fn standard_and_browser_forms() {
        let cases: &[(&[u8], &str)] = &[
            (b"form-data; name=\"file\"; filename=\"a.zip\"", "a.zip"),
            (b"form-data; name=\"file\"; filename=a.zip", "a.zip"),
            (
                "form-data; name=\"file\"; filename=\"备份.zip\"".as_bytes(),
                "备份.zip",
            ),
            (
                b"form-data; name=\"file\"; filename=\"a%22b.zip\"",
                "a\"b.zip",
            ),
            (
                b"form-data; name=\"file\"; filename=\"a\\\"b.zip\"",
                "a\"b.zip",
            ),
            (
                b"form-data; filename*=UTF-8''%E5%A4%87%E4%BB%BD.zip",
                "备份.zip",
            ),
            (b"form-data; filename*=iso-8859-1'en'%E9t%E9.zip", "été.zip"),
            (
                b"form-data; filename=\"x.zip\"; filename*=utf-8''%ZZ",
                "x.zip",
            ),
            (
                b"form-data; filename=\"=?UTF-8?Q?caf=C3=A9_1.zip?=\"",
                "café 1.zip",
            ),
            (b"form-data; filename=\"100%25.zip\"", "100%25.zip"),
            (b"form-data; filename=\"a;b.zip\"", "a;b.zip"),
        ];
        for (h, want) in cases {
            assert_eq!(
                file_name(h).as_deref(),
                Some(*want),
                "{}",
                String::from_utf8_lossy(h)
            );
        }
        assert_eq!(file_name(b"form-data; name=\"file\""), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any header bytes are read or give no name; never a panic.
            #[test]
            fn any_header_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = file_name(&bytes);
            }
        }
    }
}

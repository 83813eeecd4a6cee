//! The console's two languages: Chinese by default (the seeds' users), English by `?lang=en`
//! (remembered in the `trellis_lang` cookie) or by `Accept-Language` (RFC 9110 §12.5.4).
//!
//! Strings live next to the markup that shows them, as pairs: `lang.t("插件", "Plugins")`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The cookie that remembers a `?lang=` choice.
pub const LANG_COOKIE: &str = "trellis_lang";

/// A console language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文 (the default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The string for this language.
    pub fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The `?lang=` value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// `zh` or `en` (any region); `None` for anything else.
    pub fn parse(s: &str) -> Option<Lang> {
        let primary = s.split(['-', '_']).next().unwrap_or("").trim();
        if primary.eq_ignore_ascii_case("zh") {
            Some(Lang::Zh)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The language of a request: `?lang=`, then the cookie, then the `Accept-Language`
    /// entry of highest weight that is Chinese or English, then Chinese.
    pub fn of(parts: &Parts) -> Lang {
        Lang::from_request(&parts.uri, &parts.headers)
    }

    /// [`Lang::of`] from the URI and headers.
    pub fn from_request(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> Lang {
        if let Some(l) = query_lang(uri.query()) {
            return l;
        }
        if let Some(l) = crate::cookies::get(headers, LANG_COOKIE).and_then(Lang::parse) {
            return l;
        }
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(accept_language)
            .unwrap_or_default()
    }
}

/// The `lang` query parameter, if it names a console language.
pub fn query_lang(query: Option<&str>) -> Option<Lang> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
}

/// The preferred console language of an `Accept-Language` value: entries in order of their
/// `q` weight (default 1, RFC 9110 §12.4.2), the first Chinese or English one wins; `q=0`
/// means "not acceptable".
pub fn accept_language(v: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for entry in v.split(',') {
        let mut it = entry.split(';');
        let tag = it.next().unwrap_or("").trim();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        if let Some(l) = Lang::parse(tag)
            && best.is_none_or(|(b, _)| q > b)
        {
            best = Some((q, l));
        }
    }
    best.map(|(_, l)| l)
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::of(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_weights() {
        assert_eq!(accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(accept_language("fr, zh-CN;q=0.8, en;q=0.5"), Some(Lang::Zh));
        assert_eq!(accept_language("en;q=0.2, zh-TW;q=0.7"), Some(Lang::Zh));
        assert_eq!(accept_language("zh;q=0, en;q=0.1"), Some(Lang::En));
        assert_eq!(accept_language("de, fr"), None);
        assert_eq!(accept_language(""), None);
    }

    #[test]
    fn query_wins() {
        assert_eq!(query_lang(Some("a=1&lang=en")), Some(Lang::En));
        assert_eq!(query_lang(Some("lang=xx")), None);
        assert_eq!(query_lang(None), None);
    }
}

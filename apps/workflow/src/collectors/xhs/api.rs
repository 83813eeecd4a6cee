//! Building XHS web API requests (`collectors.md` §2.2, §2.4): read-only endpoints only
//! (the write endpoints exist on the site; the platform never calls them, §2.2).
//!
//! The query string is built by hand because the signature covers it byte for byte and
//! the site's own client leaves commas un-encoded (`image_formats=jpg,webp,avif`, §2.4):
//! values are percent-encoded except the RFC 3986 unreserved characters and `,`, which
//! also survives `reqwest`/`url` unchanged, so what is signed is what is sent.

use reqwest::Url;
use serde_json::json;

/// The image formats the web client asks for.
const IMAGE_FORMATS: &str = "jpg,webp,avif";

/// Search page size used by the web client (§2.2).
pub const SEARCH_PAGE_SIZE: u32 = 20;

/// Notes per `user_posted` page (§2.2).
pub const USER_POSTED_PAGE_SIZE: u32 = 30;

/// An HTTP method the collector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiMethod {
    /// `GET`.
    Get,
    /// `POST` with a JSON body.
    Post,
}

impl ApiMethod {
    /// `"GET"` or `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiMethod::Get => "GET",
            ApiMethod::Post => "POST",
        }
    }
}

/// A prepared API request: what is signed and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// The method.
    pub method: ApiMethod,
    /// The path with the hand-built query (`/api/sns/web/v2/comment/page?note_id=…`).
    pub path_and_query: String,
    /// The JSON body text for `POST`.
    pub body: Option<String>,
}

/// The API and web origins (`https://edith.xiaohongshu.com`,
/// `https://www.xiaohongshu.com` in production; the fixture's base URL for both in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XhsApi {
    api_base: Url,
    web_base: Url,
}

impl XhsApi {
    /// An API client description. Only the origins of the URLs are used.
    pub fn new(api_base: Url, web_base: Url) -> Self {
        XhsApi { api_base, web_base }
    }

    /// The API base URL.
    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// The web base URL (sent as `Origin`/`Referer`).
    pub fn web_base(&self) -> &Url {
        &self.web_base
    }

    /// The absolute URL of a prepared request.
    ///
    /// Errors: the combination does not parse (cannot happen for requests built here).
    pub fn url(&self, req: &ApiRequest) -> Result<Url, url::ParseError> {
        join_origin(&self.api_base, &req.path_and_query)
    }

    /// `POST /api/sns/web/v1/search/notes`: page `page` (from 1) of the notes for
    /// `keyword`, general sort, all note types. `search_id` stays fixed per keyword.
    pub fn search_notes(&self, keyword: &str, page: u32, search_id: &str) -> ApiRequest {
        let body = json!({
            "keyword": keyword,
            "page": page,
            "page_size": SEARCH_PAGE_SIZE,
            "search_id": search_id,
            "sort": "general",
            "note_type": 0,
        });
        post("/api/sns/web/v1/search/notes", &body)
    }

    /// `POST /api/sns/web/v1/feed`: the detail of `note_id` with the listing's
    /// `xsec_token` and its source (`pc_search`, `pc_feed`, …).
    pub fn note_detail(&self, note_id: &str, xsec_token: &str, xsec_source: &str) -> ApiRequest {
        let body = json!({
            "source_note_id": note_id,
            "image_formats": ["jpg", "webp", "avif"],
            "extra": {"need_body_topic": "1"},
            "xsec_source": xsec_source,
            "xsec_token": xsec_token,
        });
        post("/api/sns/web/v1/feed", &body)
    }

    /// `GET /api/sns/web/v2/comment/page`: top-level comments of `note_id` after
    /// `cursor` (the last comment id of the previous page; `None` for the first page).
    pub fn comments(&self, note_id: &str, xsec_token: &str, cursor: Option<&str>) -> ApiRequest {
        get(
            "/api/sns/web/v2/comment/page",
            &[
                ("note_id", note_id),
                ("cursor", cursor.unwrap_or("")),
                ("top_comment_id", ""),
                ("image_formats", IMAGE_FORMATS),
                ("xsec_token", xsec_token),
            ],
        )
    }

    /// `GET /api/sns/web/v1/user_posted`: 30 notes of `user_id` after `cursor` (the last
    /// note id; `None` first), with the user's `xsec_token` when known.
    pub fn creator_notes(
        &self,
        user_id: &str,
        cursor: Option<&str>,
        xsec_token: Option<&str>,
    ) -> ApiRequest {
        let num = USER_POSTED_PAGE_SIZE.to_string();
        get(
            "/api/sns/web/v1/user_posted",
            &[
                ("num", num.as_str()),
                ("cursor", cursor.unwrap_or("")),
                ("user_id", user_id),
                ("image_formats", IMAGE_FORMATS),
                ("xsec_token", xsec_token.unwrap_or("")),
                ("xsec_source", "pc_feed"),
            ],
        )
    }

    /// `GET /api/sns/web/v1/user/selfinfo`: the session preflight (is it logged in?).
    pub fn selfinfo(&self) -> ApiRequest {
        get("/api/sns/web/v1/user/selfinfo", &[])
    }

    /// The note page `/explore/{note_id}?xsec_token=…&xsec_source=…` on the web origin,
    /// whose `__INITIAL_STATE__` is the fallback for an empty API answer (§2.6).
    ///
    /// Errors: the combination does not parse (cannot happen for a valid base).
    pub fn note_page_url(
        &self,
        note_id: &str,
        xsec_token: &str,
        xsec_source: &str,
    ) -> Result<Url, url::ParseError> {
        let path = format!(
            "/explore/{}?{}",
            encode(note_id),
            query(&[("xsec_token", xsec_token), ("xsec_source", xsec_source)])
        );
        join_origin(&self.web_base, &path)
    }

    /// `robots.txt` on the web origin (§3: `Disallow: /`).
    ///
    /// Errors: the combination does not parse (cannot happen for a valid base).
    pub fn robots_url(&self) -> Result<Url, url::ParseError> {
        join_origin(&self.web_base, "/robots.txt")
    }
}

/// Whether `req` is the session preflight.
pub fn is_selfinfo(req: &ApiRequest) -> bool {
    req.path_and_query
        .starts_with("/api/sns/web/v1/user/selfinfo")
}

fn post(path: &str, body: &serde_json::Value) -> ApiRequest {
    ApiRequest {
        method: ApiMethod::Post,
        path_and_query: path.to_owned(),
        body: Some(body.to_string()),
    }
}

fn get(path: &str, params: &[(&str, &str)]) -> ApiRequest {
    let path_and_query = if params.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query(params))
    };
    ApiRequest {
        method: ApiMethod::Get,
        path_and_query,
        body: None,
    }
}

/// `k=v&k=v` in the given order, values encoded by [`encode`].
fn query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but `A-Z a-z 0-9 - . _ ~` and `,` (UTF-8 bytes, `%XX`).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b',') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `base`'s origin followed by `path_and_query` (any path on `base` is ignored).
fn join_origin(base: &Url, path_and_query: &str) -> Result<Url, url::ParseError> {
    Url::parse(&format!(
        "{}{path_and_query}",
        base.origin().ascii_serialization()
    ))
}

#[cfg(test)]
mod tests {
    use reqwest::Url;
    use url::Position;

    use super::{ApiMethod, XhsApi, encode};

    fn api() -> XhsApi {
        XhsApi::new(
            Url::parse("https://edith.xiaohongshu.com").unwrap(),
            Url::parse("https://www.xiaohongshu.com/").unwrap(),
        )
    }

    #[test]
    fn comments_query_keeps_commas_and_encodes_tokens() {
        let req = api().comments("6630e1f5000000001e03b0a9", "AB+x/y=", Some("c1"));
        assert_eq!(req.method, ApiMethod::Get);
        assert_eq!(
            req.path_and_query,
            "/api/sns/web/v2/comment/page?note_id=6630e1f5000000001e03b0a9&cursor=c1\
             &top_comment_id=&image_formats=jpg,webp,avif&xsec_token=AB%2Bx%2Fy%3D"
        );
        // What is signed is what is sent: the URL keeps the query byte for byte.
        let url = api().url(&req).unwrap();
        assert_eq!(&url[Position::BeforePath..], req.path_and_query);
        assert_eq!(url.host_str(), Some("edith.xiaohongshu.com"));
    }

    #[test]
    fn creator_notes_and_selfinfo() {
        let req = api().creator_notes("5f0e", None, None);
        assert_eq!(
            req.path_and_query,
            "/api/sns/web/v1/user_posted?num=30&cursor=&user_id=5f0e\
             &image_formats=jpg,webp,avif&xsec_token=&xsec_source=pc_feed"
        );
        assert_eq!(
            api().selfinfo().path_and_query,
            "/api/sns/web/v1/user/selfinfo"
        );
        assert!(super::is_selfinfo(&api().selfinfo()));
    }

    #[test]
    fn posts_carry_json_bodies() {
        let req = api().search_notes("露营 装备", 2, "sid");
        assert_eq!(req.method, ApiMethod::Post);
        assert_eq!(req.path_and_query, "/api/sns/web/v1/search/notes");
        let body: serde_json::Value = serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"keyword": "露营 装备", "page": 2, "page_size": 20,
                "search_id": "sid", "sort": "general", "note_type": 0})
        );
        let req = api().note_detail("n1", "tok", "pc_search");
        let body: serde_json::Value = serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["source_note_id"], "n1");
        assert_eq!(body["xsec_token"], "tok");
        assert_eq!(body["xsec_source"], "pc_search");
        assert_eq!(
            body["image_formats"],
            serde_json::json!(["jpg", "webp", "avif"])
        );
    }

    #[test]
    fn encoding_and_web_urls() {
        assert_eq!(encode("a b,c~é"), "a%20b,c~%C3%A9");
        let page = api().note_page_url("n1", "t=", "pc_search").unwrap();
        assert_eq!(
            page.as_str(),
            "https://www.xiaohongshu.com/explore/n1?xsec_token=t%3D&xsec_source=pc_search"
        );
        assert_eq!(
            api().robots_url().unwrap().as_str(),
            "https://www.xiaohongshu.com/robots.txt"
        );
    }
}

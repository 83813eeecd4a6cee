//! The console's page frame (navigation, language switch, sign-out), status pages and
//! small shared pieces (the CSRF input, error notes, redirects), in `maud` markup.
//!
//! Pages are plain HTML that works without scripts; `htmx` and `console.js` only enhance
//! (partial updates, upload progress, live streams). Under the strict
//! `Content-Security-Policy` nothing is inline: no `<script>` bodies, no `style=`.

use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::assets;
use crate::i18n::Lang;
use crate::session::{Ctx, Guest, Member};

/// The navigation's sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    /// The console home.
    Home,
    /// MicroDock (seed 004): 插件 / Plugins.
    Plugins,
    /// Workflow Platform (seed 000): 工作流 / Workflows.
    Workflows,
    /// Momentum (seed 002): 项目 / Issues.
    Issues,
    /// Pet diet planner (seed 003): 饮食计划 / Diet plans.
    Diet,
    /// 账户 / Account.
    Account,
    /// Signed-out pages (login, registration, reset).
    None,
}

/// `(section, app that must be mounted, path, 中文, English)`.
const SECTIONS: &[(Nav, Option<&str>, &str, &str, &str)] = &[
    (
        Nav::Plugins,
        Some("microdock"),
        "/console/plugins",
        "插件",
        "Plugins",
    ),
    (
        Nav::Workflows,
        Some("workflow"),
        "/console/workflows",
        "工作流",
        "Workflows",
    ),
    (
        Nav::Issues,
        Some("momentum"),
        "/console/issues",
        "项目",
        "Issues",
    ),
    (
        Nav::Diet,
        Some("dietplan"),
        "/console/diet",
        "饮食计划",
        "Diet plans",
    ),
    (Nav::Account, None, "/console/account", "账户", "Account"),
];

/// The sections shown to this server's users: `(section, path, label)` of mounted apps.
pub fn sections(ctx: &Ctx, lang: Lang) -> Vec<(Nav, &'static str, &'static str)> {
    SECTIONS
        .iter()
        .filter(|(_, app, ..)| app.is_none_or(|a| ctx.apps.contains(&a)))
        .map(|(n, _, path, zh, en)| (*n, *path, lang.t(zh, en)))
        .collect()
}

/// The hidden CSRF input every POST form carries.
pub fn csrf_input(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(ctx.csrf); }
}

/// An error note shown in place (`role="alert"`, so screen readers announce it).
pub fn error_note(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p.error role="alert" { (m) }
        }
    }
}

/// A success note.
pub fn ok_note(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p.ok role="status" { (m) }
        }
    }
}

/// `path` with `lang=` set to `to` (the language switch keeps the page).
fn switch_lang(path: &str, to: Lang) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let mut kept: Vec<&str> = q
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
        .collect();
    let lang = format!("lang={}", to.code());
    kept.push(&lang);
    format!("{p}?{}", kept.join("&"))
}

/// A whole page: head with the embedded assets, the navigation (sections of mounted apps,
/// the user and the sign-out button when signed in, the language switch), then `body`
/// under an `<h1>` of `title`.
pub fn frame(
    guest: &Guest,
    member: Option<&Member>,
    active: Nav,
    title: &str,
    body: Markup,
) -> Markup {
    let lang = guest.lang;
    let other = match lang {
        Lang::Zh => Lang::En,
        Lang::En => Lang::Zh,
    };
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}"#;
                title { (title) " · Trellis" }
                link rel="stylesheet" href=(assets::url("console.css"));
                link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                script src=(assets::url("htmx.min.js")) defer {}
                script src=(assets::url("console.js")) defer {}
            }
            body {
                a.skip href="#main" { (lang.t("跳到正文", "Skip to content")) }
                header.top {
                    nav aria-label=(lang.t("主导航", "Main")) {
                        a.brand href="/console/" aria-current=[(active == Nav::Home).then_some("page")] { "Trellis" }
                        @if member.is_some() {
                            ul {
                                @for (n, path, label) in sections(&guest.ctx, lang) {
                                    li { a href=(path) aria-current=[(n == active).then_some("page")] { (label) } }
                                }
                            }
                        }
                    }
                    div.who {
                        a href=(switch_lang(&guest.path, other)) hreflang=(other.code()) lang=(other.tag()) {
                            (lang.t("English", "中文"))
                        }
                        @if let Some(m) = member {
                            span.user { (m.user.username) @if m.principal.role.is_admin() { " · " (lang.t("管理员", "admin")) } }
                            form.inline method="post" action="/console/logout" {
                                (csrf_input(&guest.ctx))
                                button type="submit" { (lang.t("退出登录", "Log out")) }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
                footer { "Trellis · " (lang.t("自托管后端控制台", "self-hosted backend console")) }
            }
        }
    }
}

/// An HTML response with `status`.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut r = (status, Html(markup.into_string())).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A minimal status page (no user context), e.g. for a refused CSRF token.
pub fn status_page(lang: Lang, status: StatusCode, zh: &str, en: &str) -> Response {
    let msg = match lang {
        Lang::Zh => zh,
        Lang::En => en,
    };
    respond(
        status,
        html! {
            (DOCTYPE)
            html lang=(lang.tag()) {
                head {
                    meta charset="utf-8";
                    title { (status.as_u16()) " · Trellis" }
                    link rel="stylesheet" href=(assets::url("console.css"));
                }
                body {
                    main id="main" {
                        h1 { (status.as_u16()) " " (msg) }
                        p { a href="/console/" { (lang.t("返回控制台首页", "Back to the console")) } }
                    }
                }
            }
        },
    )
}

/// The 403 page for a signed-in user who lacks the role: "无权限 / Forbidden".
pub fn forbidden(m: &Member) -> Response {
    let lang = m.lang();
    respond(
        StatusCode::FORBIDDEN,
        frame(
            &m.guest,
            Some(m),
            Nav::None,
            lang.t("无权限", "Forbidden"),
            html! {
                p.error role="alert" { (lang.t("此页面仅限管理员访问。", "This page is for administrators only.")) }
                p { a href="/console/" { (lang.t("返回控制台首页", "Back to the console")) } }
            },
        ),
    )
}

/// The 404 page.
pub fn not_found(m: &Member) -> Response {
    let lang = m.lang();
    respond(
        StatusCode::NOT_FOUND,
        frame(
            &m.guest,
            Some(m),
            Nav::None,
            lang.t("未找到", "Not found"),
            html! { p { (lang.t("没有这个页面或对象，或者你无权查看它。", "There is no such page or object, or it is not yours to see.")) } },
        ),
    )
}

/// The page for a failed operation in `section`: the 404 page for "not found" (another
/// user's object included), else the API's message (a generic one for server faults, see
/// [`crate::shell::failure`]) under the section's frame with the error's status.
pub fn failure_page(
    m: &Member,
    section: Nav,
    title: &str,
    e: impl Into<trellis_kernel::ApiError>,
) -> Response {
    let e: trellis_kernel::ApiError = e.into();
    if e.status == StatusCode::NOT_FOUND {
        return not_found(m);
    }
    let (status, msg) = crate::shell::failure(e);
    respond(
        status,
        frame(
            &m.guest,
            Some(m),
            section,
            title,
            html! { p.error role="alert" { (msg) } },
        ),
    )
}

/// Sends the browser to `url`: `303 See Other` (after a POST the browser GETs it), or for an
/// htmx request `HX-Redirect` (htmx follows it as a full navigation).
pub fn redirect(parts: &Parts, url: &str) -> Response {
    redirect_to(parts.headers.contains_key("hx-request"), url)
}

/// [`redirect`] when only the `HX-Request` flag is known.
pub fn redirect_to(htmx: bool, url: &str) -> Response {
    let Ok(v) = HeaderValue::from_str(url) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if htmx {
        let mut r = StatusCode::OK.into_response();
        r.headers_mut().insert("hx-redirect", v);
        r
    } else {
        let mut r = StatusCode::SEE_OTHER.into_response();
        r.headers_mut().insert(header::LOCATION, v);
        r
    }
}

/// Markup from trusted, already-escaped text (the embedded SVG icons).
pub fn trusted(s: &'static str) -> PreEscaped<&'static str> {
    PreEscaped(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_switch_keeps_the_query() {
        assert_eq!(
            switch_lang("/console/plugins?q=a", Lang::En),
            "/console/plugins?q=a&lang=en"
        );
        assert_eq!(
            switch_lang("/console/?lang=en", Lang::Zh),
            "/console/?lang=zh"
        );
        assert_eq!(switch_lang("/console/", Lang::En), "/console/?lang=en");
    }
}

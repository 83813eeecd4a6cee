//! Who is using the console: the session cookie, and the extractors pages start from.
//!
//! Signing in creates an ordinary identity session (listed and revocable on the account
//! page and by the API); the cookie holds its access token, issued for the refresh lifetime
//! because every request re-checks the session from current data
//! ([`trellis_identity::Identity::authenticate`]): signing out, a revocation, a ban or a
//! deletion ends it at once.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use trellis_identity::store::users::User;
use trellis_identity::{Identity, Principal};

use crate::i18n::Lang;
use crate::page;

/// The session cookie (an access token of audience [`AUDIENCE`]).
pub const SESSION_COOKIE: &str = "trellis_session";

/// The `aud` of console session tokens: the APIs refuse them (a leaked cookie is no API
/// token) and the console refuses API tokens.
pub const AUDIENCE: &str = "console";

/// What the console layer works out once per request, for the extractors and pages.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The apps mounted in this server (`TRELLIS_APPS`), for the navigation.
    pub apps: Arc<Vec<&'static str>>,
    /// This request's CSRF token, for the forms a page renders.
    pub csrf: String,
    /// Cookies are `Secure` (the request came over TLS).
    pub secure: bool,
}

/// A console page's request context: language and [`Ctx`]; for pages anyone may see.
#[derive(Clone, Debug)]
pub struct Guest {
    /// The page's language.
    pub lang: Lang,
    /// The request's context.
    pub ctx: Ctx,
    /// The path and query asked for (the login page's `next`).
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Guest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ctx = parts.extensions.get::<Ctx>().cloned().ok_or_else(|| {
            // The console layer did not run: a wiring mistake, not the user's.
            page::status_page(
                Lang::of(parts),
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "控制台未启用",
                "Console layer missing",
            )
        })?;
        Ok(Guest {
            lang: Lang::of(parts),
            ctx,
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/console/".to_string(), |p| p.as_str().to_string()),
        })
    }
}

/// A signed-in console user: pages that need one take this; without a valid session the
/// browser is sent to the login page (`303`, or `HX-Redirect` for htmx requests) with
/// `next` set to the page asked for.
#[derive(Clone, Debug)]
pub struct Member {
    /// The request context.
    pub guest: Guest,
    /// The authenticated caller (current role, session).
    pub principal: Principal,
    /// The caller's account.
    pub user: User,
}

impl Member {
    /// The page's language.
    pub fn lang(&self) -> Lang {
        self.guest.lang
    }
}

impl<S> FromRequestParts<S> for Member
where
    Identity: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let guest = Guest::from_request_parts(parts, state).await?;
        let identity = Identity::from_ref(state);
        let Some(token) = crate::cookies::get(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login(parts, &guest));
        };
        let principal = match identity.authenticate(token, AUDIENCE).await {
            Ok(p) => p,
            Err(_) => return Err(to_login(parts, &guest)),
        };
        let user = match identity.user(principal.user_id).await {
            Ok(u) => u,
            Err(_) => return Err(to_login(parts, &guest)),
        };
        Ok(Member {
            guest,
            principal,
            user,
        })
    }
}

/// A signed-in administrator (`admin` or `super_admin`, read from current data); others
/// get the 403 page "无权限 / Forbidden".
#[derive(Clone, Debug)]
pub struct Admin(pub Member);

impl<S> FromRequestParts<S> for Admin
where
    Identity: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let m = Member::from_request_parts(parts, state).await?;
        if m.principal.role.is_admin() {
            Ok(Admin(m))
        } else {
            Err(page::forbidden(&m))
        }
    }
}

fn to_login(parts: &Parts, guest: &Guest) -> Response {
    let next = if parts.method == axum::http::Method::GET {
        guest.path.clone()
    } else {
        "/console/".to_string()
    };
    let url = format!(
        "/console/login?next={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    page::redirect(parts, &url).into_response()
}

/// A safe place to go after signing in: a console path (not `//host` or another scheme);
/// anything else is the console home.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/console" || n.starts_with("/console/"))
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/console/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(
            safe_next(Some("/console/plugins?q=a")),
            "/console/plugins?q=a"
        );
        for bad in [
            "//evil.example/console/",
            "https://evil.example/",
            "/console//evil",
            "/consolex",
            "/console/\\evil",
            "/api/v1/pets",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console/", "{bad}");
        }
        assert_eq!(safe_next(None), "/console/");
    }
}

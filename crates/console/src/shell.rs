//! The console's own pages: home, sign in and out, registration with an emailed code,
//! password reset, and the account (profile, password, sessions). All go through the shared
//! identity ([`trellis_identity::Identity`]), so one account works here and in every API.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use trellis_identity::accounts::{LoginPolicy, Registration};
use trellis_identity::domain::{CodePurpose, Email};
use trellis_identity::store::users::ProfilePatch;
use trellis_identity::{ClientCtx, IdentityError};
use trellis_kernel::ApiError;
use uuid::Uuid;

use crate::page::{self, Nav, csrf_input, error_note, ok_note};
use crate::session::{Guest, Member, SESSION_COOKIE, safe_next};
use crate::{Console, assets, cookies};

/// The shell's routes.
pub fn router() -> Router<Console> {
    Router::new()
        .route(
            "/console",
            get(|| async { page::redirect_to(false, "/console/") }),
        )
        .route("/console/", get(home))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/register", get(register_page).post(register))
        .route("/console/register/code", post(register_code))
        .route("/console/password-reset", get(reset_page).post(reset))
        .route("/console/password-reset/code", post(reset_code))
        .route("/console/account", get(account))
        .route("/console/account/profile", post(profile))
        .route("/console/account/password", post(password))
        .route("/console/account/sessions/{id}/revoke", post(revoke))
        .route(
            "/console/account/sessions/revoke-others",
            post(revoke_others),
        )
        .route("/console/assets/{name}", get(assets::serve))
        // Any other console path: the console's own 404 page (after sign-in).
        .route("/console/{*rest}", get(not_found))
}

async fn not_found(m: Member) -> Response {
    page::not_found(&m)
}

/// The message and status to show for a failed operation: the API's own message for the
/// caller's mistakes, a generic one for ours (details are logged, not shown).
pub fn failure(e: impl Into<ApiError>) -> (StatusCode, String) {
    let e: ApiError = e.into();
    if e.status.is_server_error() {
        tracing::warn!(code = %e.code, "console: operation failed");
        (
            e.status,
            "服务暂时不可用，请稍后再试 (the service is unavailable; try again later)".into(),
        )
    } else {
        let mut msg = e.message.to_string();
        if let Some(fields) = &e.fields {
            for f in fields {
                msg.push_str(&format!(" · {}: {}", f.field, f.message));
            }
        }
        (e.status, msg)
    }
}

/// Signs `user` in for the console: an identity session whose access token (lifetime = the
/// session's) goes in the `HttpOnly` session cookie; then to `next`.
fn signed_in(guest: &Guest, token: &str, max_age: i64, next: &str) -> Response {
    let mut r = page::redirect_to(false, next);
    r.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(SESSION_COOKIE, token, Some(max_age), guest.ctx.secure),
    );
    r
}

fn console_policy() -> LoginPolicy<'static> {
    LoginPolicy {
        audience: crate::session::AUDIENCE,
        // Capped to the session's refresh lifetime by identity.
        access: chrono::Duration::days(3650),
        admins_only: false,
    }
}

async fn home(m: Member) -> Response {
    let lang = m.lang();
    let blurb = |n: Nav| {
        match n {
        Nav::Plugins => lang.t(
            "MicroDock 插件仓库：上传、版本、启用与下载统计。",
            "MicroDock plugin registry: uploads, versions, status and downloads.",
        ),
        Nav::Workflows => lang.t(
            "工作流平台：定义、执行、定时、代理池、采集与订阅。",
            "Workflow Platform: definitions, executions, schedules, proxies, collections, subscription.",
        ),
        Nav::Issues => lang.t(
            "Momentum：团队看板、问题、评论、标签与迭代。",
            "Momentum: team boards, issues, comments, labels and cycles.",
        ),
        Nav::Diet => lang.t(
            "宠物饮食计划：宠物档案、AI 计划生成与每日餐食。",
            "Pet diet planner: pets, AI-made plans and daily meals.",
        ),
        _ => lang.t(
            "个人资料、密码与登录会话。",
            "Profile, password and signed-in sessions.",
        ),
    }
    };
    let body = html! {
        p { (lang.t("欢迎，", "Welcome, ")) strong { (m.user.display_name.as_deref().unwrap_or(&m.user.username)) } }
        div.cards {
            @for (n, path, label) in page::sections(&m.guest.ctx, lang) {
                section.card {
                    h2 { a href=(path) { (label) } }
                    p.muted { (blurb(n)) }
                }
            }
        }
    };
    page::respond(
        StatusCode::OK,
        page::frame(
            &m.guest,
            Some(&m),
            Nav::Home,
            lang.t("控制台", "Console"),
            body,
        ),
    )
}

/// Query of the login page.
#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    done: Option<String>,
}

fn login_form(
    g: &Guest,
    next: &str,
    username: &str,
    error: Option<&str>,
    ok: Option<&str>,
) -> Markup {
    let lang = g.lang;
    html! {
        (ok_note(ok))
        (error_note(error))
        form.stack.card method="post" action="/console/login" {
            (csrf_input(&g.ctx))
            input type="hidden" name="next" value=(next);
            label { (lang.t("用户名或邮箱", "Username or email"))
                input type="text" name="username" value=(username) autocomplete="username" required autofocus; }
            label { (lang.t("密码", "Password"))
                input type="password" name="password" autocomplete="current-password" required; }
            button type="submit" { (lang.t("登录", "Log in")) }
        }
        p {
            a href="/console/register" { (lang.t("注册新账户", "Create an account")) }
            " · "
            a href="/console/password-reset" { (lang.t("忘记密码", "Forgot password")) }
        }
    }
}

async fn login_page(g: Guest, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    let ok = match q.done.as_deref() {
        Some("reset") => Some(g.lang.t(
            "密码已重置，请用新密码登录。",
            "Your password was reset; log in with the new one.",
        )),
        Some("logout") => Some(g.lang.t("已退出登录。", "You are logged out.")),
        _ => None,
    };
    let title = g.lang.t("登录", "Log in");
    page::respond(
        StatusCode::OK,
        page::frame(
            &g,
            None,
            Nav::None,
            title,
            login_form(&g, &next, "", None, ok),
        ),
    )
}

/// The login form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login(
    State(c): State<Console>,
    g: Guest,
    ctx: ClientCtx,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    match c
        .identity
        .login_with(f.username.trim(), &f.password, &ctx, &console_policy())
        .await
    {
        Ok(out) => signed_in(&g, &out.tokens.access_token, out.tokens.expires_in, &next),
        Err(e) => {
            let (status, msg) = failure(e);
            let title = g.lang.t("登录", "Log in");
            page::respond(
                status,
                page::frame(
                    &g,
                    None,
                    Nav::None,
                    title,
                    login_form(&g, &next, &f.username, Some(&msg), None),
                ),
            )
        }
    }
}

async fn logout(State(c): State<Console>, m: Member) -> Response {
    if let Err(e) = c.identity.logout_principal(&m.principal).await {
        let (status, msg) = failure(e);
        return page::respond(status, html! { p.error { (msg) } });
    }
    let mut r = page::redirect_to(false, "/console/login?done=logout");
    r.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(SESSION_COOKIE, "", Some(0), m.guest.ctx.secure),
    );
    r
}

/// Registration and reset forms (one struct; each form sends its fields).
#[derive(Deserialize, Default)]
pub struct AccountForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

fn register_body(g: &Guest, f: &AccountForm, error: Option<&str>, ok: Option<&str>) -> Markup {
    let lang = g.lang;
    html! {
        (ok_note(ok))
        (error_note(error))
        section.card {
            h2 { "1. " (lang.t("获取邮箱验证码", "Get an email code")) }
            form.row method="post" action="/console/register/code" {
                (csrf_input(&g.ctx))
                label { (lang.t("邮箱", "Email"))
                    input type="email" name="email" value=(f.email) autocomplete="email" required; }
                button type="submit" { (lang.t("发送验证码", "Send code")) }
            }
        }
        section.card {
            h2 { "2. " (lang.t("创建账户", "Create the account")) }
            form.stack method="post" action="/console/register" {
                (csrf_input(&g.ctx))
                label { (lang.t("用户名", "Username"))
                    input type="text" name="username" value=(f.username) autocomplete="username" required minlength="3" maxlength="50"; }
                label { (lang.t("邮箱", "Email"))
                    input type="email" name="email" value=(f.email) autocomplete="email" required; }
                label { (lang.t("密码", "Password"))
                    input type="password" name="password" autocomplete="new-password" required minlength="8"; }
                label { (lang.t("验证码（6 位数字）", "Code (6 digits)"))
                    input type="text" name="code" value=(f.code) inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required; }
                button type="submit" { (lang.t("注册", "Register")) }
            }
        }
        p { a href="/console/login" { (lang.t("已有账户？登录", "Have an account? Log in")) } }
    }
}

fn register_view(
    g: &Guest,
    status: StatusCode,
    f: &AccountForm,
    error: Option<&str>,
    ok: Option<&str>,
) -> Response {
    let title = g.lang.t("注册", "Register");
    page::respond(
        status,
        page::frame(g, None, Nav::None, title, register_body(g, f, error, ok)),
    )
}

async fn register_page(g: Guest) -> Response {
    register_view(&g, StatusCode::OK, &AccountForm::default(), None, None)
}

async fn send_code(
    c: &Console,
    email: &str,
    purpose: CodePurpose,
    ctx: &ClientCtx,
) -> Result<(), IdentityError> {
    let email = Email::parse(email.trim())?;
    c.identity.send_code(&email, purpose, ctx.ip).await
}

async fn register_code(
    State(c): State<Console>,
    g: Guest,
    ctx: ClientCtx,
    axum::Form(f): axum::Form<AccountForm>,
) -> Response {
    match send_code(&c, &f.email, CodePurpose::Register, &ctx).await {
        Ok(()) => register_view(
            &g,
            StatusCode::OK,
            &f,
            None,
            Some(g.lang.t(
                "如果该邮箱可以注册，验证码已发送，10 分钟内有效。",
                "If the email can register, a code was sent; it is valid for 10 minutes.",
            )),
        ),
        Err(e) => {
            let (status, msg) = failure(e);
            register_view(&g, status, &f, Some(&msg), None)
        }
    }
}

async fn register(
    State(c): State<Console>,
    g: Guest,
    ctx: ClientCtx,
    axum::Form(f): axum::Form<AccountForm>,
) -> Response {
    let r = Registration {
        username: f.username.trim(),
        email: f.email.trim(),
        password: &f.password,
        code: f.code.trim(),
    };
    if let Err(e) = c.identity.register(r, &ctx).await {
        let (status, msg) = failure(e);
        return register_view(&g, status, &f, Some(&msg), None);
    }
    match c
        .identity
        .login_with(f.username.trim(), &f.password, &ctx, &console_policy())
        .await
    {
        Ok(out) => signed_in(
            &g,
            &out.tokens.access_token,
            out.tokens.expires_in,
            "/console/",
        ),
        Err(_) => page::redirect_to(false, "/console/login"),
    }
}

fn reset_body(g: &Guest, f: &AccountForm, error: Option<&str>, ok: Option<&str>) -> Markup {
    let lang = g.lang;
    html! {
        (ok_note(ok))
        (error_note(error))
        section.card {
            h2 { "1. " (lang.t("获取邮箱验证码", "Get an email code")) }
            form.row method="post" action="/console/password-reset/code" {
                (csrf_input(&g.ctx))
                label { (lang.t("邮箱", "Email"))
                    input type="email" name="email" value=(f.email) autocomplete="email" required; }
                button type="submit" { (lang.t("发送验证码", "Send code")) }
            }
        }
        section.card {
            h2 { "2. " (lang.t("设置新密码", "Set a new password")) }
            form.stack method="post" action="/console/password-reset" {
                (csrf_input(&g.ctx))
                label { (lang.t("邮箱", "Email"))
                    input type="email" name="email" value=(f.email) autocomplete="email" required; }
                label { (lang.t("验证码（6 位数字）", "Code (6 digits)"))
                    input type="text" name="code" value=(f.code) inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required; }
                label { (lang.t("新密码", "New password"))
                    input type="password" name="password" autocomplete="new-password" required minlength="8"; }
                button type="submit" { (lang.t("重置密码", "Reset password")) }
            }
        }
        p { a href="/console/login" { (lang.t("返回登录", "Back to log in")) } }
    }
}

fn reset_view(
    g: &Guest,
    status: StatusCode,
    f: &AccountForm,
    error: Option<&str>,
    ok: Option<&str>,
) -> Response {
    let title = g.lang.t("重置密码", "Reset password");
    page::respond(
        status,
        page::frame(g, None, Nav::None, title, reset_body(g, f, error, ok)),
    )
}

async fn reset_page(g: Guest) -> Response {
    reset_view(&g, StatusCode::OK, &AccountForm::default(), None, None)
}

async fn reset_code(
    State(c): State<Console>,
    g: Guest,
    ctx: ClientCtx,
    axum::Form(f): axum::Form<AccountForm>,
) -> Response {
    match send_code(&c, &f.email, CodePurpose::ResetPassword, &ctx).await {
        Ok(()) => reset_view(
            &g,
            StatusCode::OK,
            &f,
            None,
            Some(g.lang.t(
                "如果该邮箱有账户，验证码已发送，10 分钟内有效。",
                "If an account has this email, a code was sent; it is valid for 10 minutes.",
            )),
        ),
        Err(e) => {
            let (status, msg) = failure(e);
            reset_view(&g, status, &f, Some(&msg), None)
        }
    }
}

async fn reset(
    State(c): State<Console>,
    g: Guest,
    ctx: ClientCtx,
    axum::Form(f): axum::Form<AccountForm>,
) -> Response {
    match c
        .identity
        .reset_password(f.email.trim(), f.code.trim(), &f.password, &ctx)
        .await
    {
        Ok(()) => page::redirect_to(false, "/console/login?done=reset"),
        Err(e) => {
            let (status, msg) = failure(e);
            reset_view(&g, status, &f, Some(&msg), None)
        }
    }
}

/// Query of the account page (the outcome of the last form).
#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

async fn account_view(
    c: &Console,
    m: &Member,
    status: StatusCode,
    error: Option<&str>,
    ok: Option<&str>,
) -> Response {
    let lang = m.lang();
    let sessions = match c.identity.list_sessions(&m.principal).await {
        Ok(s) => s,
        Err(e) => {
            let (status, msg) = failure(e);
            return page::respond(status, html! { p.error { (msg) } });
        }
    };
    let u = &m.user;
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let body = html! {
        (ok_note(ok))
        (error_note(error))
        section.card {
            h2 { (lang.t("个人资料", "Profile")) }
            p.muted { (lang.t("用户名", "Username")) ": " (u.username) " · " (lang.t("邮箱", "Email")) ": " (u.email) " · " (lang.t("角色", "Role")) ": " (u.role.as_str()) }
            form.stack method="post" action="/console/account/profile" {
                (csrf_input(&m.guest.ctx))
                label { (lang.t("显示名称", "Display name"))
                    input type="text" name="display_name" value=(u.display_name.as_deref().unwrap_or("")) maxlength="100"; }
                label { (lang.t("时区", "Time zone"))
                    input type="text" name="timezone" value=(u.timezone.as_deref().unwrap_or("")) maxlength="64" placeholder="Asia/Shanghai"; }
                label { (lang.t("语言", "Language"))
                    input type="text" name="language" value=(u.language.as_deref().unwrap_or("")) maxlength="16" placeholder="zh-CN"; }
                button type="submit" { (lang.t("保存", "Save")) }
            }
        }
        section.card {
            h2 { (lang.t("修改密码", "Change password")) }
            form.stack method="post" action="/console/account/password" {
                (csrf_input(&m.guest.ctx))
                label { (lang.t("当前密码", "Current password"))
                    input type="password" name="old_password" autocomplete="current-password" required; }
                label { (lang.t("新密码", "New password"))
                    input type="password" name="new_password" autocomplete="new-password" required minlength="8"; }
                button type="submit" { (lang.t("修改密码", "Change password")) }
            }
        }
        section.card {
            h2 { (lang.t("登录会话", "Sessions")) }
            table {
                thead { tr {
                    th scope="col" { (lang.t("登录时间", "Signed in")) }
                    th scope="col" { (lang.t("最近使用", "Last used")) }
                    th scope="col" { "IP" }
                    th scope="col" { (lang.t("客户端", "Client")) }
                    th scope="col" { span.muted { (lang.t("操作", "Action")) } }
                } }
                tbody {
                    @for s in &sessions {
                        tr {
                            td { (at(s.created_at)) }
                            td { (at(s.last_used_at)) }
                            td { (s.ip.as_deref().unwrap_or("—")) }
                            td { (s.user_agent.as_deref().unwrap_or("—")) }
                            td {
                                @if s.current {
                                    span.badge.active { (lang.t("当前会话", "this session")) }
                                } @else {
                                    form.inline method="post" action=(format!("/console/account/sessions/{}/revoke", s.id))
                                        data-confirm=(lang.t("确定注销此会话？", "Sign this session out?")) {
                                        (csrf_input(&m.guest.ctx))
                                        button.secondary type="submit" { (lang.t("注销", "Revoke")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if sessions.len() > 1 {
                form method="post" action="/console/account/sessions/revoke-others"
                    data-confirm=(lang.t("注销其他所有会话？", "Sign out every other session?")) {
                    (csrf_input(&m.guest.ctx))
                    p { button.danger type="submit" { (lang.t("注销其他所有会话", "Sign out all other sessions")) } }
                }
            }
        }
    };
    page::respond(
        status,
        page::frame(
            &m.guest,
            Some(m),
            Nav::Account,
            lang.t("账户", "Account"),
            body,
        ),
    )
}

async fn account(State(c): State<Console>, m: Member, Query(q): Query<DoneQuery>) -> Response {
    let lang = m.lang();
    let ok = match q.done.as_deref() {
        Some("profile") => Some(lang.t("资料已保存。", "Profile saved.")),
        Some("password") => Some(lang.t(
            "密码已修改，其他会话已退出。",
            "Password changed; other sessions were signed out.",
        )),
        Some("revoked") => Some(lang.t("会话已注销。", "Session revoked.")),
        _ => None,
    };
    account_view(&c, &m, StatusCode::OK, None, ok).await
}

/// The profile form.
#[derive(Deserialize)]
pub struct ProfileForm {
    display_name: Option<String>,
    timezone: Option<String>,
    language: Option<String>,
}

async fn profile(
    State(c): State<Console>,
    m: Member,
    axum::Form(f): axum::Form<ProfileForm>,
) -> Response {
    let keep = |v: Option<String>| v.map(|s| s.trim().to_string());
    let patch = ProfilePatch {
        display_name: keep(f.display_name),
        avatar_url: None,
        bio: None,
        timezone: keep(f.timezone),
        language: keep(f.language),
    };
    match c.identity.update_profile(&m.principal, patch).await {
        Ok(_) => page::redirect_to(false, "/console/account?done=profile"),
        Err(e) => {
            let (status, msg) = failure(e);
            account_view(&c, &m, status, Some(&msg), None).await
        }
    }
}

/// The change-password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password: String,
}

async fn password(
    State(c): State<Console>,
    m: Member,
    ctx: ClientCtx,
    axum::Form(f): axum::Form<PasswordForm>,
) -> Response {
    match c
        .identity
        .change_password(&m.principal, &f.old_password, &f.new_password, &ctx)
        .await
    {
        Ok(()) => page::redirect_to(false, "/console/account?done=password"),
        Err(e) => {
            let (status, msg) = failure(e);
            account_view(&c, &m, status, Some(&msg), None).await
        }
    }
}

async fn revoke(State(c): State<Console>, m: Member, Path(id): Path<Uuid>) -> Response {
    match c.identity.revoke_session(&m.principal, id).await {
        Ok(()) => page::redirect_to(false, "/console/account?done=revoked"),
        Err(e) => {
            let (status, msg) = failure(e);
            account_view(&c, &m, status, Some(&msg), None).await
        }
    }
}

async fn revoke_others(State(c): State<Console>, m: Member) -> Response {
    match c.identity.revoke_other_sessions(&m.principal).await {
        Ok(_) => page::redirect_to(false, "/console/account?done=revoked"),
        Err(e) => {
            let (status, msg) = failure(e);
            account_view(&c, &m, status, Some(&msg), None).await
        }
    }
}

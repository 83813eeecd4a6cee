//! MicroDock's console pages (issue 13, what seed 004's admin UI does) under
//! `/console/plugins`: the plugin list with search and status badges, a plugin's detail with
//! its versions and a download chart, the upload form (drag and drop, progress, the server's
//! validation message), and for administrators enable/disable/deprecate/delete and the
//! backups list. Every page calls the same service and store functions as the API.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use trellis_console::page::{self, Nav, csrf_input, error_note, ok_note};
use trellis_console::shell::failure;
use trellis_console::{Admin, Lang, Member};
use trellis_identity::ClientCtx;
use trellis_kernel::Platform;
use trellis_kernel::http::slow::upload_layer;

use crate::routes::multipart;
use crate::service::{self, Actor, lookup_name, visible_plugin};
use crate::state::MicroDockState;
use crate::store::backups;
use crate::store::plugins::{self, Deprecation, Plugin, PluginVersion};

/// Plugins per list page.
pub const PAGE_SIZE: i64 = 50;

/// The console routes; the upload route gets the API upload route's body limit and
/// per-IP/concurrency limits.
pub fn router(max_upload: u64, platform: &Platform) -> Router<MicroDockState> {
    let upload_limit = DefaultBodyLimit::max((max_upload + 1024 * 1024) as usize);
    Router::new()
        .route("/console/plugins", get(list))
        .route("/console/plugins/upload", get(upload_page))
        .route(
            "/console/plugins/upload",
            post(upload)
                .layer(upload_limit)
                .layer(from_fn_with_state(platform.clone(), upload_layer)),
        )
        .route("/console/plugins/backups", get(backups_page))
        .route("/console/plugins/backups/{id}/delete", post(delete_backup))
        .route("/console/plugins/p/{name}", get(detail))
        .route("/console/plugins/p/{name}/{action}", post(manage))
}

fn status_badges(lang: Lang, p: &Plugin) -> Markup {
    html! {
        @if p.is_enabled {
            span.badge.enabled { (lang.t("已启用", "enabled")) }
        } @else {
            span.badge.disabled { (lang.t("已禁用", "disabled")) }
        }
        @if p.is_deprecated {
            " " span.badge.deprecated { (lang.t("已弃用", "deprecated")) }
        }
    }
}

fn plugin_url(name: &str) -> String {
    format!(
        "/console/plugins/p/{}",
        form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
    )
}

/// Query of the list page.
#[derive(Deserialize)]
pub struct ListQuery {
    search: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

async fn list(State(st): State<MicroDockState>, m: Member, Query(q): Query<ListQuery>) -> Response {
    let lang = m.lang();
    let admin = m.principal.role.is_admin();
    let search =
        q.search.as_deref().map(str::trim).filter(|s| {
            !s.is_empty() && s.chars().count() <= 100 && !s.chars().any(char::is_control)
        });
    let page_no = q.page.unwrap_or(1).max(1);
    let items = match plugins::list(
        &st.platform.db,
        admin,
        search,
        PAGE_SIZE + 1,
        (page_no - 1).saturating_mul(PAGE_SIZE),
    )
    .await
    {
        Ok(items) => items,
        Err(e) => return error_page(&m, e.into()),
    };
    let more = items.len() as i64 > PAGE_SIZE;
    let ok = match q.done.as_deref() {
        Some("deleted") => Some(lang.t("插件已删除。", "The plugin was deleted.")),
        _ => None,
    };
    let body = html! {
        (ok_note(ok))
        form.row role="search" method="get" action="/console/plugins" {
            label { (lang.t("搜索插件", "Search plugins"))
                input type="search" name="search" value=(search.unwrap_or("")) maxlength="100"; }
            button type="submit" { (lang.t("搜索", "Search")) }
            a.button.secondary href="/console/plugins/upload" { (lang.t("上传插件", "Upload a plugin")) }
            @if admin { a.button.secondary href="/console/plugins/backups" { (lang.t("备份管理", "Backups")) } }
        }
        @if items.is_empty() {
            p.muted { (lang.t("没有插件。", "No plugins.")) }
        } @else {
            table {
                caption.muted { (lang.t("插件列表", "Plugins")) }
                thead { tr {
                    th scope="col" { (lang.t("插件", "Plugin")) }
                    th scope="col" { (lang.t("名称", "Name")) }
                    th scope="col" { (lang.t("当前版本", "Current version")) }
                    th scope="col" { (lang.t("状态", "Status")) }
                    th scope="col" { (lang.t("更新时间", "Updated")) }
                } }
                tbody {
                    @for p in items.iter().take(PAGE_SIZE as usize) {
                        tr {
                            td { a href=(plugin_url(&p.name)) { (p.name) } }
                            td { (p.display_name.as_deref().unwrap_or("—")) }
                            td { (p.current_version) }
                            td { (status_badges(lang, p)) }
                            td { (p.updated_at.format("%Y-%m-%d %H:%M")) }
                        }
                    }
                }
            }
            nav.row aria-label=(lang.t("分页", "Pages")) {
                @if page_no > 1 {
                    a href=(list_page_url(page_no - 1, search)) { (lang.t("上一页", "Previous")) }
                }
                @if more {
                    " "
                    a href=(list_page_url(page_no + 1, search)) { (lang.t("下一页", "Next")) }
                }
            }
        }
    };
    page::respond(
        StatusCode::OK,
        page::frame(
            &m.guest,
            Some(&m),
            Nav::Plugins,
            lang.t("插件", "Plugins"),
            body,
        ),
    )
}

fn error_page(m: &Member, e: trellis_kernel::ApiError) -> Response {
    page::failure_page(m, Nav::Plugins, m.lang().t("插件", "Plugins"), e)
}

/// The list's URL for page `n`, keeping the search.
fn list_page_url(n: i64, search: Option<&str>) -> String {
    match search {
        Some(s) => format!(
            "/console/plugins?page={n}&search={}",
            form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        ),
        None => format!("/console/plugins?page={n}"),
    }
}

/// A bar chart of downloads per version (oldest to newest), as inline SVG with a text
/// alternative (a table-like `<title>` per bar and an `aria-label` summary).
fn chart(lang: Lang, versions: &[PluginVersion]) -> Markup {
    let bars: Vec<&PluginVersion> = versions.iter().rev().take(20).collect();
    let max = bars
        .iter()
        .map(|v| v.download_count)
        .max()
        .unwrap_or(0)
        .max(1);
    let total: i64 = versions.iter().map(|v| v.download_count).sum();
    let (w, h, gap) = (24i64, 80i64, 6i64);
    let width = (bars.len() as i64 * (w + gap)).max(w);
    let label = match lang {
        Lang::Zh => format!("下载次数：共 {total} 次"),
        Lang::En => format!("Downloads: {total} in all"),
    };
    html! {
        figure {
            svg.chart role="img" aria-label=(label) width=(width) height=(h + 30) viewBox=(format!("0 0 {} {}", width, h + 30)) {
                @for (i, v) in bars.iter().enumerate() {
                    @let bh = (v.download_count * h / max).max(1);
                    @let x = i as i64 * (w + gap);
                    g {
                        title { (v.version) ": " (v.download_count) }
                        rect x=(x) y=(h - bh) width=(w) height=(bh) {}
                        text x=(x) y=(h + 12) { (v.version.chars().take(6).collect::<String>()) }
                        text x=(x) y=(h + 24) { (v.download_count) }
                    }
                }
            }
            figcaption.muted { (label) }
        }
    }
}

/// Query of the detail page (the outcome of the last action).
#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

async fn detail(
    State(st): State<MicroDockState>,
    m: Member,
    Path(name): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    detail_view(&st, &m, &name, StatusCode::OK, None, q.done.as_deref()).await
}

async fn detail_view(
    st: &MicroDockState,
    m: &Member,
    name: &str,
    status: StatusCode,
    error: Option<&str>,
    done: Option<&str>,
) -> Response {
    let lang = m.lang();
    let admin = m.principal.role.is_admin();
    let loaded = async {
        let n = lookup_name(st, name).await?;
        let p = visible_plugin(st, &n, admin).await?;
        let v = plugins::versions(&st.platform.db, n.as_str()).await?;
        Ok::<_, crate::error::MicroDockError>((p, v))
    }
    .await;
    let (p, versions) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(m, e.into()),
    };
    let ok = done.map(|d| match d {
        "enable" => lang.t("已启用。", "Enabled."),
        "disable" => lang.t("已禁用。", "Disabled."),
        "deprecate" => lang.t("已标记为弃用。", "Marked deprecated."),
        "undeprecate" => lang.t("已取消弃用。", "No longer deprecated."),
        "uploaded" => lang.t("上传成功。", "Uploaded."),
        _ => lang.t("完成。", "Done."),
    });
    let url = plugin_url(&p.name);
    let ctx = &m.guest.ctx;
    let body = html! {
        (ok_note(ok))
        (error_note(error))
        section.card {
            p { (status_badges(lang, &p)) }
            dl {
                dt { (lang.t("名称", "Name")) } dd { (p.display_name.as_deref().unwrap_or("—")) }
                dt { (lang.t("描述", "Description")) } dd { (p.description.as_deref().unwrap_or("—")) }
                dt { (lang.t("作者", "Author")) } dd { (p.author.as_deref().unwrap_or("—")) }
                dt { (lang.t("当前版本", "Current version")) } dd { (p.current_version) }
                dt { (lang.t("入口", "Entry")) } dd { code { (p.main_dll) " · " (p.entry_class) } }
                @if let Some(msg) = &p.deprecation_message { dt { (lang.t("弃用说明", "Deprecation note")) } dd { (msg) } }
            }
        }
        section.card {
            h2 { (lang.t("下载统计", "Downloads")) }
            (chart(lang, &versions))
        }
        section.card {
            h2 { (lang.t("版本", "Versions")) }
            table {
                thead { tr {
                    th scope="col" { (lang.t("版本", "Version")) }
                    th scope="col" { (lang.t("大小", "Size")) }
                    th scope="col" { "SHA-256" }
                    th scope="col" { (lang.t("下载次数", "Downloads")) }
                    th scope="col" { (lang.t("上传时间", "Uploaded")) }
                    th scope="col" { (lang.t("更新说明", "Changelog")) }
                } }
                tbody {
                    @for v in &versions {
                        tr {
                            td { (v.version) @if v.is_deprecated { " " span.badge.deprecated { (lang.t("已弃用", "deprecated")) } } }
                            td { (format_size(v.file_size)) }
                            td { code { (v.file_hash.chars().take(12).collect::<String>()) "…" } }
                            td { (v.download_count) }
                            td { (v.created_at.format("%Y-%m-%d %H:%M")) }
                            td { (v.changelog.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        @if admin {
            section.card {
                h2 { (lang.t("管理", "Manage")) }
                div.row {
                    @if p.is_enabled {
                        form.inline method="post" action=(format!("{url}/disable"))
                            data-confirm=(lang.t("禁用后普通用户将看不到此插件，确定？", "Disabled plugins are hidden from users. Disable?")) {
                            (csrf_input(ctx)) button.secondary type="submit" { (lang.t("禁用", "Disable")) }
                        }
                    } @else {
                        form.inline method="post" action=(format!("{url}/enable")) {
                            (csrf_input(ctx)) button type="submit" { (lang.t("启用", "Enable")) }
                        }
                    }
                    @if p.is_deprecated {
                        form.inline method="post" action=(format!("{url}/undeprecate")) {
                            (csrf_input(ctx)) button.secondary type="submit" { (lang.t("取消弃用", "Undeprecate")) }
                        }
                    }
                }
                @if !p.is_deprecated {
                    form.row method="post" action=(format!("{url}/deprecate")) {
                        (csrf_input(ctx))
                        label { (lang.t("弃用说明", "Deprecation note")) input type="text" name="message" maxlength="500"; }
                        label { (lang.t("替代插件", "Replacement")) input type="text" name="replacement" maxlength="100"; }
                        button.secondary type="submit" { (lang.t("标记弃用", "Deprecate")) }
                    }
                }
                form method="post" action=(format!("{url}/delete"))
                    data-confirm=(lang.t("删除插件及其所有版本，无法恢复。确定？", "Delete the plugin and every version? This cannot be undone.")) {
                    (csrf_input(ctx))
                    p { button.danger type="submit" { (lang.t("删除插件", "Delete plugin")) } }
                }
            }
        }
    };
    page::respond(
        status,
        page::frame(&m.guest, Some(m), Nav::Plugins, &p.name, body),
    )
}

fn format_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// The deprecation form.
#[derive(Deserialize, Default)]
pub struct ManageForm {
    message: Option<String>,
    replacement: Option<String>,
}

async fn manage(
    State(st): State<MicroDockState>,
    Admin(m): Admin,
    ctx: ClientCtx,
    Path((name, action)): Path<(String, String)>,
    axum::Form(f): axum::Form<ManageForm>,
) -> Response {
    let actor = Actor {
        user_id: Some(m.principal.user_id),
        ip: ctx.ip,
    };
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (message, replacement) = (text(&f.message), text(&f.replacement));
    let r = match action.as_str() {
        "enable" => service::plugins::set_enabled(&st, actor, &name, true)
            .await
            .map(|_| ()),
        "disable" => service::plugins::set_enabled(&st, actor, &name, false)
            .await
            .map(|_| ()),
        "deprecate" | "undeprecate" => {
            let dep: Deprecation<'_> =
                (action == "deprecate").then_some((message.as_deref(), replacement.as_deref()));
            service::plugins::set_deprecated(&st, actor, &name, dep)
                .await
                .map(|_| ())
        }
        "delete" => match service::plugins::delete(&st, actor, &name).await {
            Ok(()) => return page::redirect_to(false, "/console/plugins?done=deleted"),
            Err(e) => Err(e),
        },
        _ => return page::not_found(&m),
    };
    match r {
        Ok(()) => page::redirect_to(false, &format!("{}?done={action}", plugin_url(&name))),
        Err(e) => {
            let (status, msg) = failure(e);
            detail_view(&st, &m, &name, status, Some(&msg), None).await
        }
    }
}

fn upload_form(st: &MicroDockState, m: &Member, error: Option<&str>) -> Markup {
    let lang = m.lang();
    let ctx = &m.guest.ctx;
    // Multipart bodies are not buffered for the CSRF check: the token also rides in the
    // action's query (the hidden input is there for scripts, which send it as a header).
    let action = format!("/console/plugins/upload?csrf_token={}", ctx.csrf);
    html! {
        (error_note(error))
        form.stack.card method="post" enctype="multipart/form-data" action=(action) data-upload
            data-network-error=(lang.t("网络错误，上传未完成", "Network error; the upload did not finish")) {
            (csrf_input(ctx))
            div.drop {
                label { (lang.t("插件包（.zip，包含 plugin.json）", "Plugin package (.zip with plugin.json)"))
                    input type="file" name="file" accept=".zip,application/zip" required; }
                p.muted { (lang.t("可将文件拖放到此处", "or drop the file here")) " " span data-file-name {} }
            }
            label { (lang.t("插件密钥 (plugin_key)", "Plugin key (plugin_key)"))
                input type="password" name="plugin_key" autocomplete="off" required maxlength="256"; }
            @if st.settings.upload_secret.is_some() {
                label { (lang.t("上传口令 (upload_secret)", "Upload secret (upload_secret)"))
                    input type="password" name="upload_secret" autocomplete="off"; }
            }
            progress data-progress max="100" value="0" hidden aria-label=(lang.t("上传进度", "Upload progress")) {}
            p.error role="alert" data-upload-note hidden {}
            button type="submit" { (lang.t("上传", "Upload")) }
        }
        p.muted { (lang.t(
            "首次上传某个插件名时，所用密钥即与该插件绑定；之后的版本须使用同一密钥。",
            "The first upload of a plugin name binds the key to it; later versions need the same key.",
        )) }
    }
}

async fn upload_page(State(st): State<MicroDockState>, m: Member) -> Response {
    let lang = m.lang();
    page::respond(
        StatusCode::OK,
        page::frame(
            &m.guest,
            Some(&m),
            Nav::Plugins,
            lang.t("上传插件", "Upload a plugin"),
            upload_form(&st, &m, None),
        ),
    )
}

async fn upload(
    State(st): State<MicroDockState>,
    m: Member,
    ctx: ClientCtx,
    headers: HeaderMap,
    mp: Multipart,
) -> Response {
    let scripted = headers.contains_key("x-console-upload");
    let result = async {
        let form = multipart::read(mp, &st.platform.blobs, st.settings.max_upload_size).await?;
        let actor = Actor {
            user_id: Some(m.principal.user_id),
            ip: ctx.ip,
        };
        Ok::<_, trellis_kernel::ApiError>(service::plugins::publish(&st, form, actor).await?)
    }
    .await;
    match result {
        Ok(p) => {
            let to = format!("{}?done=uploaded", plugin_url(&p.name));
            if scripted {
                axum::Json(serde_json::json!({"redirect": to})).into_response()
            } else {
                page::redirect_to(false, &to)
            }
        }
        Err(e) => {
            let (status, msg) = failure(e);
            if scripted {
                (status, axum::Json(serde_json::json!({"error": msg}))).into_response()
            } else {
                let lang = m.lang();
                page::respond(
                    status,
                    page::frame(
                        &m.guest,
                        Some(&m),
                        Nav::Plugins,
                        lang.t("上传插件", "Upload a plugin"),
                        upload_form(&st, &m, Some(&msg)),
                    ),
                )
            }
        }
    }
}

async fn backups_page(
    State(st): State<MicroDockState>,
    Admin(m): Admin,
    Query(q): Query<DoneQuery>,
) -> Response {
    backups_view(&st, &m, StatusCode::OK, None, q.done.as_deref().map(|_| ())).await
}

async fn backups_view(
    st: &MicroDockState,
    m: &Member,
    status: StatusCode,
    error: Option<&str>,
    deleted: Option<()>,
) -> Response {
    let lang = m.lang();
    let all = match backups::list_all(&st.platform.db).await {
        Ok(b) => b,
        Err(e) => return error_page(m, e.into()),
    };
    let ctx = &m.guest.ctx;
    let body = html! {
        (ok_note(deleted.map(|_| lang.t("备份已删除。", "The backup was deleted."))))
        (error_note(error))
        @if all.is_empty() {
            p.muted { (lang.t("没有备份。", "No backups.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "ID" }
                    th scope="col" { (lang.t("用户密钥", "User key")) }
                    th scope="col" { (lang.t("类型", "Type")) }
                    th scope="col" { (lang.t("插件", "Plugin")) }
                    th scope="col" { (lang.t("文件", "File")) }
                    th scope="col" { (lang.t("大小", "Size")) }
                    th scope="col" { (lang.t("上传时间", "Uploaded")) }
                    th scope="col" { span.muted { (lang.t("操作", "Action")) } }
                } }
                tbody {
                    @for b in &all {
                        tr {
                            td { (b.id) }
                            td { code { (b.user_key) } }
                            td { (b.backup_type) }
                            td { (b.plugin_name.as_deref().unwrap_or("—")) }
                            td { (b.file_name) }
                            td { (format_size(b.file_size)) }
                            td { (b.created_at.format("%Y-%m-%d %H:%M")) }
                            td {
                                form.inline method="post" action=(format!("/console/plugins/backups/{}/delete", b.id))
                                    data-confirm=(lang.t("删除此备份？", "Delete this backup?")) {
                                    (csrf_input(ctx))
                                    button.danger type="submit" { (lang.t("删除", "Delete")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page::respond(
        status,
        page::frame(
            &m.guest,
            Some(m),
            Nav::Plugins,
            lang.t("备份管理", "Backups"),
            body,
        ),
    )
}

async fn delete_backup(
    State(st): State<MicroDockState>,
    Admin(m): Admin,
    ctx: ClientCtx,
    Path(id): Path<i64>,
) -> Response {
    let actor = Actor {
        user_id: Some(m.principal.user_id),
        ip: ctx.ip,
    };
    match service::backups::delete(&st, actor, None, id).await {
        Ok(()) => page::redirect_to(false, "/console/plugins/backups?done=deleted"),
        Err(e) => {
            let (status, msg) = failure(e);
            backups_view(&st, &m, status, Some(&msg), None).await
        }
    }
}

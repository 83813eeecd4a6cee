//! The definition editor (new and edit): the definition JSON exactly as
//! `POST /api/v1/workflow/definitions` takes it in a `<textarea name="definition">`, its
//! problems listed next to it with the API's messages (the text kept, status 422 or the
//! API's), and the run form under it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use trellis_console::page::{csrf_input, error_note, ok_note};
use trellis_console::{Lang, Member};
use uuid::Uuid;

use super::{Tab, fail, message, page_of, when};
use crate::domain::definition::DefinitionBody;
use crate::error::WorkflowError;
use crate::service::definitions as svc;
use crate::state::WorkflowState;
use crate::store::definitions::Definition;

/// The JSON a new definition starts from: one step that passes its input through.
const TEMPLATE: &str = r#"{
  "name": "my-workflow",
  "description": "",
  "steps": [
    {"id": "start", "type": "transform", "params": {"program": "."}}
  ]
}"#;

/// The editor form: `definition` (the JSON text) and, for the run form, `input`.
#[derive(Deserialize, Default)]
pub struct DefinitionForm {
    #[serde(default)]
    pub(super) definition: String,
    #[serde(default)]
    pub(super) input: String,
}

/// What the editor page shows.
#[derive(Default)]
pub(super) struct Editor<'a> {
    /// The definition being edited (none: a new one).
    pub(super) def: Option<&'a Definition>,
    /// The editor's text.
    pub(super) text: String,
    /// Problems of the text, shown next to the editor.
    pub(super) problems: Vec<String>,
    /// The run form's input text and its problem.
    pub(super) input: String,
    pub(super) run_problem: Option<String>,
    /// A success note.
    pub(super) ok: Option<&'static str>,
}

pub(super) fn editor_page(m: &Member, status: StatusCode, e: Editor<'_>) -> Response {
    let lang = m.lang();
    let ctx = &m.guest.ctx;
    let action = e.def.map_or_else(
        || "/console/workflows/definitions".to_string(),
        |d| format!("/console/workflows/definitions/{}", d.id),
    );
    let invalid = !e.problems.is_empty();
    let body = html! {
        (ok_note(e.ok))
        @if let Some(d) = e.def {
            p.muted {
                (lang.t("当前版本", "Current version")) " v" (d.version) " · "
                (lang.t("更新于 ", "updated ")) (when(Some(d.updated_at))) " · "
                a href=(format!("/console/workflows/definitions/{}/versions", d.id)) { (lang.t("历史版本", "Versions")) } " · "
                a href=(format!("/console/workflows/executions?definition_id={}", d.id)) { (lang.t("执行记录", "Executions")) }
            }
        }
        section.card {
            h2 { (lang.t("定义 (JSON)", "Definition (JSON)")) }
            form method="post" action=(action) {
                (csrf_input(ctx))
                label for="definition" { (lang.t("工作流定义 JSON", "Workflow definition JSON")) }
                div id="definition-errors" {
                    @if invalid {
                        ul.error role="alert" {
                            @for p in &e.problems { li { (p) } }
                        }
                    }
                }
                textarea id="definition" name="definition" rows="16" cols="100" spellcheck="false" required
                    aria-describedby="definition-help definition-errors" aria-invalid=[invalid.then_some("true")] { (e.text) }
                p.muted id="definition-help" {
                    (lang.t("字段与 API 相同：name、description、steps（id、type、depends_on、params、retry、timeout_seconds）、timeout_seconds、concurrency、on_failure。步骤类型：",
                            "The API's fields: name, description, steps (id, type, depends_on, params, retry, timeout_seconds), timeout_seconds, concurrency, on_failure. Step types: "))
                    @for (i, t) in crate::steps::schema::catalogue().iter().enumerate() {
                        @if i > 0 { ", " } code { (t.name) }
                    }
                }
                button type="submit" { (lang.t("保存", "Save")) }
            }
        }
        @if let Some(d) = e.def {
            (run_form(lang, ctx, d, &e.input, e.run_problem.as_deref()))
            section.card {
                h2 { (lang.t("删除", "Delete")) }
                form method="post" action=(format!("/console/workflows/definitions/{}/delete", d.id))
                    data-confirm=(lang.t("确定删除这个工作流定义及其所有版本？执行记录会保留。", "Delete this definition and all its versions? Its executions stay.")) {
                    (csrf_input(ctx))
                    button.danger type="submit" { (lang.t("删除工作流", "Delete the workflow")) }
                }
            }
        }
    };
    let title = match e.def {
        Some(d) => d.name.clone(),
        None => lang.t("新建工作流", "New workflow").to_string(),
    };
    page_of(m, status, Tab::Definitions, &title, body)
}

fn run_form(
    lang: Lang,
    ctx: &trellis_console::Ctx,
    d: &Definition,
    input: &str,
    problem: Option<&str>,
) -> Markup {
    html! {
        section.card {
            h2 { (lang.t("运行", "Run")) }
            form.stack method="post" action=(format!("/console/workflows/definitions/{}/run", d.id)) {
                (csrf_input(ctx))
                label for="input" { (lang.t("输入 (JSON，可留空)", "Input (JSON, may be empty)")) }
                textarea id="input" name="input" rows="4" spellcheck="false" aria-describedby="input-error" { (input) }
                div id="input-error" { (error_note(problem)) }
                button type="submit" { (lang.t("运行工作流", "Run the workflow")) }
            }
        }
    }
}

/// `GET /console/workflows/definitions/new`: the editor with a one-step template.
pub async fn new_page(m: Member) -> Response {
    editor_page(
        &m,
        StatusCode::OK,
        Editor {
            text: TEMPLATE.to_string(),
            ..Editor::default()
        },
    )
}

/// `GET /console/workflows/definitions/{id}`: the editor with the current version.
#[derive(Deserialize)]
pub struct EditQuery {
    saved: Option<String>,
}

/// `GET /console/workflows/definitions/{id}`.
pub async fn edit_page(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
    Query(q): Query<EditQuery>,
) -> Response {
    let def = match svc::get(&s, &m.principal, id).await {
        Ok(d) => d,
        Err(e) => return fail(&m, e),
    };
    let lang = m.lang();
    editor_page(
        &m,
        StatusCode::OK,
        Editor {
            def: Some(&def),
            text: pretty(&def.definition),
            ok: q
                .saved
                .map(|_| lang.t("已保存为新版本。", "Saved as a new version.")),
            ..Editor::default()
        },
    )
}

pub(super) fn pretty(b: &DefinitionBody) -> String {
    serde_json::to_string_pretty(b).unwrap_or_default()
}

/// The editor's text as the API would read the request body; the API's messages otherwise.
pub(super) fn parse(text: &str) -> Result<DefinitionBody, Vec<String>> {
    serde_json::from_str::<DefinitionBody>(text).map_err(|e| {
        if e.is_data() {
            vec![e.to_string()]
        } else {
            vec![format!(
                "request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )]
        }
    })
}

/// A failed save as the editor shows it: each field problem on its own line.
pub(super) fn problems(e: WorkflowError) -> (StatusCode, Vec<String>) {
    match e {
        WorkflowError::Fields(fields) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect(),
        ),
        other => {
            let (status, msg) = message(other);
            (status, vec![msg])
        }
    }
}

pub(super) fn rejected(
    m: &Member,
    def: Option<&Definition>,
    text: String,
    status: StatusCode,
    problems: Vec<String>,
) -> Response {
    editor_page(
        m,
        status,
        Editor {
            def,
            text,
            problems,
            ..Editor::default()
        },
    )
}

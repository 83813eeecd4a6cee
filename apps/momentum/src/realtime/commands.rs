//! Momentum's WebSocket commands (seed 002 "WebSocket 命令系统"; the original's argument
//! shapes in originals §2.6): [`Command::parse`] reads a client frame in either form, and
//! [`run`] executes one of the 37 business commands through the same service functions as
//! the REST routes, with the same caller scope, authorization, validation and change log.
//!
//! The four connection commands (`subscribe`, `unsubscribe`, `get_connection_info`,
//! `ping`) and `resume` belong to the socket loop, as do rate limiting, idempotency and the
//! reply's `sync_id`; [`run`] refuses them.
//!
//! Arguments are read where the original puts them and where the seed's examples do:
//! object ids (`label_id`, `team_id`, …) at the top of the command or inside its `data`;
//! bodies in `data`; list filters in `filters` (or `data`), where `null` and blank strings
//! mean "no filter". A reply's data is what the matching REST endpoint puts in its
//! envelope's `data` (lists: the items only; deletes: `null`).

mod args;
#[cfg(test)]
mod flows;
mod queries;

use serde::Serialize;
use serde_json::{Map, Value};
use trellis_identity::Principal;
use trellis_kernel::ApiError;

use self::args::{
    Args, InviteArgs, NewWorkspaceArgs, ProfileArgs, WorkspaceChangeArgs, create_field,
    delete_field, email_field, renamed, update_field,
};
use self::queries::{issue_query, query_labels, query_members};
use crate::error::MomentumError;
use crate::service::auth::{self, ProfileChange, current_workspace};
use crate::service::issues::{self, CreateIssue, UpdateIssue};
use crate::service::labels::{self, Batch, LabelChange, NewLabel};
use crate::service::project_statuses::{self, NewStatus, StatusChange};
use crate::service::projects::{self, NewProject, ProjectChange, ProjectQuery};
use crate::service::teams::{self, NewTeam, NewTeamMember, TeamChange, TeamMemberChange};
use crate::service::workspaces::{self, NewWorkspace, WorkspaceChange};
use crate::service::{Scope, invitations};
use crate::state::MomentumState;

/// Every command name of seed 002's "WebSocket 命令系统" (41: labels 7, teams 8, workspaces
/// 7, projects 4, issues 5, project statuses 5, user 1, connection 4), in the seed's order.
pub const COMMANDS: &[&str] = &[
    "create_label",
    "update_label",
    "delete_label",
    "query_labels",
    "batch_create_labels",
    "batch_update_labels",
    "batch_delete_labels",
    "create_team",
    "update_team",
    "delete_team",
    "query_teams",
    "add_team_member",
    "update_team_member",
    "remove_team_member",
    "list_team_members",
    "create_workspace",
    "update_workspace",
    "delete_workspace",
    "get_current_workspace",
    "invite_workspace_member",
    "accept_invitation",
    "query_workspace_members",
    "create_project",
    "update_project",
    "delete_project",
    "query_projects",
    "create_issue",
    "update_issue",
    "delete_issue",
    "query_issues",
    "get_issue",
    "create_project_status",
    "update_project_status",
    "delete_project_status",
    "query_project_statuses",
    "get_project_status_by_id",
    "update_profile",
    "subscribe",
    "unsubscribe",
    "get_connection_info",
    "ping",
];

/// The commands of [`COMMANDS`] the socket loop answers itself (the seed's "连接管理命令");
/// [`run`] refuses them with `INVALID_COMMAND`.
pub const CONNECTION_COMMANDS: &[&str] =
    &["subscribe", "unsubscribe", "get_connection_info", "ping"];

/// Longest `request_id` taken (the socket keeps recent ones for idempotency).
pub const REQUEST_ID_MAX: usize = 128;

/// One client command: its `type`, its `request_id`, and every other key of the command
/// object as an argument (`data`, `filters`, `label_id`, `topics`, …).
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// The command name (`create_label`), exactly as sent.
    pub kind: String,
    /// The client's id for the command, echoed in the reply (numbers are taken as text).
    pub request_id: Option<String>,
    /// Every key of the command object except `type` and `request_id`.
    pub args: Map<String, Value>,
}

/// Why a command failed, as its `command_response` states it: `error {code, message, field?,
/// details?}` plus the reply-level `retry_after_ms`.
///
/// Codes are Momentum's stable codes as the REST envelope gives them (`NOT_FOUND`,
/// `FORBIDDEN`, `NO_WORKSPACE`, `VALIDATION_ERROR`, `LABEL_EXISTS`, …, upper-cased), plus
/// `INVALID_COMMAND` (a frame or argument of the wrong shape) and `UNKNOWN_COMMAND`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommandError {
    /// Stable upper-snake-case code.
    pub code: String,
    /// The human message.
    pub message: String,
    /// The first failing field or argument, when the problem is one's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every failing field, `[{field, code, message}]` (validation and batch conflicts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// Milliseconds to wait before retrying (`RATE_LIMITED`); a reply-level key, so not
    /// serialized with the error.
    #[serde(skip)]
    pub retry_after_ms: Option<u64>,
}

impl CommandError {
    /// `INVALID_COMMAND`: the frame, or the argument `field`, has the wrong shape.
    pub fn invalid(field: Option<&str>, message: impl Into<String>) -> Self {
        CommandError {
            code: "INVALID_COMMAND".to_string(),
            message: message.into(),
            field: field.map(str::to_string),
            details: None,
            retry_after_ms: None,
        }
    }

    /// `UNKNOWN_COMMAND` for the type `kind` (echoed, cut to 64 characters).
    pub fn unknown(kind: &str) -> Self {
        let shown: String = kind.chars().take(64).collect();
        CommandError {
            code: "UNKNOWN_COMMAND".to_string(),
            message: format!("unknown command type {shown:?}"),
            field: Some("type".to_string()),
            details: None,
            retry_after_ms: None,
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The kernel error as a command error: the code upper-cased (as Momentum's envelope writes
/// `errors[0].code`), the first listed field as `field`, all of them as `details`,
/// `Retry-After` seconds as milliseconds.
impl From<ApiError> for CommandError {
    fn from(e: ApiError) -> Self {
        let (field, details) = match e.fields {
            Some(fields) if !fields.is_empty() => (
                Some(fields[0].field.clone()),
                serde_json::to_value(&fields).ok(),
            ),
            _ => (None, None),
        };
        CommandError {
            code: e.code.to_ascii_uppercase(),
            message: e.message.into_owned(),
            field,
            details,
            retry_after_ms: e.retry_after.map(|s| s.saturating_mul(1000)),
        }
    }
}

/// Through the mapping REST answers with (`From<MomentumError> for ApiError`), so a command
/// and a request failing alike get the same code, message and fields.
impl From<MomentumError> for CommandError {
    fn from(e: MomentumError) -> Self {
        ApiError::from(e).into()
    }
}

impl Command {
    /// Reads a command frame, in the seed's form `{"type": …, "data": …, "request_id": …}`
    /// (other top-level keys are arguments too) or the original's `{"message_type":
    /// "command", "data": {"type": …, …}}`.
    ///
    /// Errors: `INVALID_COMMAND` when the frame is not an object, a `command` frame's `data`
    /// is not an object, `type` is not a non-empty string, or `request_id` is neither a
    /// string nor a number or longer than [`REQUEST_ID_MAX`].
    pub fn parse(frame: &Value) -> Result<Command, CommandError> {
        let Some(outer) = frame.as_object() else {
            return Err(CommandError::invalid(
                None,
                "a command must be a JSON object",
            ));
        };
        let body = if outer.get("message_type").and_then(Value::as_str) == Some("command") {
            match outer.get("data") {
                Some(Value::Object(d)) => d,
                _ => {
                    return Err(CommandError::invalid(
                        Some("data"),
                        "a command frame carries the command object in `data`",
                    ));
                }
            }
        } else {
            outer
        };
        let kind = match body.get("type") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(CommandError::invalid(
                    Some("type"),
                    "a command needs a string `type`",
                ));
            }
        };
        let request_id = match body.get("request_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                return Err(CommandError::invalid(
                    Some("request_id"),
                    "`request_id` must be a string",
                ));
            }
        };
        if request_id
            .as_deref()
            .is_some_and(|r| r.chars().count() > REQUEST_ID_MAX)
        {
            return Err(CommandError::invalid(
                Some("request_id"),
                format!("`request_id` must be at most {REQUEST_ID_MAX} characters"),
            ));
        }
        let args = body
            .iter()
            .filter(|(k, _)| *k != "type" && *k != "request_id")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Command {
            kind,
            request_id,
            args,
        })
    }
}

/// The business commands [`run`] executes: every name of [`COMMANDS`] but the
/// [`CONNECTION_COMMANDS`].
macro_rules! ops {
    ($($variant:ident = $name:literal),+ $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Op { $($variant),+ }

        impl Op {
            #[cfg(test)]
            const ALL: &[Op] = &[$(Op::$variant),+];

            fn parse(s: &str) -> Option<Op> {
                match s { $($name => Some(Op::$variant),)+ _ => None }
            }

            #[cfg(test)]
            fn name(self) -> &'static str {
                match self { $(Op::$variant => $name),+ }
            }
        }
    };
}

ops!(
    CreateLabel = "create_label",
    UpdateLabel = "update_label",
    DeleteLabel = "delete_label",
    QueryLabels = "query_labels",
    BatchCreateLabels = "batch_create_labels",
    BatchUpdateLabels = "batch_update_labels",
    BatchDeleteLabels = "batch_delete_labels",
    CreateTeam = "create_team",
    UpdateTeam = "update_team",
    DeleteTeam = "delete_team",
    QueryTeams = "query_teams",
    AddTeamMember = "add_team_member",
    UpdateTeamMember = "update_team_member",
    RemoveTeamMember = "remove_team_member",
    ListTeamMembers = "list_team_members",
    CreateWorkspace = "create_workspace",
    UpdateWorkspace = "update_workspace",
    DeleteWorkspace = "delete_workspace",
    GetCurrentWorkspace = "get_current_workspace",
    InviteWorkspaceMember = "invite_workspace_member",
    AcceptInvitation = "accept_invitation",
    QueryWorkspaceMembers = "query_workspace_members",
    CreateProject = "create_project",
    UpdateProject = "update_project",
    DeleteProject = "delete_project",
    QueryProjects = "query_projects",
    CreateIssue = "create_issue",
    UpdateIssue = "update_issue",
    DeleteIssue = "delete_issue",
    QueryIssues = "query_issues",
    GetIssue = "get_issue",
    CreateProjectStatus = "create_project_status",
    UpdateProjectStatus = "update_project_status",
    DeleteProjectStatus = "delete_project_status",
    QueryProjectStatuses = "query_project_statuses",
    GetProjectStatusById = "get_project_status_by_id",
    UpdateProfile = "update_profile",
);

/// The caller's scope, as the REST `Caller` extractor builds it: the current workspace (or
/// another membership; `NO_WORKSPACE` when none) and the role read for this command.
async fn caller_scope(st: &MomentumState, p: &Principal) -> Result<Scope, CommandError> {
    let (workspace_id, role) = current_workspace(st, p.user_id).await?;
    Ok(Scope {
        workspace_id,
        actor: p.user_id,
        role,
        now: st.now(),
    })
}

/// `v` as reply data.
fn reply<T: Serialize>(v: T) -> Result<Value, CommandError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(e).into())
}

/// Executes a business command for `principal` and answers the data of its reply: the
/// object (or list, or `null` for deletes) the matching REST endpoint answers.
///
/// Commands that REST serves to any signed-in user (`create_workspace`, `update_workspace`,
/// `delete_workspace`, `accept_invitation`, `update_profile`) work without a workspace;
/// the rest work in the caller's current workspace like the REST `Caller` (`NO_WORKSPACE`
/// when there is none), which is read before the arguments, as REST extracts it before the
/// body.
///
/// Errors: the service's, converted by [`CommandError::from`]; `VALIDATION_ERROR` naming an
/// argument that is missing, not a UUID, or of the wrong JSON type; `INVALID_COMMAND` for
/// `data`, `filters` or a list argument of the wrong shape, and for the
/// [`CONNECTION_COMMANDS`] and `resume`; `UNKNOWN_COMMAND` for any other type.
pub async fn run(
    st: &MomentumState,
    principal: &Principal,
    cmd: &Command,
) -> Result<Value, CommandError> {
    let Some(op) = Op::parse(&cmd.kind) else {
        let socket_own = CONNECTION_COMMANDS.contains(&cmd.kind.as_str()) || cmd.kind == "resume";
        return Err(if socket_own {
            CommandError::invalid(
                Some("type"),
                format!("`{}` is answered by the connection itself", cmd.kind),
            )
        } else {
            CommandError::unknown(&cmd.kind)
        });
    };
    let a = Args(&cmd.args);
    let me = principal.user_id;
    let db = &st.platform.db;
    let scope = || caller_scope(st, principal);
    match op {
        // Labels (REST `/labels…`).
        Op::CreateLabel => {
            reply(labels::create(st, &scope().await?, &a.data::<NewLabel>()?).await?)
        }
        Op::UpdateLabel => {
            let s = scope().await?;
            let id = a.id("label_id")?;
            reply(labels::update(st, &s, id, &a.data::<LabelChange>()?).await?)
        }
        Op::DeleteLabel => {
            let s = scope().await?;
            labels::delete(st, &s, a.id("label_id")?).await?;
            Ok(Value::Null)
        }
        Op::QueryLabels => reply(query_labels(st, &scope().await?, &a).await?),
        Op::BatchCreateLabels => {
            let s = scope().await?;
            let batch = Batch {
                create: a.batch_create()?,
                ..Batch::default()
            };
            let done = labels::batch(st, &s, &batch).await;
            reply(done.map_err(|e| renamed(e.into(), &create_field, &[("create[", "data[")]))?)
        }
        Op::BatchUpdateLabels => {
            let s = scope().await?;
            let batch = Batch {
                update: a.batch_update()?,
                ..Batch::default()
            };
            let done = labels::batch(st, &s, &batch).await;
            reply(done.map_err(|e| renamed(e.into(), &update_field, &[("update[", "updates[")]))?)
        }
        Op::BatchDeleteLabels => {
            let s = scope().await?;
            let batch = Batch {
                delete: a.batch_delete()?,
                ..Batch::default()
            };
            let done = labels::batch(st, &s, &batch).await;
            let tokens = [("delete[", "label_ids[")];
            reply(done.map_err(|e| renamed(e.into(), &delete_field, &tokens))?)
        }
        // Teams (REST `/teams…`).
        Op::CreateTeam => reply(teams::create(st, &scope().await?, a.data::<NewTeam>()?).await?),
        Op::UpdateTeam => {
            let s = scope().await?;
            let id = a.id("team_id")?;
            reply(teams::update(st, &s, id, a.data::<TeamChange>()?).await?)
        }
        Op::DeleteTeam => {
            let s = scope().await?;
            teams::delete(st, &s, a.id("team_id")?).await?;
            Ok(Value::Null)
        }
        Op::QueryTeams => reply(teams::list(st, &scope().await?).await?),
        Op::AddTeamMember => {
            let s = scope().await?;
            let id = a.id("team_id")?;
            reply(teams::add_member(st, &s, id, a.data::<NewTeamMember>()?).await?)
        }
        Op::UpdateTeamMember => {
            let s = scope().await?;
            let (id, user) = (a.id("team_id")?, a.member_id()?);
            let b = a.data::<TeamMemberChange>()?;
            reply(teams::set_member_role(st, &s, id, user, b).await?)
        }
        Op::RemoveTeamMember => {
            let s = scope().await?;
            let (id, user) = (a.id("team_id")?, a.member_id()?);
            teams::remove_member(st, &s, id, user).await?;
            Ok(Value::Null)
        }
        Op::ListTeamMembers => {
            let s = scope().await?;
            reply(teams::members(st, &s, a.id("team_id")?).await?)
        }
        // Workspaces (REST `/workspaces…`, `/invitations…`, `/workspace-members`).
        Op::CreateWorkspace => {
            let b = a.data::<NewWorkspaceArgs>()?;
            let n = NewWorkspace {
                name: &b.name,
                url_key: b.url_key.as_deref(),
                logo_url: b.logo_url.as_deref(),
            };
            reply(workspaces::create(st, me, n).await?)
        }
        Op::UpdateWorkspace => {
            // The original names the workspace; without it, the current one.
            let id = match a.opt_id("workspace_id")? {
                Some(id) => id,
                None => scope().await?.workspace_id,
            };
            let b = a.data::<WorkspaceChangeArgs>()?;
            let c = WorkspaceChange {
                name: b.name,
                url_key: b.url_key,
                logo_url: b.logo_url,
            };
            reply(workspaces::update(st, me, id, c).await?)
        }
        Op::DeleteWorkspace => {
            workspaces::delete(st, me, a.id("workspace_id")?).await?;
            Ok(Value::Null)
        }
        Op::GetCurrentWorkspace => {
            let s = scope().await?;
            reply(workspaces::current(st, s.workspace_id, s.role).await?)
        }
        Op::InviteWorkspaceMember => {
            let s = scope().await?;
            let b = a.data::<InviteArgs>()?;
            // The original invites one `email`; REST takes `emails`.
            let single = b.emails.is_none() && b.email.is_some();
            let emails = b.emails.or(b.email.map(|e| vec![e])).unwrap_or_default();
            let done = invitations::invite(st, &s, &emails, b.role.as_deref()).await;
            reply(done.map_err(|e| {
                let e = CommandError::from(e);
                if single {
                    renamed(e, &email_field, &[])
                } else {
                    e
                }
            })?)
        }
        Op::AcceptInvitation => reply(invitations::accept(st, me, a.id("invitation_id")?).await?),
        Op::QueryWorkspaceMembers => reply(query_members(st, &scope().await?, &a).await?),
        // Projects (REST `/projects…`).
        Op::CreateProject => {
            reply(projects::create(st, &scope().await?, &a.data::<NewProject>()?).await?)
        }
        Op::UpdateProject => {
            let s = scope().await?;
            let id = a.id("project_id")?;
            reply(projects::update(st, &s, id, &a.data::<ProjectChange>()?).await?)
        }
        Op::DeleteProject => {
            let s = scope().await?;
            projects::delete(st, &s, a.id("project_id")?).await?;
            Ok(Value::Null)
        }
        Op::QueryProjects => {
            let s = scope().await?;
            let mut f = a.filters()?;
            let q = ProjectQuery {
                status_id: f.take("status_id").or_else(|| f.take("project_status_id")),
                owner_id: f.take("owner_id"),
                priority: f.take("priority"),
                search: f.take("search"),
                page: f.take("page"),
                per_page: f.take("per_page"),
            };
            reply(projects::list(st, &s, &q).await?.0)
        }
        // Issues (REST `/issues…`).
        Op::CreateIssue => {
            reply(issues::create(db, &scope().await?, a.data::<CreateIssue>()?).await?)
        }
        Op::UpdateIssue => {
            let s = scope().await?;
            let id = a.issue_id()?;
            reply(issues::update(db, &s, &id, a.data::<UpdateIssue>()?).await?)
        }
        Op::DeleteIssue => {
            let s = scope().await?;
            issues::delete(db, &s, &a.issue_id()?).await?;
            Ok(Value::Null)
        }
        Op::QueryIssues => {
            let s = scope().await?;
            reply(
                issues::list(db, &s, &issue_query(a.filters()?))
                    .await?
                    .items,
            )
        }
        Op::GetIssue => {
            let s = scope().await?;
            reply(issues::detail(db, &s, &a.issue_id()?).await?)
        }
        // Project statuses (REST `/project-statuses…`).
        Op::CreateProjectStatus => {
            let s = scope().await?;
            reply(project_statuses::create(st, &s, &a.data::<NewStatus>()?).await?)
        }
        Op::UpdateProjectStatus => {
            let s = scope().await?;
            let id = a.status_id()?;
            reply(project_statuses::update(st, &s, id, &a.data::<StatusChange>()?).await?)
        }
        Op::DeleteProjectStatus => {
            let s = scope().await?;
            project_statuses::delete(st, &s, a.status_id()?).await?;
            Ok(Value::Null)
        }
        Op::QueryProjectStatuses => reply(project_statuses::list(st, &scope().await?).await?),
        Op::GetProjectStatusById => {
            let s = scope().await?;
            reply(project_statuses::get(st, &s, a.status_id()?).await?)
        }
        // The caller (REST `PUT /auth/profile`).
        Op::UpdateProfile => {
            let b = a.data::<ProfileArgs>()?;
            let c = ProfileChange {
                name: b.name,
                username: b.username,
                email: b.email,
                avatar_url: b.avatar_url,
            };
            reply(auth::update_profile(st, principal, c).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::Check;

    #[test]
    fn parses_the_seed_form() {
        let c = Command::parse(&json!({
            "type": "query_issues",
            "filters": {"project_id": "p"},
            "request_id": "req-456",
            "label_id": "x",
        }))
        .unwrap();
        assert_eq!(c.kind, "query_issues");
        assert_eq!(c.request_id.as_deref(), Some("req-456"));
        assert_eq!(c.args.len(), 2);
        assert_eq!(c.args["filters"], json!({"project_id": "p"}));
        assert_eq!(c.args["label_id"], "x");
        // A numeric request id is kept as its text; none at all is fine.
        let c = Command::parse(&json!({"type": "ping", "request_id": 7})).unwrap();
        assert_eq!(c.request_id.as_deref(), Some("7"));
        let c = Command::parse(&json!({"type": "ping"})).unwrap();
        assert_eq!((c.request_id, c.args.len()), (None, 0));
    }

    #[test]
    fn parses_the_original_form() {
        let c = Command::parse(&json!({
            "id": "frame-1",
            "message_type": "command",
            "data": {"type": "create_label", "data": {"name": "Bug"}, "request_id": "r1"},
            "timestamp": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        assert_eq!(c.kind, "create_label");
        assert_eq!(c.request_id.as_deref(), Some("r1"));
        // The envelope's own keys are not arguments.
        assert_eq!(c.args.keys().collect::<Vec<_>>(), ["data"]);
        assert_eq!(c.args["data"], json!({"name": "Bug"}));
    }

    #[test]
    fn refuses_frames_without_a_type() {
        let cases = [
            (json!({"data": {}}), Some("type")),
            (json!({"type": ""}), Some("type")),
            (json!({"type": 3}), Some("type")),
            (
                json!({"message_type": "command", "data": {"data": {}}}),
                Some("type"),
            ),
            (
                json!({"message_type": "command", "data": "create_label"}),
                Some("data"),
            ),
            (json!({"message_type": "command"}), Some("data")),
            (
                json!({"type": "ping", "request_id": {"a": 1}}),
                Some("request_id"),
            ),
            (
                json!({"type": "ping", "request_id": "r".repeat(REQUEST_ID_MAX + 1)}),
                Some("request_id"),
            ),
            (json!([{"type": "ping"}]), None),
            (json!("ping"), None),
            (json!(null), None),
        ];
        for (frame, field) in cases {
            let e = Command::parse(&frame).unwrap_err();
            assert_eq!(e.code, "INVALID_COMMAND", "{frame}");
            assert_eq!(e.field.as_deref(), field, "{frame}");
        }
    }

    #[test]
    fn every_seed_command_is_run_or_left_to_the_socket() {
        assert_eq!(COMMANDS.len(), 41);
        let mut names: Vec<&str> = COMMANDS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len(), "no name twice");
        for name in COMMANDS {
            let business = Op::parse(name).is_some();
            assert_ne!(business, CONNECTION_COMMANDS.contains(name), "{name}");
        }
        assert_eq!(Op::ALL.len() + CONNECTION_COMMANDS.len(), COMMANDS.len());
        for op in Op::ALL {
            assert_eq!(Op::parse(op.name()), Some(*op));
            assert!(COMMANDS.contains(&op.name()));
        }
    }

    #[test]
    fn errors_carry_the_rest_codes() {
        let e = CommandError::from(MomentumError::NotFound("label"));
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("NOT_FOUND", "label not found")
        );
        let e = CommandError::from(MomentumError::NoWorkspace);
        assert_eq!(e.code, "NO_WORKSPACE");
        let e = CommandError::from(MomentumError::conflict("LABEL_EXISTS", "taken"));
        assert_eq!((e.code.as_str(), e.field), ("LABEL_EXISTS", None));
        let e = CommandError::from(MomentumError::RateLimited { retry_after: 2 });
        assert_eq!(
            (e.code.as_str(), e.retry_after_ms),
            ("RATE_LIMITED", Some(2000))
        );
        let mut c = Check::new();
        c.fail("name", "required", "is required");
        c.fail("color", "invalid_color", "must be a color like #FF6B6B");
        let e = CommandError::from(c.finish().unwrap_err());
        assert_eq!(e.code, "VALIDATION_ERROR");
        assert_eq!(e.field.as_deref(), Some("name"));
        assert_eq!(
            e.details,
            Some(json!([
                {"field": "name", "code": "required", "message": "is required"},
                {"field": "color", "code": "invalid_color", "message": "must be a color like #FF6B6B"},
            ]))
        );
        // Internal causes stay in the log.
        let e = CommandError::from(ApiError::internal("password=hunter2"));
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("INTERNAL_ERROR", "internal server error")
        );
        let json = serde_json::to_value(CommandError::unknown("drop_tables")).unwrap();
        assert_eq!(
            json,
            json!({"code": "UNKNOWN_COMMAND", "message": "unknown command type \"drop_tables\"", "field": "type"})
        );
    }
}

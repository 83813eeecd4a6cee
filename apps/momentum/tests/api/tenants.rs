//! Tenancy (issue 8 "Authorization and bad input", "Done when"): two users in two
//! workspaces, each with one of every kind of object. Each walks EVERY Momentum route of the
//! OpenAPI document (read at test time, so new routes are walked without touching this file)
//! with the other's ids in paths, bodies and query strings, and must get exactly what a random
//! id gets (paths: 404; bodies: 422 naming the field), never a byte of the other's data (every
//! id, e-mail and name marker is searched for in every response). The victim then reads all
//! its objects again and finds them unchanged. A member removed from a workspace loses it at
//! once and falls back to their own; the first login is usable without any setup.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{TestApp, User};
use trellis_kernel::testing::{Backend, Resp};

trellis_kernel::backend_tests!(
    two_tenants_cannot_reach_each_other,
    first_login_is_usable_without_setup,
);

/// The walk sends thousands of writes from one user; the rate limit has its own test.
const NO_RATE_LIMIT: &[(&str, &str)] = &[("RATE_LIMIT_PER_SECOND", "0")];

/// Fixed dates, far from today, so cycles never turn active or completed mid-test.
const CYCLE_START: &str = "2030-01-01";
const CYCLE_END: &str = "2030-01-14";

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

fn id(v: &Value) -> String {
    s(&v["id"])
}

// ---------------------------------------------------------------------------------------
// The OpenAPI document: every Momentum operation, its path parameters, query parameters and
// request-body fields that take ids.

/// One Momentum operation of `/openapi.json`.
#[derive(Clone, Debug)]
struct Op {
    method: Method,
    template: String,
    /// Path parameters, in the order they appear in the path.
    params: Vec<String>,
    /// Query parameters.
    query: Vec<String>,
    /// The JSON request body's schema, if it takes one.
    body: Option<Value>,
}

impl Op {
    fn key(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

async fn momentum_ops(app: &TestApp) -> (Value, Vec<Op>) {
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = r.body;
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let method = match m.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            let tagged = op["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "momentum"));
            if !tagged {
                continue;
            }
            let params = path
                .split('{')
                .skip(1)
                .map(|p| p.split('}').next().unwrap().to_string())
                .collect();
            let query = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "query")
                        .map(|p| s(&p["name"]))
                        .collect()
                })
                .unwrap_or_default();
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            ops.push(Op {
                method,
                template: path.clone(),
                params,
                query,
                body: (!body.is_null()).then(|| body.clone()),
            });
        }
    }
    (doc, ops)
}

/// `schema` with `$ref`s followed.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// The properties of an object schema, through `allOf` / `oneOf` / `anyOf` (flattened
/// structs, nullable references).
fn properties(doc: &Value, schema: &Value) -> Vec<(String, Value)> {
    let schema = resolve(doc, schema);
    let mut out: Vec<(String, Value)> = schema["properties"]
        .as_object()
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    for combo in ["allOf", "oneOf", "anyOf"] {
        for part in schema[combo].as_array().into_iter().flatten() {
            out.extend(properties(doc, part));
        }
    }
    out
}

fn has_type(doc: &Value, schema: &Value, ty: &str) -> bool {
    let schema = resolve(doc, schema);
    let direct = match &schema["type"] {
        Value::String(t) => t == ty,
        Value::Array(ts) => ts.iter().any(|t| t == ty),
        _ => false,
    };
    direct
        || ["oneOf", "anyOf", "allOf"].iter().any(|c| {
            schema[*c]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| has_type(doc, p, ty)))
        })
}

fn is_uuid_format(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    schema["format"]
        .as_str()
        .is_some_and(|f| f.eq_ignore_ascii_case("uuid"))
        || schema["items"]["format"]
            .as_str()
            .is_some_and(|f| f.eq_ignore_ascii_case("uuid"))
}

/// A step into a JSON body.
#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A body field that takes ids: where it is, how the server names it, what kind of object it
/// refers to, and whether it is a list of ids.
#[derive(Clone, Debug)]
struct RefField {
    at: Vec<Seg>,
    kind: &'static str,
    list: bool,
}

impl RefField {
    /// `update[0].id`, `label_ids`.
    fn name(&self) -> String {
        let mut out = String::new();
        for seg in &self.at {
            match seg {
                Seg::Key(k) if out.is_empty() => out.push_str(k),
                Seg::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// Id-list fields whose names do not say so.
const EXTRA_REF_FIELDS: &[(&str, &str, &str)] = &[("/labels/batch", "delete", "label")];

/// Every field of the operation's body that takes ids (`*_id`, `*_ids`, `id`, or documented
/// as a UUID), nested objects and lists of objects included.
fn ref_fields(doc: &Value, op: &Op) -> Vec<RefField> {
    fn walk(
        doc: &Value,
        schema: &Value,
        at: &[Seg],
        resource: &'static str,
        out: &mut Vec<RefField>,
    ) {
        for (name, prop) in properties(doc, schema) {
            let mut here = at.to_vec();
            here.push(Seg::Key(name.clone()));
            let list = has_type(doc, &prop, "array");
            let items = resolve(doc, &prop["items"]);
            if list && !properties(doc, items).is_empty() {
                here.push(Seg::Index(0));
                walk(doc, items, &here, resource, out);
                continue;
            }
            if !list && !properties(doc, &prop).is_empty() {
                walk(doc, &prop, &here, resource, out);
                continue;
            }
            let kind = if name == "id" {
                Some(resource)
            } else {
                kind_of_name(&name)
            };
            let kind = kind.or_else(|| is_uuid_format(doc, &prop).then_some("any"));
            if let Some(kind) = kind {
                out.push(RefField {
                    at: here,
                    kind,
                    list,
                });
            }
        }
    }
    let Some(body) = &op.body else {
        return Vec::new();
    };
    let resource = resource_kind(op.template.split('/').nth(1).unwrap_or(""));
    let mut out = Vec::new();
    walk(doc, body, &[], resource, &mut out);
    for (tpl, field, kind) in EXTRA_REF_FIELDS {
        if *tpl == op.template {
            out.push(RefField {
                at: vec![Seg::Key(field.to_string())],
                kind,
                list: true,
            });
        }
    }
    out
}

/// Sets `value` at `at` in `body` (creating what is missing); for a list field, replaces its
/// first element (or makes it a one-element list).
fn set_at(body: &mut Value, at: &[Seg], value: &str, list: bool) {
    let mut cur = body;
    for seg in at {
        cur = match seg {
            Seg::Key(k) => {
                if !cur.is_object() {
                    *cur = json!({});
                }
                cur.as_object_mut()
                    .unwrap()
                    .entry(k.clone())
                    .or_insert(Value::Null)
            }
            Seg::Index(i) => {
                if cur.as_array().is_none_or(|a| a.len() <= *i) {
                    *cur = json!([{}]);
                }
                &mut cur.as_array_mut().unwrap()[*i]
            }
        };
    }
    if list {
        match cur.as_array_mut() {
            Some(items) if !items.is_empty() => items[0] = json!(value),
            _ => *cur = json!([value]),
        }
    } else {
        *cur = json!(value);
    }
}

/// The kind of object a `*_id` / `*_ids` name refers to (`any` when the name says nothing).
fn kind_of_name(name: &str) -> Option<&'static str> {
    let base = name
        .strip_suffix("_ids")
        .or_else(|| name.strip_suffix("_id"))?;
    Some(match base {
        "user" | "assignee" | "owner" | "creator" | "member" => "user",
        "team" => "team",
        "workflow" => "workflow",
        "state" | "workflow_state" | "to_state" | "from_state" => "state",
        "relation" => "relation",
        "project" => "project",
        "project_status" | "status" => "project_status",
        "label" => "label",
        "cycle" => "cycle",
        "issue" | "parent_issue" | "related_issue" | "parent" => "issue",
        "comment" | "parent_comment" => "comment",
        "workspace" => "workspace",
        "invitation" => "invitation",
        _ => "any",
    })
}

/// The kind of object a path segment (`issues`, `members`) names.
fn resource_kind(segment: &str) -> &'static str {
    match segment {
        "issues" => "issue",
        "teams" => "team",
        "workflows" => "workflow",
        "states" => "state",
        "members" => "user",
        "relations" => "relation",
        "projects" => "project",
        "project-statuses" => "project_status",
        "labels" => "label",
        "cycles" => "cycle",
        "comments" => "comment",
        "workspaces" => "workspace",
        "invitations" => "invitation",
        _ => "any",
    }
}

/// The kind of object path parameter `name` of `template` takes.
fn param_kind(template: &str, name: &str) -> &'static str {
    if name != "id" {
        return kind_of_name(name).unwrap_or("any");
    }
    let before = template.split("/{id}").next().unwrap_or("");
    resource_kind(before.rsplit('/').next().unwrap_or(""))
}

fn fill(template: &str, params: &[String], values: &[String]) -> String {
    let mut path = template.to_string();
    for (p, v) in params.iter().zip(values) {
        path = path.replace(&format!("{{{p}}}"), v);
    }
    path
}

fn cartesian(lists: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for list in lists {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                list.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect();
    }
    out
}

fn random() -> String {
    Uuid::new_v4().to_string()
}

/// What a response says, minus what differs on every request (`meta`, `timestamp`).
fn outcome(r: &Resp) -> Value {
    json!({
        "status": r.status.as_u16(),
        "success": r.body["success"],
        "message": r.body["message"],
        "errors": r.body["errors"],
        "data": r.body["data"],
    })
}

// ---------------------------------------------------------------------------------------
// A tenant: one workspace with one of every kind of object.

struct Tenant {
    owner: User,
    member: User,
    marker: &'static str,
    workspace_id: String,
    /// Ids by kind; the first of each kind is the one templates and "my own" path values use.
    ids: BTreeMap<&'static str, Vec<String>>,
    /// Issue keys (`ALI-1`): paths that take an issue are walked with them too.
    keys: Vec<String>,
    /// The states of the first team's default workflow, in order.
    states: Vec<String>,
    /// The e-mail the pending invitation went to.
    invitee: String,
    /// Strings that must never reach another workspace (lower-case): every id in the
    /// tenant's data, its users' e-mails, the marker in its names.
    secrets: BTreeSet<String>,
}

impl Tenant {
    fn id(&self, kind: &str) -> String {
        match kind {
            "any" => self.ids["issue"][0].clone(),
            k => self
                .ids
                .get(k)
                .and_then(|v| v.first())
                .unwrap_or_else(|| panic!("no {k}"))
                .clone(),
        }
    }

    /// The values a path parameter (or, without keys, a body field) of `kind` is tried with.
    fn values(&self, kind: &str, in_path: bool) -> Vec<String> {
        match kind {
            "any" => {
                let mut v: Vec<String> = self.ids.values().map(|ids| ids[0].clone()).collect();
                if in_path {
                    v.push(self.keys[0].clone());
                }
                v
            }
            "issue" if in_path => {
                let mut v = self.ids["issue"].clone();
                v.extend(self.keys.iter().cloned());
                v
            }
            k => self.ids.get(k).cloned().unwrap_or_default(),
        }
    }

    /// A valid body for `op` on this tenant's own objects (path parameters = its first ids).
    fn template(&self, op: &Op) -> Option<Value> {
        let team = self.id("team");
        let issue = self.id("issue");
        let parent = self.ids["issue"][1].clone();
        let body = match (op.method.as_str(), op.template.as_str()) {
            ("PUT", "/auth/profile" | "/users/profile") => json!({"name": self.marker}),
            ("POST", "/workspaces/switch" | "/auth/switch-workspace") => {
                json!({"workspace_id": self.workspace_id})
            }
            ("PUT", "/workspaces/{id}") => json!({"name": "Taken Over"}),
            ("PUT", "/workspaces/{id}/members/{user_id}") => json!({"role": "guest"}),
            ("PUT", "/teams/{id}") => json!({"name": "Taken Over"}),
            ("POST", "/teams/{id}/members") => {
                json!({"user_id": self.id("user"), "role": "member"})
            }
            ("PUT", "/teams/{id}/members/{user_id}") => json!({"role": "member"}),
            ("POST", "/workflows") => json!({"team_id": team, "name": "Taken Over"}),
            ("POST", "/teams/{id}/workflows") => json!({"name": "Taken Over"}),
            ("PUT", "/workflows/{id}") => json!({"name": "Taken Over"}),
            ("POST", "/workflows/{id}/states" | "/teams/{id}/workflows/default/states") => {
                json!({"name": "Taken Over", "category": "started", "color": "#000000"})
            }
            (
                "PUT",
                "/workflows/{id}/states/{state_id}"
                | "/teams/{id}/workflows/default/states/{state_id}",
            ) => json!({"name": "Taken Over"}),
            ("PUT", "/workflows/{id}/states/reorder") => json!({"state_ids": self.states}),
            ("PUT", "/workflows/{id}/transitions") => json!({"transitions": [
                {"from_state_id": self.states[1], "to_state_id": self.states[2], "roles": ["owner"]}
            ]}),
            ("PUT", "/project-statuses/{id}") => json!({"name": "Taken Over"}),
            ("POST", "/projects") => json!({
                "name": "Taken Over", "project_key": "TKOV",
                "project_status_id": self.id("project_status"), "owner_id": self.id("user")
            }),
            ("PUT", "/projects/{id}") => json!({
                "name": "Taken Over", "project_status_id": self.id("project_status"),
                "owner_id": self.id("user")
            }),
            ("PUT", "/labels/{id}") => json!({"name": "Taken Over"}),
            ("POST", "/labels/batch") => json!({
                "update": [{"id": self.id("label"), "name": "Taken Over"}],
                "delete": [self.ids["label"][1]]
            }),
            ("POST", "/issues") => json!({
                "title": "Taken Over", "team_id": team, "assignee_id": self.id("user"),
                "project_id": self.id("project"), "cycle_id": self.id("cycle"),
                "parent_issue_id": parent, "label_ids": [self.id("label")],
                "workflow_state_id": self.states[1]
            }),
            ("PUT", "/issues/{id}") => json!({
                "title": "Taken Over", "team_id": team, "assignee_id": self.id("user"),
                "project_id": self.id("project"), "cycle_id": self.id("cycle"),
                "parent_issue_id": parent, "label_ids": [self.id("label")],
                "workflow_state_id": self.states[2]
            }),
            ("POST", "/issues/{id}/transitions") => json!({"to_state_id": self.states[3]}),
            ("POST", "/issues/{id}/relations") => {
                json!({"type": "related", "related_issue_id": parent})
            }
            ("POST", "/comments") => json!({
                "issue_id": issue, "content": "Taken Over", "parent_comment_id": self.id("comment")
            }),
            ("POST", "/issues/{id}/comments") => {
                json!({"content": "Taken Over", "parent_comment_id": self.id("comment")})
            }
            ("PUT", "/comments/{id}") => json!({"content": "Taken Over"}),
            ("POST", "/cycles") => json!({
                "team_id": team, "name": "Taken Over", "start_date": "2031-01-01",
                "end_date": "2031-01-10"
            }),
            ("PUT", "/cycles/{id}") => json!({"name": "Taken Over"}),
            ("POST" | "DELETE", "/cycles/{id}/issues") => json!({"issue_ids": [issue]}),
            ("POST", "/ws/send") => {
                json!({"to_user_id": self.id("user"), "message_type": "text", "data": {}})
            }
            ("POST", "/ws/broadcast") => json!({
                "message_type": "text", "data": {}, "workspace_id": self.workspace_id
            }),
            _ => return op.body.as_ref().map(|_| json!({})),
        };
        Some(body)
    }
}

/// Registers `name` and gives their workspace one of every kind of object, through HTTP.
async fn populate(
    app: &TestApp,
    name: &str,
    member: &str,
    marker: &'static str,
    keys: (&str, &str),
) -> Tenant {
    let (team_key, project_key) = keys;
    let owner = app.register(name).await;
    let workspace_id = s(&app.get_ok("/auth/profile", &owner).await["current_workspace_id"]);
    let team1 = id(&app.first_team(&owner).await);
    let team2 = id(&app
        .create_team(&owner, &format!("{marker} ops"), team_key)
        .await);
    // A second member, invited and in the second team.
    let member = app.join_workspace(&owner, member, "member").await;
    app.post_ok(
        &format!("/teams/{team2}/members"),
        json!({"user_id": member.id, "role": "member"}),
        &owner,
    )
    .await;
    // A workflow with a state and transition rules.
    let flow = id(&app
        .post_ok(
            &format!("/teams/{team2}/workflows"),
            json!({"name": format!("{marker} flow"), "description": marker}),
            &owner,
        )
        .await);
    let review = id(&app
        .post_ok(
            &format!("/workflows/{flow}/states"),
            json!({"name": format!("{marker} review"), "category": "started", "color": "#123456"}),
            &owner,
        )
        .await);
    app.put(
        &format!("/workflows/{flow}/transitions"),
        json!({"transitions": [
            {"from_state_id": null, "to_state_id": review},
            {"from_state_id": review, "to_state_id": review, "roles": ["owner", "admin"]}
        ]}),
        owner.t(),
    )
    .await
    .ok();
    // A project status, a project, a label.
    let status = id(&app
        .post_ok(
            "/project-statuses",
            json!({"name": format!("{marker} status"), "color": "#22AA22", "category": "planned"}),
            &owner,
        )
        .await);
    let project = id(&app
        .post_ok(
            "/projects",
            json!({"name": format!("{marker} project"), "project_key": project_key,
                   "project_status_id": status, "owner_id": member.id, "priority": "high",
                   "description": format!("{marker} plan"), "target_date": "2030-02-01"}),
            &owner,
        )
        .await);
    let label = id(&app
        .post_ok(
            "/labels",
            json!({"name": format!("{marker} label"), "color": "#AA0000", "level": "issue"}),
            &owner,
        )
        .await);
    let feature = app
        .get_ok("/labels", &owner)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "Feature")
        .map(id)
        .unwrap();
    // Issues: a parent, and a child with labels, project, assignee and a relation.
    let parent = app
        .post_ok(
            "/issues",
            json!({"title": format!("{marker} parent"), "team_id": team1, "description": marker}),
            &owner,
        )
        .await;
    let child = app
        .post_ok(
            "/issues",
            json!({"title": format!("{marker} child"), "team_id": team1,
                   "description": format!("{marker} details"), "priority": "high",
                   "assignee_id": member.id, "project_id": project, "parent_issue_id": id(&parent),
                   "label_ids": [label, feature], "estimate": 3, "due_date": "2030-01-10"}),
            &owner,
        )
        .await;
    let (parent_id, child_id) = (id(&parent), id(&child));
    let relation = id(&app
        .post_ok(
            &format!("/issues/{child_id}/relations"),
            json!({"type": "blocks", "related_issue_id": parent_id}),
            &owner,
        )
        .await);
    // A comment and a reply.
    let comment = id(&app
        .post_ok(
            "/comments",
            json!({"issue_id": child_id, "content": format!("{marker} comment")}),
            &owner,
        )
        .await);
    let reply = id(&app
        .post_ok(
            &format!("/issues/{child_id}/comments"),
            json!({"content": format!("{marker} reply"), "parent_comment_id": comment}),
            &member,
        )
        .await);
    // A cycle with the child in it.
    let cycle = id(&app
        .post_ok(
            "/cycles",
            json!({"team_id": team1, "name": format!("{marker} cycle"),
                   "start_date": CYCLE_START, "end_date": CYCLE_END, "goal": marker}),
            &owner,
        )
        .await);
    app.post_ok(
        &format!("/cycles/{cycle}/issues"),
        json!({"issue_ids": [child_id]}),
        &owner,
    )
    .await;
    // A pending invitation.
    let invitee = format!("{marker}-guest@example.com");
    let invited = app
        .post(
            "/invitations",
            json!({"emails": [invitee], "role": "guest"}),
            owner.t(),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let invitation = id(&invited.ok()[0]);

    // Every object of each kind, as the owner lists them (provisioned ones included), the
    // ones made above first.
    let first = |mine: &[String], all: Vec<String>| -> Vec<String> {
        let mut out = mine.to_vec();
        out.extend(all.into_iter().filter(|i| !mine.contains(i)));
        out
    };
    let all = |list: Value| -> Vec<String> { list.as_array().unwrap().iter().map(id).collect() };
    let states: Vec<String> = all(app
        .get_ok(&format!("/teams/{team1}/workflows/default/states"), &owner)
        .await);
    let workflows = app.get_ok("/workflows", &owner).await;
    let default1 = workflows
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["team_id"] == json!(team1) && w["is_default"] == json!(true))
        .map(id)
        .unwrap();
    let every_state: Vec<String> = workflows
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["states"].as_array().unwrap().iter().map(id))
        .collect();
    let mut ids: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    ids.insert("workspace", vec![workspace_id.clone()]);
    ids.insert("user", vec![owner.id.clone(), member.id.clone()]);
    ids.insert("team", vec![team1.clone(), team2]);
    ids.insert("workflow", first(&[default1], all(workflows.clone())));
    ids.insert("state", first(&states, every_state));
    ids.insert(
        "project_status",
        first(
            &[status],
            all(app.get_ok("/project-statuses", &owner).await),
        ),
    );
    ids.insert("project", vec![project]);
    ids.insert(
        "label",
        first(&[label], all(app.get_ok("/labels", &owner).await)),
    );
    ids.insert("issue", vec![child_id, parent_id]);
    ids.insert("relation", vec![relation]);
    ids.insert("comment", vec![comment, reply]);
    ids.insert("cycle", vec![cycle]);
    ids.insert(
        "invitation",
        first(&[invitation], all(app.get_ok("/invitations", &owner).await)),
    );
    assert!(ids["state"].len() >= 13, "{:?}", ids["state"]);
    assert!(ids["label"].len() >= 4 && ids["invitation"].len() >= 2);
    Tenant {
        keys: vec![s(&child["key"]), s(&parent["key"])],
        owner,
        member,
        marker,
        workspace_id,
        ids,
        states,
        invitee,
        secrets: BTreeSet::new(),
    }
}

/// Everything the tenant's owner can read, by path: every GET route of the document with
/// every id of the tenant, plus the lists with their filters.
async fn snapshot(app: &TestApp, ops: &[Op], t: &Tenant) -> BTreeMap<String, Value> {
    let mut paths = Vec::new();
    for op in ops.iter().filter(|o| o.method == Method::GET) {
        let lists: Vec<Vec<String>> = op
            .params
            .iter()
            .map(|p| t.values(param_kind(&op.template, p), true))
            .collect();
        for values in cartesian(&lists) {
            paths.push(fill(&op.template, &op.params, &values));
        }
    }
    for issue in t.values("issue", true) {
        paths.push(format!("/comments?issue_id={issue}"));
    }
    for team in &t.ids["team"] {
        paths.push(format!("/cycles?team_id={team}"));
        paths.push(format!("/workflows?team_id={team}"));
        paths.push(format!("/issues?team_id={team}&limit=100"));
    }
    paths.push("/sync/delta?after=0&limit=1000".into());
    paths.push("/issues?limit=100".into());
    paths.push("/projects?per_page=100".into());
    let mut out = BTreeMap::new();
    for path in paths {
        let r = app.get(&path, t.owner.t()).await;
        assert!(!r.status.is_server_error(), "GET {path}: {}", r.body);
        out.insert(
            path,
            json!({"status": r.status.as_u16(), "data": r.body["data"], "errors": r.body["errors"]}),
        );
    }
    out
}

/// Every UUID in `v`, lower-case.
fn uuids_in(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if s.len() == 36 && Uuid::parse_str(s).is_ok() => {
            out.insert(s.to_lowercase());
        }
        Value::Array(a) => a.iter().for_each(|v| uuids_in(v, out)),
        Value::Object(o) => o.values().for_each(|v| uuids_in(v, out)),
        _ => {}
    }
}

fn secrets_of(t: &Tenant, snap: &BTreeMap<String, Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for v in snap.values() {
        uuids_in(v, &mut out);
    }
    for ids in t.ids.values() {
        out.extend(ids.iter().map(|i| i.to_lowercase()));
    }
    out.insert(t.owner.email.to_lowercase());
    out.insert(t.member.email.to_lowercase());
    out.insert(t.invitee.to_lowercase());
    out.insert(t.marker.to_lowercase());
    out
}

/// The differences between two snapshots.
fn diff(
    who: &str,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> Vec<String> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            format!(
                "{who}'s GET {k} changed:\n  before {}\n  after  {}",
                before.get(k).unwrap_or(&Value::Null),
                after.get(k).unwrap_or(&Value::Null)
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The walk.

/// `me` walks the routes with `them`'s ids, collecting findings.
struct Walk<'a> {
    app: &'a TestApp,
    doc: &'a Value,
    me: &'a Tenant,
    them: &'a Tenant,
    findings: Vec<String>,
    touched: BTreeSet<String>,
    requests: usize,
}

impl<'a> Walk<'a> {
    fn new(app: &'a TestApp, doc: &'a Value, me: &'a Tenant, them: &'a Tenant) -> Self {
        Walk {
            app,
            doc,
            me,
            them,
            findings: Vec::new(),
            touched: BTreeSet::new(),
            requests: 0,
        }
    }

    /// Sends one request as `me`'s owner (or with `token`); records 5xx answers and any of
    /// `them`'s secrets in the answer that the request did not itself carry.
    async fn send(
        &mut self,
        op: &Op,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Resp {
        let token = token.or(self.me.owner.t());
        let r = self
            .app
            .call(op.method.clone(), path, token, body.clone())
            .await;
        self.requests += 1;
        self.touched.insert(op.key());
        let what = format!(
            "{} {path} {}",
            op.method,
            body.as_ref().map(Value::to_string).unwrap_or_default()
        );
        if r.status.is_server_error() {
            self.findings
                .push(format!("{what}\n  -> {} {}", r.status, r.body));
        }
        let sent = what.to_lowercase();
        let mut text = r.body.to_string().to_lowercase();
        for (k, v) in &r.headers {
            text.push_str(&format!(
                " {k}: {}",
                v.to_str().unwrap_or("").to_lowercase()
            ));
        }
        let leaked: Vec<&String> = self
            .them
            .secrets
            .iter()
            .filter(|s| !sent.contains(s.as_str()) && text.contains(s.as_str()))
            .collect();
        if !leaked.is_empty() {
            self.findings.push(format!(
                "{what}\n  -> reveals {leaked:?}: {} {}",
                r.status, r.body
            ));
        }
        r
    }

    /// Compares an attempt with the other tenant's id to the same request with a random id.
    fn same_as_random(&mut self, what: &str, r: &Resp, baseline: &Resp) {
        if r.status.is_success() {
            self.findings
                .push(format!("{what}\n  -> {} {}", r.status, r.body));
        } else if outcome(r) != outcome(baseline) {
            self.findings.push(format!(
                "{what}\n  -> {}\n  but a random id -> {}",
                outcome(r),
                outcome(baseline)
            ));
        }
    }

    /// Every phase over `ops`.
    async fn run(&mut self, ops: &[Op]) -> [usize; 4] {
        let mut counts = [0; 4];
        let start = self.requests;
        for op in ops {
            self.paths(op).await;
        }
        counts[0] = self.requests - start;
        for op in ops {
            self.bodies(op).await;
        }
        counts[1] = self.requests - start - counts[0];
        for op in ops {
            self.queries(op).await;
        }
        counts[2] = self.requests - start - counts[0] - counts[1];
        for op in ops {
            self.plain(op).await;
        }
        counts[3] = self.requests - start - counts[0] - counts[1] - counts[2];
        counts
    }

    /// Path parameters: every non-empty set of them gets `them`'s ids (every id of the kind),
    /// the others `me`'s own; the answer must equal the one for random ids in the same places,
    /// a 404. GET routes are also read on `me`'s own objects (and must reveal nothing).
    async fn paths(&mut self, op: &Op) {
        if op.params.is_empty() {
            return;
        }
        let kinds: Vec<&'static str> = op
            .params
            .iter()
            .map(|p| param_kind(&op.template, p))
            .collect();
        let mine: Vec<String> = kinds.iter().map(|k| self.me.id(k)).collect();
        let body = self.me.template(op);
        if op.method == Method::GET {
            let path = fill(&op.template, &op.params, &mine);
            self.send(op, &path, None, None).await;
        }
        for mask in 1u32..(1 << op.params.len()) {
            let foreign = |i: usize| mask & (1 << i) != 0;
            let random_values: Vec<String> = (0..op.params.len())
                .map(|i| {
                    if foreign(i) {
                        random()
                    } else {
                        mine[i].clone()
                    }
                })
                .collect();
            let path = fill(&op.template, &op.params, &random_values);
            let baseline = self.send(op, &path, body.clone(), None).await;
            if baseline.status != 404 {
                self.findings.push(format!(
                    "{} {path}: a random id answers {} (not 404): {}",
                    op.method, baseline.status, baseline.body
                ));
            }
            let lists: Vec<Vec<String>> = (0..op.params.len())
                .map(|i| {
                    if foreign(i) {
                        self.them.values(kinds[i], true)
                    } else {
                        vec![mine[i].clone()]
                    }
                })
                .collect();
            for values in cartesian(&lists) {
                let path = fill(&op.template, &op.params, &values);
                let r = self.send(op, &path, body.clone(), None).await;
                let what = format!("{} {path} (other tenant's id)", op.method);
                self.same_as_random(&what, &r, &baseline);
            }
        }
    }

    /// Body fields that take ids: each gets `them`'s ids (the rest of the body valid for
    /// `me`, path parameters `me`'s own); 422 naming the field, like a random id.
    async fn bodies(&mut self, op: &Op) {
        let fields = ref_fields(self.doc, op);
        if fields.is_empty() {
            return;
        }
        let mine: Vec<String> = op
            .params
            .iter()
            .map(|p| self.me.id(param_kind(&op.template, p)))
            .collect();
        let path = fill(&op.template, &op.params, &mine);
        let template = self.me.template(op).unwrap_or_else(|| json!({}));
        for f in fields {
            let name = f.name();
            let mut body = template.clone();
            set_at(&mut body, &f.at, &random(), f.list);
            let baseline = self.send(op, &path, Some(body), None).await;
            let named = baseline.body["errors"].as_array().is_some_and(|es| {
                es.iter()
                    .any(|e| e["field"].as_str().is_some_and(|x| x.starts_with(&name)))
            });
            if baseline.status != 422 || !named {
                self.findings.push(format!(
                    "{} {path} with a random {name}: {} {} (expected 422 naming {name})",
                    op.method, baseline.status, baseline.body
                ));
            }
            for v in self.them.values(f.kind, false) {
                let mut body = template.clone();
                set_at(&mut body, &f.at, &v, f.list);
                let what = format!("{} {path} {body} (other tenant's {name})", op.method);
                let r = self.send(op, &path, Some(body), None).await;
                self.same_as_random(&what, &r, &baseline);
            }
        }
    }

    /// Query parameters that take ids (and `search`, with the other tenant's marker): the
    /// answer equals the one for a random id (an empty list, or the same error).
    async fn queries(&mut self, op: &Op) {
        if op.query.is_empty() {
            return;
        }
        // Query strings stand for the body only where there is none to send.
        let body = match op.method {
            Method::GET | Method::DELETE => None,
            _ => self.me.template(op),
        };
        let mine: Vec<String> = op
            .params
            .iter()
            .map(|p| self.me.id(param_kind(&op.template, p)))
            .collect();
        let path = fill(&op.template, &op.params, &mine);
        for q in &op.query {
            let (values, baseline_value) = if q == "search" {
                (
                    vec![self.them.marker.to_string()],
                    "nothing-like-this".to_string(),
                )
            } else {
                match kind_of_name(q) {
                    Some(kind) => (self.them.values(kind, false), random()),
                    None => continue,
                }
            };
            let baseline = self
                .send(
                    op,
                    &format!("{path}?{q}={baseline_value}"),
                    body.clone(),
                    None,
                )
                .await;
            for v in values {
                let p = format!("{path}?{q}={v}");
                let r = self.send(op, &p, body.clone(), None).await;
                if op.method != Method::GET && r.status.is_success() {
                    self.findings.push(format!(
                        "{} {p} (other tenant's {q})\n  -> {} {}",
                        op.method, r.status, r.body
                    ));
                } else if outcome(&r) != outcome(&baseline) {
                    self.findings.push(format!(
                        "{} {p} (other tenant's {q})\n  -> {}\n  but a random one -> {}",
                        op.method,
                        outcome(&r),
                        outcome(&baseline)
                    ));
                }
            }
        }
    }

    /// Routes without path parameters or id fields (lists, creates, the account's own
    /// routes): sent once with `me`'s body; they must reveal nothing of `them`.
    async fn plain(&mut self, op: &Op) {
        if !op.params.is_empty() || !ref_fields(self.doc, op).is_empty() {
            return;
        }
        if op.template == "/auth/logout" {
            // On a session of its own, so the walk keeps its token.
            let spare = self.app.login(&self.me.owner).await;
            let r = self
                .send(op, &op.template, self.me.template(op), spare.t())
                .await;
            assert!(r.status.is_success(), "{}", r.body);
            return;
        }
        let mut paths = vec![op.template.clone()];
        if op.method == Method::GET {
            match op.template.as_str() {
                "/comments" => {
                    paths = self.me.ids["issue"]
                        .iter()
                        .map(|i| format!("/comments?issue_id={i}"))
                        .collect();
                }
                "/sync/delta" => paths.push("/sync/delta?after=0&limit=1000".into()),
                "/issues" => paths.push("/issues?limit=100".into()),
                "/projects" => paths.push("/projects?per_page=100".into()),
                _ => {}
            }
        }
        for path in paths {
            self.send(op, &path, self.me.template(op), None).await;
        }
    }
}

/// Names and keys are unique per workspace only: `me` can take `them`'s team key, label,
/// project status and project key (no 409 telling that they exist elsewhere), and an issue
/// key `me` then gets (`ALI-1`) finds `me`'s issue, while `them` still find theirs.
async fn reuse_names(app: &TestApp, me: &Tenant, them: &Tenant, project_key: &str) -> Vec<String> {
    let team_key = them.keys[1].split('-').next().unwrap().to_string();
    let tries = [
        (
            "/teams",
            json!({"name": format!("{} again", them.marker), "team_key": team_key}),
        ),
        (
            "/labels",
            json!({"name": format!("{} label", them.marker), "color": "#AA0000"}),
        ),
        (
            "/project-statuses",
            json!({"name": format!("{} status", them.marker), "color": "#22AA22", "category": "planned"}),
        ),
        (
            "/projects",
            json!({"name": format!("{} project", them.marker), "project_key": project_key}),
        ),
        // Their pending invitee and their member are nobody here.
        (
            "/invitations",
            json!({"emails": [them.invitee, them.member.email], "role": "member"}),
        ),
    ];
    let mut findings = Vec::new();
    let mut team = None;
    for (path, body) in tries {
        let r = app.post(path, body.clone(), me.owner.t()).await;
        if r.status != 201 {
            findings.push(format!(
                "POST {path} {body} (other tenant's name): {} {}",
                r.status, r.body
            ));
        } else if path == "/teams" {
            team = Some(id(&r.ok()));
        }
    }
    let Some(team) = team else {
        return findings;
    };
    // `them.keys[1]` is their first issue (`ALI-1`); `me`'s first issue in the same-keyed
    // team gets the same key.
    let key = them.keys[1].clone();
    app.get(&format!("/issues/{key}"), me.owner.t())
        .await
        .err(404, "NOT_FOUND");
    let mine = app.create_issue(&me.owner, &team, "same key").await;
    assert_eq!(mine["key"], json!(key));
    assert_eq!(app.get_issue(&me.owner, &key).await["id"], mine["id"]);
    assert_eq!(
        app.get_issue(&them.owner, &key).await["id"],
        json!(them.ids["issue"][1])
    );
    findings
}

async fn two_tenants_cannot_reach_each_other(b: Backend) {
    let app = TestApp::with(b, NO_RATE_LIMIT).await;
    let (doc, ops) = momentum_ops(&app).await;
    assert!(
        ops.len() >= 90,
        "only {} Momentum operations in /openapi.json",
        ops.len()
    );
    let mut a = populate(&app, "alice", "amy", "qxalpha", ("AOPS", "APRJ")).await;
    let mut bob = populate(&app, "bob", "bert", "qzbeta", ("BOPS", "BPRJ")).await;
    assert_ne!(a.keys[0].split('-').next(), bob.keys[0].split('-').next());

    let a_before = snapshot(&app, &ops, &a).await;
    let b_start = snapshot(&app, &ops, &bob).await;
    a.secrets = secrets_of(&a, &a_before);
    bob.secrets = secrets_of(&bob, &b_start);
    assert!(a.secrets.is_disjoint(&bob.secrets));

    // B walks every route with A's ids.
    let mut w = Walk::new(&app, &doc, &bob, &a);
    let [in_paths, in_bodies, in_queries, plain] = w.run(&ops).await;
    let mut findings = std::mem::take(&mut w.findings);
    let all: BTreeSet<String> = ops.iter().map(Op::key).collect();
    let missed: Vec<&String> = all.difference(&w.touched).collect();
    assert!(
        missed.is_empty(),
        "routes the walk did not reach: {missed:?}"
    );
    eprintln!(
        "tenants: {} Momentum routes walked with {} requests ({in_paths} with the other \
         tenant's ids in paths, {in_bodies} in bodies, {in_queries} in query strings, \
         {plain} lists and account routes); A's snapshot: {} reads",
        ops.len(),
        w.requests,
        a_before.len()
    );
    findings.extend(reuse_names(&app, &bob, &a, "APRJ").await);

    // A's objects are all there, unchanged.
    let a_after = snapshot(&app, &ops, &a).await;
    findings.extend(diff("A", &a_before, &a_after));

    // The reverse direction, for a sample: A walks the issue, label, project and comment
    // routes with B's ids.
    let b_before = snapshot(&app, &ops, &bob).await;
    let sample: Vec<Op> = ops
        .iter()
        .filter(|o| {
            ["/issues", "/labels", "/projects", "/comments"]
                .iter()
                .any(|p| o.template.starts_with(p))
        })
        .cloned()
        .collect();
    assert!(sample.len() >= 20);
    let mut w = Walk::new(&app, &doc, &a, &bob);
    w.run(&sample).await;
    findings.extend(std::mem::take(&mut w.findings));
    let b_after = snapshot(&app, &ops, &bob).await;
    findings.extend(diff("B", &b_before, &b_after));

    findings.extend(removed_member_loses_access(&app, &ops, &a).await);
    assert!(
        findings.is_empty(),
        "{} findings:\n{}",
        findings.len(),
        findings.join("\n")
    );
}

/// A's member is removed from A: their next request cannot see A's issue (404, like a random
/// id), they work in their own workspace again, and nothing of A's shows in their lists.
async fn removed_member_loses_access(app: &TestApp, ops: &[Op], a: &Tenant) -> Vec<String> {
    let m = &a.member;
    let issue = a.id("issue");
    let mut findings = Vec::new();
    let own: Vec<String> = app
        .get_ok("/workspaces", m)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .filter(|w| *w != a.workspace_id)
        .collect();
    assert_eq!(own.len(), 1);
    assert_eq!(
        app.get_ok("/workspaces/current", m).await["id"],
        json!(a.workspace_id)
    );
    assert_eq!(app.get_issue(m, &issue).await["id"], json!(issue));
    let addressed_to_them: Vec<String> = app
        .get_ok("/invitations", m)
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["email"] == json!(m.email) && i["workspace_id"] == json!(a.workspace_id))
        .map(id)
        .collect();
    assert_eq!(addressed_to_them.len(), 1);

    // Removed while their requests are in flight: none of the reads that started before the
    // removal may outlive it (a membership cached from such a read would keep the door open).
    let read = format!("/issues/{issue}");
    let reads = (0..40).map(|_| app.get(&read, m.t()));
    let membership = format!("/workspaces/{}/members/{}", a.workspace_id, m.id);
    let removal = app.delete(&membership, a.owner.t());
    let (removed, _) = tokio::join!(removal, futures::future::join_all(reads));
    removed.ok();
    let gone = app.get(&format!("/issues/{issue}"), m.t()).await;
    let missing = app.get(&format!("/issues/{}", random()), m.t()).await;
    gone.err(404, "NOT_FOUND");
    assert_eq!(outcome(&gone), outcome(&missing));
    let r = app
        .put(
            &format!("/issues/{issue}"),
            json!({"title": "still mine?"}),
            m.t(),
        )
        .await;
    r.err(404, "NOT_FOUND");
    app.get(&format!("/workspaces/{}", a.workspace_id), m.t())
        .await
        .err(404, "NOT_FOUND");
    let r = app
        .post(
            "/issues",
            json!({"title": "x", "team_id": a.id("team")}),
            m.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "team_id", "{}", r.body);
    // Every read of A's objects answers like a random id; the invitation they accepted
    // stays theirs to read (it was addressed to them).
    for op in ops
        .iter()
        .filter(|o| o.method == Method::GET && !o.params.is_empty())
    {
        let kinds: Vec<&str> = op
            .params
            .iter()
            .map(|p| param_kind(&op.template, p))
            .collect();
        let randoms: Vec<String> = kinds.iter().map(|_| random()).collect();
        let baseline = app
            .get(&fill(&op.template, &op.params, &randoms), m.t())
            .await;
        let lists: Vec<Vec<String>> = kinds
            .iter()
            .map(|k| {
                let mut v = a.values(k, true);
                v.retain(|i| !addressed_to_them.contains(i));
                v
            })
            .collect();
        for values in cartesian(&lists) {
            let path = fill(&op.template, &op.params, &values);
            let r = app.get(&path, m.t()).await;
            if r.status.is_success() || outcome(&r) != outcome(&baseline) {
                findings.push(format!(
                    "removed member's GET {path} -> {}\n  but a random id -> {}",
                    outcome(&r),
                    outcome(&baseline)
                ));
            }
        }
    }
    // Back in their own workspace, which works.
    assert_eq!(
        app.get_ok("/workspaces/current", m).await["id"],
        json!(own[0])
    );
    let team = id(&app.first_team(m).await);
    app.create_issue(m, &team, "back home").await;
    // Nothing of A's in what they can list (their own id and e-mail aside).
    let theirs: BTreeSet<String> = [m.id.to_lowercase(), m.email.to_lowercase()].into();
    for path in [
        "/issues?limit=100",
        "/teams",
        "/user/teams",
        "/labels",
        "/projects",
        "/project-statuses",
        "/workflows",
        "/cycles",
        "/workspaces",
        "/workspace-members",
        "/workspace-member-and-invitations",
        "/sync/delta?after=0&limit=1000",
        "/auth/profile",
    ] {
        let r = app.get(path, m.t()).await;
        let text = r.body.to_string().to_lowercase();
        let leaked: Vec<&String> = a
            .secrets
            .iter()
            .filter(|s| !theirs.contains(*s) && text.contains(s.as_str()))
            .collect();
        if !r.status.is_success() || !leaked.is_empty() {
            findings.push(format!(
                "removed member's GET {path} -> {} reveals {leaked:?}: {}",
                r.status, r.body
            ));
        }
    }
    findings
}

/// Registration alone makes a working space: with only the token, the first requests create
/// a project, issues (with the provisioned labels), a label, a comment and a cycle, and the
/// issue's key finds it.
async fn first_login_is_usable_without_setup(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app
        .post(
            "/auth/register",
            json!({"email": "dora@example.com", "username": "dora", "name": "Dora",
                   "password": crate::harness::PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let token = s(&r.ok()["access_token"]);
    let t = Some(token.as_str());
    let created = |r: Resp| {
        assert_eq!(r.status, 201, "{}", r.body);
        r.ok()
    };

    let teams = app.get("/teams", t).await.ok();
    assert_eq!(teams.as_array().unwrap().len(), 1, "{teams}");
    let team = id(&teams[0]);
    let project = created(
        app.post(
            "/projects",
            json!({"name": "Launch", "project_key": "LAUNCH"}),
            t,
        )
        .await,
    );
    assert_eq!(project["project_key"], "LAUNCH");
    let issue = created(
        app.post(
            "/issues",
            json!({"title": "First issue", "team_id": team}),
            t,
        )
        .await,
    );
    let key = s(&issue["key"]);
    assert!(key.ends_with("-1"), "{key}");
    assert_eq!(issue["state"]["name"], "Backlog", "{issue}");
    let label = created(
        app.post("/labels", json!({"name": "Urgent", "color": "#FF0000"}), t)
            .await,
    );
    let bug = app
        .get("/labels", t)
        .await
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "Bug")
        .map(id)
        .unwrap();
    let second = created(
        app.post(
            "/issues",
            json!({"title": "Second", "team_id": team, "project_id": id(&project),
                   "label_ids": [id(&label), bug], "priority": "urgent"}),
            t,
        )
        .await,
    );
    assert!(s(&second["key"]).ends_with("-2"), "{second}");
    assert_eq!(second["labels"].as_array().unwrap().len(), 2, "{second}");
    let comment = created(
        app.post(
            "/comments",
            json!({"issue_id": id(&issue), "content": "Looks **good**"}),
            t,
        )
        .await,
    );
    assert_eq!(comment["issue_id"], issue["id"]);
    let cycle = created(
        app.post(
            "/cycles",
            json!({"team_id": team, "name": "Sprint 1", "start_date": CYCLE_START,
                   "end_date": CYCLE_END}),
            t,
        )
        .await,
    );
    app.post(
        &format!("/cycles/{}/issues", id(&cycle)),
        json!({"issue_ids": [id(&issue)]}),
        t,
    )
    .await
    .ok();
    // The key finds the issue, in any case.
    for k in [key.clone(), key.to_lowercase()] {
        let found = app.get(&format!("/issues/{k}"), t).await.ok();
        assert_eq!(found["id"], issue["id"], "{found}");
        assert_eq!(found["cycle_id"], cycle["id"], "{found}");
    }
    let statuses = app.get("/project-statuses", t).await.ok();
    assert_eq!(statuses.as_array().unwrap().len(), 5, "{statuses}");
}

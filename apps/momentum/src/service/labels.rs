//! Labels (seed 002 "标签管理", issue 8 "Labels"): list, create, get, update, delete, and an
//! atomic batch. Names are 1–50 characters and unique in the workspace (409
//! `LABEL_EXISTS`), colors `#RRGGBB`, levels `issue|project` (the original's clients send
//! `"Issue"`/`"Project"`, accepted too). Members and admins change labels, guests read.
//!
//! The batch checks every entry first and reports every failure under its list and index
//! (`create[2].color`, `update[0].id`, `delete[1]`), including names that clash with the
//! workspace's labels or with each other once the whole batch is applied; then it applies
//! everything in one transaction with one change-log entry per object. When the only
//! failures are name clashes the answer is 409 `LABEL_EXISTS` listing the clashing entries;
//! with any other failure it is a 422 listing all of them (clashes as `label_exists`).

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trellis_kernel::ApiError;
use trellis_kernel::db::StoreError;
use trellis_kernel::error::FieldError;
use uuid::Uuid;

use super::{Action, Scope, log_change, stamp};
use crate::domain::{Check, LabelLevel};
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::labels::{self, Label};

/// Longest label name.
pub const NAME_MAX: usize = 50;
/// Most entries in each list of a batch.
pub const BATCH_MAX: usize = 100;
/// Longest `search`.
pub const SEARCH_MAX: usize = 100;

/// `POST /labels`, and each `create` entry of a batch.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumLabelCreate)]
pub struct NewLabel {
    /// 1–50 characters, unique in the workspace.
    #[schema(required = true, value_type = String, max_length = 50, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
    /// `#RRGGBB`.
    #[schema(required = true, value_type = String, pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<String>,
    /// `issue` (default) or `project`, any case (`"Issue"` as the original's clients send).
    #[schema(pattern = "^([Ii][Ss][Ss][Uu][Ee]|[Pp][Rr][Oo][Jj][Ee][Cc][Tt])$")]
    pub level: Option<String>,
}

/// `PUT /labels/{id}`: absent fields stay.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumLabelUpdate)]
pub struct LabelChange {
    /// 1–50 characters, unique in the workspace.
    #[schema(
        max_length = 50,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// `#RRGGBB`.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<String>,
    /// `issue` or `project`, any case.
    #[schema(pattern = "^([Ii][Ss][Ss][Uu][Ee]|[Pp][Rr][Oo][Jj][Ee][Cc][Tt])$")]
    pub level: Option<String>,
}

/// One `update` entry of a batch: the label's id and the fields to change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumLabelBatchUpdate)]
pub struct BatchUpdate {
    /// The label (of the caller's workspace).
    #[schema(required = true, value_type = String, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub id: Option<String>,
    /// New name.
    #[serde(flatten)]
    pub change: LabelChange,
}

/// `POST /labels/batch`: everything is applied, or nothing.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumLabelBatch)]
pub struct Batch {
    /// Labels to create (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub create: Vec<NewLabel>,
    /// Labels to change (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub update: Vec<BatchUpdate>,
    /// Ids of labels to delete (at most 100).
    #[serde(default)]
    #[schema(max_items = 100, value_type = Vec<uuid::Uuid>)]
    pub delete: Vec<String>,
}

/// What a batch did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumLabelBatchResult)]
pub struct BatchDone {
    /// The new labels, in `create` order.
    pub created: Vec<Label>,
    /// The changed labels, in `update` order.
    pub updated: Vec<Label>,
    /// The deleted labels' ids, in `delete` order.
    pub deleted: Vec<Uuid>,
}

/// `GET /labels` filters.
#[derive(Debug, Default)]
pub struct LabelFilter {
    /// `issue` or `project`.
    pub level: Option<String>,
    /// Part of the name, any case.
    pub search: Option<String>,
}

fn exists_message(name: &str) -> String {
    format!("a label named {name:?} already exists in this workspace")
}

/// A unique-constraint race lost to another request: 409 `LABEL_EXISTS`.
fn clash(e: StoreError) -> MomentumError {
    if e.violates(labels::NAME_KEY) {
        MomentumError::conflict(
            "LABEL_EXISTS",
            "a label with this name already exists in this workspace",
        )
    } else {
        e.into()
    }
}

/// The name, color and level of a new label, checked under `prefix` (`""`, `create[2].`).
fn check_new(c: &mut Check, prefix: &str, b: &NewLabel) -> Option<(String, String, LabelLevel)> {
    let f = |name: &str| format!("{prefix}{name}");
    let name = c
        .required(&f("name"), b.name.as_deref())
        .and_then(|v| c.text(&f("name"), v, 1, NAME_MAX));
    let color = c
        .required(&f("color"), b.color.as_deref())
        .and_then(|v| c.color(&f("color"), v));
    let level = match b.level.as_deref() {
        None => Some(LabelLevel::Issue),
        Some(v) => c.one_of(&f("level"), v, LabelLevel::parse, LabelLevel::names),
    };
    Some((name?, color?, level?))
}

/// The checked fields of a change (each `None` when absent or invalid).
struct Checked {
    name: Option<String>,
    color: Option<String>,
    level: Option<LabelLevel>,
}

fn check_change(c: &mut Check, prefix: &str, b: &LabelChange) -> Checked {
    let f = |name: &str| format!("{prefix}{name}");
    Checked {
        name: b
            .name
            .as_deref()
            .and_then(|v| c.text(&f("name"), v, 1, NAME_MAX)),
        color: b.color.as_deref().and_then(|v| c.color(&f("color"), v)),
        level: b
            .level
            .as_deref()
            .and_then(|v| c.one_of(&f("level"), v, LabelLevel::parse, LabelLevel::names)),
    }
}

impl Checked {
    fn apply(self, l: &mut Label) {
        if let Some(n) = self.name {
            l.name = n;
        }
        if let Some(c) = self.color {
            l.color = c;
        }
        if let Some(v) = self.level {
            l.level = v;
        }
    }
}

/// Name order: ignoring case, then exactly (the same on every database collation).
fn by_name(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
        .then_with(|| a.cmp(b))
}

/// The workspace's labels by name, optionally of one level and matching `search`.
pub async fn list(
    st: &MomentumState,
    scope: &Scope,
    f: &LabelFilter,
) -> Result<Vec<Label>, MomentumError> {
    let mut c = Check::new();
    let level = f
        .level
        .as_deref()
        .filter(|v| !v.is_empty())
        .and_then(|v| c.one_of("level", v, LabelLevel::parse, LabelLevel::names));
    let search = f
        .search
        .as_deref()
        .and_then(|v| c.text("search", v, 0, SEARCH_MAX))
        .filter(|v| !v.is_empty());
    c.finish()?;
    let mut items = labels::list(
        &st.platform.db,
        scope.workspace_id,
        level,
        search.as_deref(),
    )
    .await?;
    // Already in index order; made the same whatever the database's collation: by name
    // ignoring case, then exactly.
    items.sort_by(|a, b| by_name(&a.name, &b.name));
    Ok(items)
}

/// The label `id` (404 for another workspace's).
pub async fn get(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<Label, MomentumError> {
    labels::get(&st.platform.db, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("label"))
}

/// Creates a label.
pub async fn create(
    st: &MomentumState,
    scope: &Scope,
    b: &NewLabel,
) -> Result<Label, MomentumError> {
    scope.require_writer()?;
    let mut c = Check::new();
    let fields = check_new(&mut c, "", b);
    c.finish()?;
    let Some((name, color, level)) = fields else {
        return Err(MomentumError::field("body", "invalid", "invalid label"));
    };
    let l = Label {
        id: Uuid::now_v7(),
        workspace_id: scope.workspace_id,
        name,
        color,
        level,
        created_at: stamp(scope),
        updated_at: stamp(scope),
    };
    let mut tx = st.platform.db.begin().await?;
    labels::insert(&mut tx, &l).await.map_err(clash)?;
    log_change(&mut tx, scope, "label", l.id, Action::Create, &l).await?;
    tx.commit().await?;
    Ok(l)
}

/// Changes a label's name, color or level.
pub async fn update(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    b: &LabelChange,
) -> Result<Label, MomentumError> {
    let mut c = Check::new();
    let checked = check_change(&mut c, "", b);
    let mut tx = st.platform.db.begin().await?;
    // 404 for what the caller cannot see, then 403 for guests, then the fields.
    let mut l = labels::get_for_update(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("label"))?;
    scope.require_writer()?;
    c.finish()?;
    checked.apply(&mut l);
    l.updated_at = stamp(scope);
    labels::update(&mut tx, &l).await.map_err(clash)?;
    log_change(&mut tx, scope, "label", l.id, Action::Update, &l).await?;
    tx.commit().await?;
    Ok(l)
}

/// Deletes a label; its links to issues go with it.
pub async fn delete(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<(), MomentumError> {
    let mut tx = st.platform.db.begin().await?;
    let l = labels::get_for_update(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("label"))?;
    scope.require_writer()?;
    labels::delete(&mut tx, scope.workspace_id, id).await?;
    log_change(&mut tx, scope, "label", l.id, Action::Delete, &l).await?;
    tx.commit().await?;
    Ok(())
}

/// A `create` entry that passed the field checks.
struct Create {
    index: usize,
    name: String,
    color: String,
    level: LabelLevel,
}

/// An `update` entry whose id parsed.
struct Update {
    index: usize,
    id: Uuid,
    change: Checked,
}

/// Applies a batch atomically (see the module docs).
pub async fn batch(
    st: &MomentumState,
    scope: &Scope,
    b: &Batch,
) -> Result<BatchDone, MomentumError> {
    scope.require_writer()?;
    let mut c = Check::new();
    for (list, n) in [
        ("create", b.create.len()),
        ("update", b.update.len()),
        ("delete", b.delete.len()),
    ] {
        if n > BATCH_MAX {
            c.fail(
                list,
                "too_many",
                format!("at most {BATCH_MAX} entries per list"),
            );
        }
    }
    c.finish()?;

    // 1. Every entry's own fields.
    let mut c = Check::new();
    let mut creates = Vec::new();
    for (i, e) in b.create.iter().enumerate() {
        if let Some((name, color, level)) = check_new(&mut c, &format!("create[{i}]."), e) {
            creates.push(Create {
                index: i,
                name,
                color,
                level,
            });
        }
    }
    // Where each id appears first, to refuse an id named twice.
    let mut seen: HashMap<Uuid, String> = HashMap::new();
    let mut updates = Vec::new();
    for (i, e) in b.update.iter().enumerate() {
        let field = format!("update[{i}].id");
        let id = c
            .required(&field, e.id.as_deref())
            .and_then(|v| c.uuid(&field, v));
        let change = check_change(&mut c, &format!("update[{i}]."), &e.change);
        if let Some(id) = id {
            if let Some(first) = seen.get(&id) {
                c.fail(&field, "duplicate", format!("the label is also in {first}"));
            } else {
                seen.insert(id, format!("update[{i}]"));
                updates.push(Update {
                    index: i,
                    id,
                    change,
                });
            }
        }
    }
    let mut deletes = Vec::new();
    for (i, v) in b.delete.iter().enumerate() {
        let field = format!("delete[{i}]");
        if let Some(id) = c.uuid(&field, v) {
            if let Some(first) = seen.get(&id) {
                c.fail(&field, "duplicate", format!("the label is also in {first}"));
            } else {
                seen.insert(id, field);
                deletes.push((i, id));
            }
        }
    }

    // 2. Against the workspace, in the transaction that applies the batch.
    let mut tx = st.platform.db.begin().await?;
    let existing: HashMap<Uuid, Label> = labels::all_in(&mut tx, scope.workspace_id)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    updates.retain(|u| {
        let known = existing.contains_key(&u.id);
        if !known {
            c.fail(
                &format!("update[{}].id", u.index),
                "not_found",
                "label not found",
            );
        }
        known
    });
    deletes.retain(|(i, id)| {
        let known = existing.contains_key(id);
        if !known {
            c.fail(&format!("delete[{i}]"), "not_found", "label not found");
        }
        known
    });
    let clashes = name_clashes(&existing, &creates, &updates, &deletes);
    if !c.is_ok() || !clashes.is_empty() {
        return Err(batch_refusal(c, clashes));
    }

    // 3. Apply: deletes, renames (parked under placeholders first so names can swap),
    // updates, creates; then one change-log entry per object.
    let mut deleted = Vec::with_capacity(deletes.len());
    for (_, id) in &deletes {
        labels::delete(&mut tx, scope.workspace_id, *id).await?;
        deleted.push(*id);
    }
    for u in &updates {
        let renamed = u
            .change
            .name
            .as_ref()
            .is_some_and(|n| existing.get(&u.id).is_some_and(|l| &l.name != n));
        if renamed {
            // Control characters never pass the name check, so no label has this name.
            labels::rename(&mut tx, scope.workspace_id, u.id, &format!("\u{7}{}", u.id)).await?;
        }
    }
    let mut updated = Vec::with_capacity(updates.len());
    for u in updates {
        let Some(mut l) = existing.get(&u.id).cloned() else {
            continue;
        };
        u.change.apply(&mut l);
        l.updated_at = stamp(scope);
        labels::update(&mut tx, &l).await.map_err(clash)?;
        updated.push(l);
    }
    let mut created = Vec::with_capacity(creates.len());
    for e in creates {
        let l = Label {
            id: Uuid::now_v7(),
            workspace_id: scope.workspace_id,
            name: e.name,
            color: e.color,
            level: e.level,
            created_at: stamp(scope),
            updated_at: stamp(scope),
        };
        labels::insert(&mut tx, &l).await.map_err(clash)?;
        created.push(l);
    }
    for id in &deleted {
        if let Some(l) = existing.get(id) {
            log_change(&mut tx, scope, "label", *id, Action::Delete, l).await?;
        }
    }
    for l in &updated {
        log_change(&mut tx, scope, "label", l.id, Action::Update, l).await?;
    }
    for l in &created {
        log_change(&mut tx, scope, "label", l.id, Action::Create, l).await?;
    }
    tx.commit().await?;
    Ok(BatchDone {
        created,
        updated,
        deleted,
    })
}

/// Every entry whose name would be held by two labels once the batch is applied:
/// `(field, name, what already holds it)`.
fn name_clashes(
    existing: &HashMap<Uuid, Label>,
    creates: &[Create],
    updates: &[Update],
    deletes: &[(usize, Uuid)],
) -> Vec<(String, String, Option<String>)> {
    let deleted: HashSet<Uuid> = deletes.iter().map(|(_, id)| *id).collect();
    let renamed: HashSet<Uuid> = updates
        .iter()
        .filter(|u| {
            u.change
                .name
                .as_ref()
                .is_some_and(|n| existing.get(&u.id).is_some_and(|l| &l.name != n))
        })
        .map(|u| u.id)
        .collect();
    // Names held after the batch; `None` = a label that keeps its name.
    let mut held: HashMap<String, Option<String>> = existing
        .values()
        .filter(|l| !deleted.contains(&l.id) && !renamed.contains(&l.id))
        .map(|l| (l.name.clone(), None))
        .collect();
    let mut out = Vec::new();
    let wanted = updates
        .iter()
        .filter(|u| renamed.contains(&u.id))
        .filter_map(|u| {
            u.change
                .name
                .as_ref()
                .map(|n| (format!("update[{}]", u.index), n))
        })
        .chain(
            creates
                .iter()
                .map(|e| (format!("create[{}]", e.index), &e.name)),
        );
    for (entry, name) in wanted {
        match held.get(name) {
            Some(holder) => out.push((format!("{entry}.name"), name.clone(), holder.clone())),
            None => {
                held.insert(name.clone(), Some(entry));
            }
        }
    }
    out
}

/// The batch's refusal: 409 `LABEL_EXISTS` when names clash and nothing else is wrong,
/// else 422 listing every failure.
fn batch_refusal(c: Check, clashes: Vec<(String, String, Option<String>)>) -> MomentumError {
    let only_clashes = c.is_ok();
    let mut fields = match c.finish() {
        Err(e) => e.fields.unwrap_or_default(),
        Ok(()) => Vec::new(),
    };
    let code = if only_clashes {
        "LABEL_EXISTS"
    } else {
        "label_exists"
    };
    for (field, name, holder) in clashes {
        let message = match holder {
            None => exists_message(&name),
            Some(entry) => format!("{entry} already names a label {name:?}"),
        };
        fields.push(FieldError::new(field, code, message));
    }
    if only_clashes {
        let message = if fields.len() == 1 {
            fields[0].message.clone()
        } else {
            format!("{} label names are already used", fields.len())
        };
        MomentumError::Api(
            ApiError::new(StatusCode::CONFLICT, "LABEL_EXISTS", message).with_fields(fields),
        )
    } else {
        MomentumError::Fields(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str) -> Label {
        let now = chrono::Utc::now();
        Label {
            id: Uuid::now_v7(),
            workspace_id: Uuid::nil(),
            name: name.into(),
            color: "#000000".into(),
            level: LabelLevel::Issue,
            created_at: now,
            updated_at: now,
        }
    }

    fn rename(index: usize, id: Uuid, name: &str) -> Update {
        Update {
            index,
            id,
            change: Checked {
                name: Some(name.into()),
                color: None,
                level: None,
            },
        }
    }

    fn new(index: usize, name: &str) -> Create {
        Create {
            index,
            name: name.into(),
            color: "#000000".into(),
            level: LabelLevel::Issue,
        }
    }

    #[test]
    fn clashes_see_the_batch_as_a_whole() {
        let (a, b) = (label("A"), label("B"));
        let existing: HashMap<Uuid, Label> =
            [(a.id, a.clone()), (b.id, b.clone())].into_iter().collect();
        // Swapping two names is fine; so is reusing a deleted or renamed label's name.
        let swap = [rename(0, a.id, "B"), rename(1, b.id, "A")];
        assert!(name_clashes(&existing, &[], &swap, &[]).is_empty());
        assert!(name_clashes(&existing, &[new(0, "A")], &[], &[(0, a.id)]).is_empty());
        assert!(name_clashes(&existing, &[new(0, "A")], &[rename(0, a.id, "C")], &[]).is_empty());
        // Keeping one's own name is no clash.
        assert!(name_clashes(&existing, &[], &[rename(0, a.id, "A")], &[]).is_empty());
        // An existing name, and a name twice in the batch.
        let got = name_clashes(
            &existing,
            &[new(0, "B"), new(1, "X"), new(2, "X")],
            &[],
            &[],
        );
        let fields: Vec<&str> = got.iter().map(|(f, ..)| f.as_str()).collect();
        assert_eq!(fields, ["create[0].name", "create[2].name"]);
        assert_eq!(got[1].2.as_deref(), Some("create[1]"));
    }

    #[test]
    fn refusal_is_409_for_clashes_only_else_422() {
        let clashes = vec![("create[0].name".to_string(), "Bug".to_string(), None)];
        let e = ApiError::from(batch_refusal(Check::new(), clashes.clone()));
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.code, "LABEL_EXISTS");
        let mut c = Check::new();
        c.color("create[1].color", "red");
        let e = ApiError::from(batch_refusal(c, clashes));
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<String> = e.fields.unwrap().into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["create[1].color", "create[0].name"]);
    }
}

//! Reading a command's arguments: ids at the top of the command or in its `data`, bodies
//! as the REST bodies (a field of the wrong type named as REST names it), list filters as
//! query-string text, and the batch label lists; and renaming the fields a service error
//! names into the command's argument names.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::CommandError;
use crate::domain::Patch;
use crate::error::MomentumError;
use crate::service::labels::{BatchUpdate, NewLabel};

/// `create_workspace`'s `data` (REST `POST /workspaces`).
#[derive(Deserialize)]
pub(super) struct NewWorkspaceArgs {
    #[serde(default)]
    pub(super) name: String,
    pub(super) url_key: Option<String>,
    pub(super) logo_url: Option<String>,
}

/// `update_workspace`'s `data` (REST `PUT /workspaces/{id}`).
#[derive(Deserialize)]
pub(super) struct WorkspaceChangeArgs {
    pub(super) name: Option<String>,
    pub(super) url_key: Option<String>,
    #[serde(default)]
    pub(super) logo_url: Patch<String>,
}

/// `invite_workspace_member`'s `data`: the original's one `email`, or REST's `emails`.
#[derive(Deserialize)]
pub(super) struct InviteArgs {
    pub(super) email: Option<String>,
    pub(super) emails: Option<Vec<String>>,
    pub(super) role: Option<String>,
}

/// `update_profile`'s `data` (REST `PUT /auth/profile`).
#[derive(Deserialize)]
pub(super) struct ProfileArgs {
    pub(super) name: Option<String>,
    pub(super) username: Option<String>,
    pub(super) email: Option<String>,
    #[serde(default)]
    pub(super) avatar_url: Patch<String>,
}

/// A 422 `VALIDATION_ERROR` naming `field`, built as the services build theirs.
pub(super) fn refuse(field: &str, code: &'static str, message: impl Into<String>) -> CommandError {
    MomentumError::field(field, code, message).into()
}

/// A command's arguments.
pub(super) struct Args<'a>(pub(super) &'a Map<String, Value>);

impl Args<'_> {
    /// The argument `name`: at the top of the command, else inside `data` (the original
    /// puts ids at the top; some clients put them with the body).
    pub(super) fn lookup(&self, name: &str) -> Option<&Value> {
        match self.0.get(name) {
            Some(v) if !v.is_null() => Some(v),
            _ => self
                .0
                .get("data")
                .and_then(|d| d.get(name))
                .filter(|v| !v.is_null()),
        }
    }

    /// The UUID argument `name`, if given.
    pub(super) fn opt_id(&self, name: &str) -> Result<Option<Uuid>, CommandError> {
        match self.lookup(name) {
            None => Ok(None),
            Some(Value::String(s)) => Uuid::parse_str(s.trim())
                .map(Some)
                .map_err(|_| refuse(name, "invalid_uuid", "must be a UUID")),
            Some(_) => Err(refuse(name, "invalid_uuid", "must be a UUID")),
        }
    }

    /// The required UUID argument `name`.
    pub(super) fn id(&self, name: &str) -> Result<Uuid, CommandError> {
        self.opt_id(name)?
            .ok_or_else(|| refuse(name, "required", "is required"))
    }

    /// `member_user_id` (the original's name), or `user_id`.
    pub(super) fn member_id(&self) -> Result<Uuid, CommandError> {
        if self.lookup("member_user_id").is_none() && self.lookup("user_id").is_some() {
            return self.id("user_id");
        }
        self.id("member_user_id")
    }

    /// `status_id` (the original's name), or `project_status_id`.
    pub(super) fn status_id(&self) -> Result<Uuid, CommandError> {
        if self.lookup("status_id").is_none() && self.lookup("project_status_id").is_some() {
            return self.id("project_status_id");
        }
        self.id("status_id")
    }

    /// `issue_id`: a UUID or a key (`ENG-123`), as REST's path takes it.
    pub(super) fn issue_id(&self) -> Result<String, CommandError> {
        match self.lookup("issue_id") {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            None | Some(Value::String(_)) => Err(refuse("issue_id", "required", "is required")),
            Some(_) => Err(refuse("issue_id", "invalid", "must be an issue id or key")),
        }
    }

    /// `data` (absent or `null`: `{}`); anything but an object is `INVALID_COMMAND`.
    pub(super) fn data_value(&self) -> Result<Cow<'_, Value>, CommandError> {
        match self.0.get("data") {
            None | Some(Value::Null) => Ok(Cow::Owned(Value::Object(Map::new()))),
            Some(v @ Value::Object(_)) => Ok(Cow::Borrowed(v)),
            Some(_) => Err(CommandError::invalid(
                Some("data"),
                "`data` must be an object",
            )),
        }
    }

    /// `data` as the REST body `T`; fields are named as REST names them (`name`, not
    /// `data.name`).
    pub(super) fn data<T: DeserializeOwned>(&self) -> Result<T, CommandError> {
        let v = self.data_value()?;
        body(&v, None)
    }

    /// The list argument `name` (absent or `null`: empty).
    pub(super) fn list(&self, name: &str) -> Result<&[Value], CommandError> {
        match self.lookup(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(CommandError::invalid(
                Some(name),
                format!("`{name}` must be an array"),
            )),
        }
    }

    /// `batch_create_labels{data: [label…]}` as a batch's `create` list.
    pub(super) fn batch_create(&self) -> Result<Vec<NewLabel>, CommandError> {
        let items = match self.0.get("data") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(CommandError::invalid(
                    Some("data"),
                    "`data` must be an array",
                ));
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| body(v, Some(format!("data[{i}]").as_str())))
            .collect()
    }

    /// `batch_update_labels{updates: [{label_id, data}…]}` as a batch's `update` list (an
    /// entry may also be flat, `{label_id, name, …}`, or use REST's `id`).
    pub(super) fn batch_update(&self) -> Result<Vec<BatchUpdate>, CommandError> {
        let mut out = Vec::new();
        for (i, v) in self.list("updates")?.iter().enumerate() {
            let at = format!("updates[{i}]");
            let Some(entry) = v.as_object() else {
                return Err(refuse(&at, "invalid", "must be an object"));
            };
            let id = match entry.get("label_id").or_else(|| entry.get("id")) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                // Not a string: the service reports it as not a UUID.
                Some(other) => Some(other.to_string()),
            };
            let change = match entry.get("data") {
                None | Some(Value::Null) => body(v, Some(at.as_str()))?,
                Some(d @ Value::Object(_)) => body(d, Some(format!("{at}.data").as_str()))?,
                Some(_) => {
                    return Err(refuse(
                        &format!("{at}.data"),
                        "invalid",
                        "must be an object",
                    ));
                }
            };
            out.push(BatchUpdate { id, change });
        }
        Ok(out)
    }

    /// `batch_delete_labels{label_ids: [id…]}` as a batch's `delete` list.
    pub(super) fn batch_delete(&self) -> Result<Vec<String>, CommandError> {
        Ok(self
            .list("label_ids")?
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                // Not a string: the service reports it as not a UUID.
                other => other.to_string(),
            })
            .collect())
    }

    /// `filters` (else `data`; absent: none), as text values the way REST's query string
    /// gives them: `null` and blank strings are no filter, numbers and booleans their text.
    pub(super) fn filters(&self) -> Result<Filters, CommandError> {
        let source = match self.0.get("filters") {
            Some(Value::Object(m)) => Some(m),
            None | Some(Value::Null) => self.0.get("data").and_then(Value::as_object),
            Some(_) => {
                return Err(CommandError::invalid(
                    Some("filters"),
                    "`filters` must be an object",
                ));
            }
        };
        let mut out = BTreeMap::new();
        for (k, v) in source.into_iter().flatten() {
            let text = match v {
                Value::Null => continue,
                Value::String(s) if s.trim().is_empty() => continue,
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(refuse(k, "invalid", "must be a string"));
                }
            };
            out.insert(k.clone(), text);
        }
        Ok(Filters(out))
    }
}

/// A command's list filters, each taken once.
pub(super) struct Filters(pub(super) BTreeMap<String, String>);

impl Filters {
    pub(super) fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }
}

/// `v` as the body `T`. A value of the wrong type is a `VALIDATION_ERROR` naming the field,
/// as REST's JSON extractor names it: the key of `v` whose value alone fails (prefixed
/// `at.`), else `at` itself (or `data`).
pub(super) fn body<T: DeserializeOwned>(v: &Value, at: Option<&str>) -> Result<T, CommandError> {
    T::deserialize(v).map_err(|e| {
        // Serde's message has no path; find the key by trying each alone (failure path
        // only). "missing field" failures of a lone key say nothing about that key.
        let key = v.as_object().and_then(|m| {
            m.iter()
                .find(|(k, x)| {
                    let one = Value::Object(Map::from_iter([((*k).clone(), (*x).clone())]));
                    T::deserialize(&one).is_err_and(|e| !e.to_string().starts_with("missing field"))
                })
                .map(|(k, _)| k.as_str())
        });
        let field = match (at, key) {
            (Some(a), Some(k)) => format!("{a}.{k}"),
            (None, Some(k)) => k.to_string(),
            (Some(a), None) => a.to_string(),
            (None, None) => "data".to_string(),
        };
        refuse(&field, "invalid", e.to_string())
    })
}

/// `e` with the fields it names renamed by `rename` (in `field`, in `details` and at the
/// head of messages), and the list references of its messages rewritten by `tokens`: the
/// service names REST's shapes (`create[2].name`), the client sent the command's
/// (`data[2].name`).
pub(super) fn renamed(
    mut e: CommandError,
    rename: &dyn Fn(&str) -> Option<String>,
    tokens: &[(&str, &str)],
) -> CommandError {
    let retoken = |m: &str| {
        tokens
            .iter()
            .fold(m.to_string(), |m, (from, to)| m.replace(from, to))
    };
    let rehead = |m: &str, old: &str, new: &str| match m.strip_prefix(old) {
        Some(rest) if rest.starts_with(": ") => format!("{new}{rest}"),
        _ => m.to_string(),
    };
    if let Some(old) = e.field.take() {
        let new = rename(&old).unwrap_or_else(|| old.clone());
        e.message = rehead(&e.message, &old, &new);
        e.field = Some(new);
    }
    e.message = retoken(&e.message);
    if let Some(Value::Array(items)) = &mut e.details {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::String(f)) = item.get_mut("field")
                && let Some(new) = rename(f)
            {
                *f = new;
            }
            if let Some(Value::String(m)) = item.get_mut("message") {
                *m = retoken(m);
            }
        }
    }
    e
}

/// `create[i].x` → `data[i].x`, `create` → `data`.
pub(super) fn create_field(f: &str) -> Option<String> {
    f.strip_prefix("create").map(|rest| format!("data{rest}"))
}

/// `delete[i]` → `label_ids[i]`, `delete` → `label_ids`.
pub(super) fn delete_field(f: &str) -> Option<String> {
    f.strip_prefix("delete")
        .map(|rest| format!("label_ids{rest}"))
}

/// `update[i].id` → `updates[i].label_id`, `update[i].x` → `updates[i].data.x`,
/// `update` → `updates`.
pub(super) fn update_field(f: &str) -> Option<String> {
    let rest = f.strip_prefix("update")?;
    let Some(close) = rest.find(']') else {
        return Some(format!("updates{rest}"));
    };
    let (index, tail) = rest.split_at(close + 1);
    Some(match tail {
        "" => format!("updates{index}"),
        ".id" => format!("updates{index}.label_id"),
        t => format!("updates{index}.data{t}"),
    })
}

/// `emails[0]` and `emails` → `email` (the original's one-address form).
pub(super) fn email_field(f: &str) -> Option<String> {
    (f == "emails" || f.starts_with("emails[")).then(|| "email".to_string())
}

/// `search` → `name_pattern` (the original's name for the label search).
pub(super) fn pattern_field(f: &str) -> Option<String> {
    (f == "search").then(|| "name_pattern".to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::Check;
    use crate::service::labels::LabelChange;

    #[test]
    fn arguments_are_found_at_the_top_or_in_data() {
        let id = Uuid::now_v7();
        let top = json!({"label_id": id.to_string(), "data": {"name": "x"}});
        let inner = json!({"data": {"label_id": id.to_string(), "name": "x"}});
        for args in [top, inner] {
            let a = Args(args.as_object().unwrap());
            assert_eq!(a.id("label_id").unwrap(), id);
            let b: LabelChange = a.data().unwrap();
            assert_eq!(b.name.as_deref(), Some("x"));
        }
        let args = json!({"label_id": "nope", "team_id": 4, "data": [1]});
        let a = Args(args.as_object().unwrap());
        let e = a.id("label_id").unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("VALIDATION_ERROR", Some("label_id"))
        );
        assert_eq!(
            a.id("team_id").unwrap_err().field.as_deref(),
            Some("team_id")
        );
        let e = a.id("status_id").unwrap_err();
        assert_eq!(e.details.unwrap()[0]["code"], "required");
        let e = a.data::<LabelChange>().unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("INVALID_COMMAND", Some("data"))
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let args = json!({"data": {"name": "ok", "color": 5}});
        let e = Args(args.as_object().unwrap())
            .data::<NewLabel>()
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("VALIDATION_ERROR", Some("color"))
        );
        let items = json!([{"name": "a"}, {"name": ["b"]}]);
        let args = json!({"data": items});
        let e = Args(args.as_object().unwrap()).batch_create().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("data[1].name"));
        let args = json!({"data": [{"name": "a"}, "b"]});
        let e = Args(args.as_object().unwrap()).batch_create().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("data[1]"));
    }

    #[test]
    pub(super) fn batch_updates_take_both_shapes() {
        let args = json!({"updates": [
            {"label_id": "a", "data": {"name": "x"}},
            {"id": "b", "color": "#000000"},
            {"label_id": 7},
        ]});
        let u = Args(args.as_object().unwrap()).batch_update().unwrap();
        assert_eq!(u[0].id.as_deref(), Some("a"));
        assert_eq!(u[0].change.name.as_deref(), Some("x"));
        assert_eq!(u[1].id.as_deref(), Some("b"));
        assert_eq!(u[1].change.color.as_deref(), Some("#000000"));
        assert_eq!(u[2].id.as_deref(), Some("7"));
        let args = json!({"updates": {"label_id": "a"}});
        let e = Args(args.as_object().unwrap()).batch_update().unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("INVALID_COMMAND", Some("updates"))
        );
    }

    #[test]
    fn batch_errors_name_the_command_arguments() {
        let mut c = Check::new();
        c.fail("update[0].id", "not_found", "label not found");
        c.fail(
            "update[1].name",
            "too_long",
            "must be at most 50 characters",
        );
        c.fail(
            "update[2].id",
            "duplicate",
            "the label is also in update[0]",
        );
        let e = renamed(
            c.finish().unwrap_err().into(),
            &update_field,
            &[("update[", "updates[")],
        );
        assert_eq!(e.field.as_deref(), Some("updates[0].label_id"));
        let d = e.details.unwrap();
        assert_eq!(d[1]["field"], "updates[1].data.name");
        assert_eq!(d[2]["message"], "the label is also in updates[0]");
        let mut c = Check::new();
        c.fail("delete[3]", "invalid_uuid", "must be a UUID");
        let e = renamed(
            c.finish().unwrap_err().into(),
            &delete_field,
            &[("delete[", "label_ids[")],
        );
        assert_eq!(e.field.as_deref(), Some("label_ids[3]"));
        assert_eq!(e.message, "label_ids[3]: must be a UUID");
        assert_eq!(
            create_field("create[2].color").as_deref(),
            Some("data[2].color")
        );
        assert_eq!(email_field("emails[0]").as_deref(), Some("email"));
    }
}

//! Comments on issues (issue 8 "Comments"): threads by `parent_comment_id`, markdown up to
//! 10,000 characters, edits by the author (`is_edited`), soft delete by the author or a
//! workspace admin that keeps the thread's shape. Every member may comment, guests included
//! (their role reads and comments, `domain::WorkspaceRole::Guest`).

use std::collections::HashMap;

use uuid::Uuid;

use super::{Action, Scope, log_change};
use crate::domain::Check;
use crate::domain::check::LONG_TEXT;
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::comments::{self, Comment, NewComment};

/// How a path names an issue: its UUID or its key (`ENG-123`).
pub async fn resolve_issue(
    st: &MomentumState,
    scope: &Scope,
    id_or_key: &str,
) -> Result<Uuid, MomentumError> {
    let db = &st.platform.db;
    let s = id_or_key.trim();
    let found = if let Ok(id) = Uuid::parse_str(s) {
        comments::issue_id(db, scope.workspace_id, id).await?
    } else if let Some((key, number)) = s.rsplit_once('-')
        && let Ok(number) = number.parse::<i64>()
        && !key.is_empty()
    {
        comments::issue_id_by_key(db, scope.workspace_id, &key.to_ascii_uppercase(), number).await?
    } else {
        None
    };
    found.ok_or(MomentumError::NotFound("issue"))
}

/// Comment content: markdown of 1–10,000 characters as sent, not blank, without control
/// characters other than newlines and tabs ([`Check::text`]). Trailing white space and
/// leading blank lines are dropped; leading spaces stay (they are markdown: an indented first
/// line is code).
fn markdown(check: &mut Check, v: &str) -> Option<String> {
    check.text("content", v, 1, LONG_TEXT)?;
    Some(v.trim_end().trim_start_matches(['\n', '\r']).to_string())
}

/// Orders an issue's comments (oldest first) into threads: each top-level comment, oldest
/// first, followed depth-first by its replies, oldest first.
pub fn thread(comments: Vec<Comment>) -> Vec<Comment> {
    let known: std::collections::HashSet<Uuid> = comments.iter().map(|c| c.id).collect();
    let mut children: HashMap<Option<Uuid>, Vec<Comment>> = HashMap::new();
    for c in comments {
        // A parent that is not in the list (never expected) makes the reply top-level.
        let parent = c.parent_comment_id.filter(|p| known.contains(p));
        children.entry(parent).or_default().push(c);
    }
    let mut out = Vec::with_capacity(known.len());
    let mut stack: Vec<Comment> = children.remove(&None).unwrap_or_default();
    stack.reverse();
    while let Some(c) = stack.pop() {
        if let Some(mut replies) = children.remove(&Some(c.id)) {
            replies.reverse();
            stack.extend(replies);
        }
        out.push(c);
    }
    out
}

/// The comments of an issue of the caller's workspace, in thread order.
pub async fn list(
    st: &MomentumState,
    scope: &Scope,
    issue_id: Uuid,
) -> Result<Vec<Comment>, MomentumError> {
    let all = comments::of_issue(&st.platform.db, scope.workspace_id, issue_id).await?;
    Ok(thread(all))
}

/// One comment of the caller's workspace (404 otherwise).
pub async fn get(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<Comment, MomentumError> {
    comments::get(&st.platform.db, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("comment"))
}

/// A new comment as the client sent it (ids as text, checked here).
#[derive(Debug, Default)]
pub struct NewCommentInput {
    /// The issue (UUID); `None` when the path named it already.
    pub issue_id: Option<String>,
    /// Markdown.
    pub content: String,
    /// The comment it answers.
    pub parent_comment_id: Option<String>,
}

/// Posts a comment on `issue` (the path's issue, already resolved) or on the body's
/// `issue_id`: content 1–10,000 characters; the parent must be a live comment of the same
/// issue (422 `parent_comment_id` otherwise); a missing or foreign issue in the body is 422
/// `issue_id`.
pub async fn create(
    st: &MomentumState,
    scope: &Scope,
    issue: Option<Uuid>,
    input: NewCommentInput,
) -> Result<Comment, MomentumError> {
    let mut check = Check::new();
    let body_issue = match (issue, input.issue_id.as_deref()) {
        (Some(_), _) => None,
        (None, Some(s)) => check.uuid("issue_id", s),
        (None, None) => {
            check.fail("issue_id", "required", "is required");
            None
        }
    };
    let content = markdown(&mut check, &input.content);
    let parent = input
        .parent_comment_id
        .as_deref()
        .and_then(|p| check.uuid("parent_comment_id", p));
    check.finish()?;
    let content = content.unwrap_or_default();

    let db = &st.platform.db;
    let issue_id = match issue {
        Some(id) => id,
        None => {
            let id = body_issue.unwrap_or_default();
            comments::issue_id(db, scope.workspace_id, id)
                .await?
                .ok_or_else(|| MomentumError::unknown_ref("issue_id", "issue"))?
        }
    };
    let mut tx = db.begin().await?;
    if let Some(parent) = parent {
        let p = comments::get_in(&mut tx, scope.workspace_id, parent).await?;
        match p {
            Some(p) if p.issue_id == issue_id && !p.is_deleted => {}
            Some(p) if p.issue_id == issue_id => {
                return Err(MomentumError::field(
                    "parent_comment_id",
                    "deleted",
                    "the comment was deleted and takes no replies",
                ));
            }
            Some(_) => {
                return Err(MomentumError::field(
                    "parent_comment_id",
                    "other_issue",
                    "must be a comment of the same issue",
                ));
            }
            None => return Err(MomentumError::unknown_ref("parent_comment_id", "comment")),
        }
    }
    let id = Uuid::now_v7();
    comments::insert(
        &mut tx,
        &NewComment {
            id,
            workspace_id: scope.workspace_id,
            issue_id,
            author_id: scope.actor,
            parent_comment_id: parent,
            content: &content,
            now: scope.now,
        },
    )
    .await
    .map_err(|e| match e {
        // The issue went away between the check and the insert.
        trellis_kernel::db::StoreError::Constraint {
            kind: trellis_kernel::db::ConstraintKind::ForeignKey,
            ..
        } => MomentumError::unknown_ref("issue_id", "issue"),
        e => e.into(),
    })?;
    let c = comments::get_in(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("comment"))?;
    log_change(&mut tx, scope, "comment", id, Action::Create, &c).await?;
    tx.commit().await?;
    Ok(c)
}

/// Changes a comment's content; only its author may (403 for others), and only while it is
/// not deleted (409 `COMMENT_DELETED`). Marks it `is_edited`.
pub async fn update(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    content: &str,
) -> Result<Comment, MomentumError> {
    let mut check = Check::new();
    let content = markdown(&mut check, content);
    check.finish()?;
    let content = content.unwrap_or_default();
    let mut tx = st.platform.db.begin().await?;
    let c = comments::get_in(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("comment"))?;
    if c.author_id != Some(scope.actor) {
        return Err(MomentumError::Forbidden(
            "only the comment's author can edit it",
        ));
    }
    if !comments::set_content(&mut tx, scope.workspace_id, id, &content, scope.now).await? {
        return Err(MomentumError::conflict(
            "COMMENT_DELETED",
            "the comment was deleted",
        ));
    }
    let c = comments::get_in(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("comment"))?;
    log_change(&mut tx, scope, "comment", id, Action::Update, &c).await?;
    tx.commit().await?;
    Ok(c)
}

/// Soft-deletes a comment: its author or a workspace owner/admin may (403 for others). The
/// comment stays in its thread with `is_deleted: true` and empty content; deleting it again
/// changes nothing and answers it as it is.
pub async fn delete(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<Comment, MomentumError> {
    let mut tx = st.platform.db.begin().await?;
    let c = comments::get_in(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("comment"))?;
    if c.author_id != Some(scope.actor) && !scope.role.is_admin() {
        return Err(MomentumError::Forbidden(
            "only the comment's author or a workspace admin can delete it",
        ));
    }
    if !comments::soft_delete(&mut tx, scope.workspace_id, id, scope.now).await? {
        return Ok(c);
    }
    let c = comments::get_in(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("comment"))?;
    log_change(&mut tx, scope, "comment", id, Action::Delete, &c).await?;
    tx.commit().await?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn c(id: u128, parent: Option<u128>) -> Comment {
        Comment {
            id: Uuid::from_u128(id),
            workspace_id: Uuid::nil(),
            issue_id: Uuid::nil(),
            author_id: None,
            author: None,
            parent_comment_id: parent.map(Uuid::from_u128),
            content: String::new(),
            content_type: "markdown".into(),
            is_edited: false,
            is_deleted: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn replies_follow_their_parent_depth_first() {
        // Oldest first: 1, 2 (reply to 1), 3, 4 (reply to 2), 5 (reply to 1), 6 (reply to 3).
        let list = vec![
            c(1, None),
            c(2, Some(1)),
            c(3, None),
            c(4, Some(2)),
            c(5, Some(1)),
            c(6, Some(3)),
        ];
        let order: Vec<u128> = thread(list).iter().map(|c| c.id.as_u128()).collect();
        assert_eq!(order, [1, 2, 4, 5, 3, 6]);
    }
}

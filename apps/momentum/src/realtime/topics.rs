//! Topics a socket can follow (issue 9 "Topics and events"): `workspace:{id}`, `team:{id}`,
//! `project:{id}`, `issue:{id}`, and the seed's shorthands `issues` and `projects` (the
//! current workspace's), each authorized from current data when subscribed and again when
//! memberships change.

use uuid::Uuid;

use crate::domain::WorkspaceRole;
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::live::{self, TopicKind};

/// A topic a socket follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    /// The name the client used (`issues`, `team:…`).
    pub name: String,
    /// What it names.
    pub kind: TopicKind,
    /// The object's id (for shorthands, the workspace's).
    pub id: Uuid,
    /// `issues` / `projects`: only that entity's events of the workspace.
    pub shorthand: Option<&'static str>,
}

/// Why a topic was refused.
#[derive(Debug)]
pub enum Refusal {
    /// Not a topic this server knows (`UNKNOWN_TOPIC`).
    Unknown,
    /// Missing, or not visible to the user (`FORBIDDEN_TOPIC`; never told apart).
    Forbidden,
    /// The database failed.
    Store(MomentumError),
}

impl Topic {
    /// Parses a client's topic name; the shorthands resolve against `current` (the user's
    /// current workspace).
    pub fn parse(name: &str, current: Option<Uuid>) -> Result<Topic, Refusal> {
        let short = |s: &'static str| match current {
            Some(ws) => Ok(Topic {
                name: name.to_string(),
                kind: TopicKind::Workspace,
                id: ws,
                shorthand: Some(s),
            }),
            None => Err(Refusal::Forbidden),
        };
        match name {
            "issues" => return short("issues"),
            "projects" => return short("projects"),
            _ => {}
        }
        let (kind, id) = name.split_once(':').ok_or(Refusal::Unknown)?;
        let kind = match kind {
            "workspace" => TopicKind::Workspace,
            "team" => TopicKind::Team,
            "project" => TopicKind::Project,
            "issue" => TopicKind::Issue,
            _ => return Err(Refusal::Unknown),
        };
        let id = Uuid::parse_str(id).map_err(|_| Refusal::Unknown)?;
        Ok(Topic {
            name: format!("{}:{id}", kind_name(kind)),
            kind,
            id,
            shorthand: None,
        })
    }

    /// `workspace:{ws}`.
    pub fn workspace(ws: Uuid) -> Topic {
        Topic {
            name: format!("workspace:{ws}"),
            kind: TopicKind::Workspace,
            id: ws,
            shorthand: None,
        }
    }

    /// The hub topic events for this topic are delivered on (see `feed::topics_of`).
    pub fn hub_topic(&self) -> String {
        match self.shorthand {
            Some(s) => format!("{s}:{}", self.id),
            None => format!("{}:{}", kind_name(self.kind), self.id),
        }
    }

    /// Checks from current data that `user` may follow the topic; answers the workspace its
    /// events come from. A private team (and its issues) needs team membership or a
    /// workspace owner/admin role, as its REST reads do.
    pub async fn authorize(&self, st: &MomentumState, user: Uuid) -> Result<Uuid, Refusal> {
        let a = live::topic_access(&st.platform.db, self.kind, self.id, user)
            .await
            .map_err(|e| Refusal::Store(e.into()))?
            .ok_or(Refusal::Forbidden)?;
        let role = a
            .role
            .as_deref()
            .and_then(WorkspaceRole::parse)
            .ok_or(Refusal::Forbidden)?;
        if a.private && a.team_role.is_none() && !role.is_admin() {
            return Err(Refusal::Forbidden);
        }
        Ok(a.workspace_id)
    }
}

fn kind_name(k: TopicKind) -> &'static str {
    match k {
        TopicKind::Workspace => "workspace",
        TopicKind::Team => "team",
        TopicKind::Project => "project",
        TopicKind::Issue => "issue",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let ws = Uuid::now_v7();
        let t = Topic::parse("issues", Some(ws)).unwrap_or_else(|_| panic!("parse"));
        assert_eq!(t.hub_topic(), format!("issues:{ws}"));
        assert!(matches!(
            Topic::parse("issues", None),
            Err(Refusal::Forbidden)
        ));
        let id = Uuid::now_v7();
        let t = Topic::parse(&format!("team:{id}"), None).unwrap_or_else(|_| panic!("parse"));
        assert_eq!(t.hub_topic(), format!("team:{id}"));
        for bad in [
            "",
            "team",
            "team:",
            "team:x",
            "user:".to_string().as_str(),
            "feed:1",
            "all",
        ] {
            assert!(
                matches!(Topic::parse(bad, Some(ws)), Err(Refusal::Unknown)),
                "{bad}"
            );
        }
    }
}

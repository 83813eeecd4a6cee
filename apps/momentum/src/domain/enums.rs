//! The closed sets of seed 002 and `originals.md` §2.4, as Rust enums. Each parses its
//! snake_case name ignoring ASCII case (the original's clients send `"Issue"`, `"Owner"`),
//! serializes as snake_case, and lists its names for error messages.

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialized name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// Parses a name, ignoring ASCII case.
            pub fn parse(s: &str) -> Option<Self> {
                $(if s.eq_ignore_ascii_case($s) { return Some($name::$variant); })+
                None
            }

            /// `a, b, c`: the accepted names, for messages.
            pub fn names() -> String {
                [$($s),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!("must be one of {}", $name::names()))
                })
            }
        }
    };
}

text_enum!(
    /// A member's role in a workspace (seed 002 "工作区成员管理"), most powerful first.
    WorkspaceRole {
        /// Everything, including deleting the workspace; a workspace keeps at least one.
        Owner = "owner",
        /// Manages members, invitations, teams, workflows and statuses.
        Admin = "admin",
        /// Works on issues, projects, labels, comments, cycles.
        Member = "member",
        /// Reads, and comments.
        Guest = "guest",
    }
);

impl WorkspaceRole {
    /// Owners and admins manage the workspace.
    pub fn is_admin(self) -> bool {
        matches!(self, WorkspaceRole::Owner | WorkspaceRole::Admin)
    }

    /// Everyone but guests changes content.
    pub fn can_write(self) -> bool {
        !matches!(self, WorkspaceRole::Guest)
    }

    /// Lower is more powerful (`owner` 0 … `guest` 3).
    pub fn rank(self) -> u8 {
        match self {
            WorkspaceRole::Owner => 0,
            WorkspaceRole::Admin => 1,
            WorkspaceRole::Member => 2,
            WorkspaceRole::Guest => 3,
        }
    }
}

text_enum!(
    /// A member's role in a team.
    TeamRole {
        /// Manages the team, its members and workflows.
        Admin = "admin",
        /// Belongs to the team.
        Member = "member",
    }
);

text_enum!(
    /// The category of a workflow state (Linear's state types).
    StateCategory {
        /// Incoming, not yet accepted.
        Triage = "triage",
        /// Accepted, not planned.
        Backlog = "backlog",
        /// Planned, not started ("Todo").
        Unstarted = "unstarted",
        /// In progress.
        Started = "started",
        /// Done.
        Completed = "completed",
        /// Won't be done.
        Canceled = "canceled",
    }
);

impl StateCategory {
    /// Completed and canceled issues are finished (not rolled into the next cycle).
    pub fn is_finished(self) -> bool {
        matches!(self, StateCategory::Completed | StateCategory::Canceled)
    }
}

text_enum!(
    /// The category of a project status.
    ProjectCategory {
        /// Not planned yet.
        Backlog = "backlog",
        /// Planned.
        Planned = "planned",
        /// Under way.
        InProgress = "in_progress",
        /// Finished.
        Completed = "completed",
        /// Abandoned.
        Canceled = "canceled",
    }
);

text_enum!(
    /// Priority of an issue or a project.
    Priority {
        /// No priority (the default).
        None = "none",
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// Urgent.
        Urgent = "urgent",
    }
);

impl Priority {
    /// Sort rank: urgent first (4) … none last (0).
    pub fn rank(self) -> i32 {
        match self {
            Priority::None => 0,
            Priority::Low => 1,
            Priority::Medium => 2,
            Priority::High => 3,
            Priority::Urgent => 4,
        }
    }
}

text_enum!(
    /// Where a label applies.
    LabelLevel {
        /// Issues.
        Issue = "issue",
        /// Projects.
        Project = "project",
    }
);

text_enum!(
    /// How two issues relate, as seen from one of them.
    RelationType {
        /// This issue blocks the other.
        Blocks = "blocks",
        /// The other issue blocks this one (the inverse of `blocks`).
        BlockedBy = "blocked_by",
        /// Related both ways.
        Related = "related",
        /// This issue duplicates the other.
        DuplicateOf = "duplicate_of",
        /// The other issue duplicates this one (the inverse of `duplicate_of`).
        DuplicatedBy = "duplicated_by",
    }
);

impl RelationType {
    /// What the other issue sees.
    pub fn inverse(self) -> RelationType {
        match self {
            RelationType::Blocks => RelationType::BlockedBy,
            RelationType::BlockedBy => RelationType::Blocks,
            RelationType::Related => RelationType::Related,
            RelationType::DuplicateOf => RelationType::DuplicatedBy,
            RelationType::DuplicatedBy => RelationType::DuplicateOf,
        }
    }
}

text_enum!(
    /// Where an invitation stands.
    InvitationStatus {
        /// Waiting for the invitee (until it expires).
        Pending = "pending",
        /// Accepted: the invitee is a member.
        Accepted = "accepted",
        /// Declined by the invitee.
        Declined = "declined",
        /// Revoked by an admin.
        Revoked = "revoked",
        /// Pending past its expiry (computed, never stored).
        Expired = "expired",
    }
);

text_enum!(
    /// A cycle's status, derived from its dates and completion.
    CycleStatus {
        /// Starts in the future.
        Planned = "planned",
        /// Running today.
        Active = "active",
        /// Ended or completed.
        Completed = "completed",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_ignoring_case_and_round_trip() {
        assert_eq!(LabelLevel::parse("Issue"), Some(LabelLevel::Issue));
        assert_eq!(WorkspaceRole::parse("OWNER"), Some(WorkspaceRole::Owner));
        assert_eq!(Priority::parse("bogus"), None);
        for c in StateCategory::ALL {
            assert_eq!(StateCategory::parse(c.as_str()), Some(*c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        let l: LabelLevel = serde_json::from_str("\"Project\"").unwrap();
        assert_eq!(l, LabelLevel::Project);
        for r in RelationType::ALL {
            assert_eq!(r.inverse().inverse(), *r);
        }
    }
}

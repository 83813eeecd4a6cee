//! Account newtypes parsed at the edge: usernames, emails, roles, statuses, code purposes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::IdentityError;

/// 3–50 characters of `[A-Za-z0-9_]`; unique case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Trims `s` and checks it is 3–50 ASCII letters, digits or underscores; otherwise
    /// [`IdentityError::Invalid`].
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let s = s.trim();
        let ok = (3..=50).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(IdentityError::Invalid(
                "username must be 3-50 characters of letters, digits and underscore".into(),
            ));
        }
        Ok(Username(s.to_string()))
    }

    /// The username as the user spelled it (case kept).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uniqueness key.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A normalized (trimmed, lower-cased) email address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Trims and lower-cases `s` and checks a pragmatic subset of RFC 5321 addresses (at most
    /// 254 characters, a local part of at most 64, a dotted domain, no quoting or comments);
    /// otherwise [`IdentityError::Invalid`].
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let s = s.trim().to_lowercase();
        let valid = s.len() <= 254
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.is_empty()
                        && !domain.contains('@')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                        && domain.contains('.')
                        && s.chars().all(|c| !c.is_whitespace() && !c.is_control())
                        && !s.contains(['<', '>', '(', ')', ',', ';', ':', '\\', '"', '[', ']'])
                }
                None => false,
            };
        if !valid {
            return Err(IdentityError::Invalid("email address is not valid".into()));
        }
        Ok(Email(s))
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),* }

        impl $name {
            /// The snake_case text used in the database and the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            /// The value spelled `s` exactly (snake_case), if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(
    /// Account status.
    UserStatus {
        /// May sign in.
        Active => "active",
        /// Deactivated (by an administrator); sign-in refused, sessions revoked.
        Inactive => "inactive",
        /// Banned (by an administrator); sign-in refused, sessions revoked.
        Banned => "banned",
        /// Email not yet verified (seed accounts; registration here verifies first); sign-in
        /// refused.
        PendingVerification => "pending_verification",
    }
);

text_enum!(
    /// Account role; `super_admin` may change roles.
    Role {
        /// Manages only their own account.
        User => "user",
        /// Manages other users, but not administrators or roles.
        Admin => "admin",
        /// Manages everyone else, administrators and roles included.
        SuperAdmin => "super_admin",
    }
);

text_enum!(
    /// What a verification code may be used for.
    CodePurpose {
        /// Proves an email before an account is created with it (sent only if it is free).
        Register => "register",
        /// Authorizes a password reset (sent only if an account has the email).
        ResetPassword => "reset_password",
        /// Proves a new email before it replaces the current one (sent only if it is free).
        ChangeEmail => "change_email",
    }
);

impl Role {
    /// Whether this role may use the administration endpoints (`admin` or `super_admin`).
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin | Role::SuperAdmin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse("A_b_9").is_ok());
        assert!(Username::parse(&"a".repeat(50)).is_ok());
        for bad in ["ab", "a b", "a-b", "ab!", "тест", &"a".repeat(51)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Username::parse("Alice").unwrap().key(), "alice");
    }

    #[test]
    fn emails_are_normalized() {
        assert_eq!(
            Email::parse("  Bob@Example.COM ").unwrap().as_str(),
            "bob@example.com"
        );
        for bad in [
            "", "a", "a@", "@b.c", "a@b", "a@@b.c", "a b@c.d", "a@b..c", "<a@b.c>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_round_trip() {
        for s in ["active", "inactive", "banned", "pending_verification"] {
            assert_eq!(UserStatus::parse(s).unwrap().as_str(), s);
        }
        assert!(Role::parse("root").is_none());
        assert!(Role::SuperAdmin.is_admin());
    }
}

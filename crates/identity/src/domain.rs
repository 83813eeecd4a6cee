//! Account newtypes parsed at the edge: usernames, emails, roles, statuses, code purposes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::IdentityError;

/// 3–50 characters of `[A-Za-z0-9_]`; unique case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
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
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(
    /// Account status.
    UserStatus {
        Active => "active",
        Inactive => "inactive",
        Banned => "banned",
        PendingVerification => "pending_verification",
    }
);

text_enum!(
    /// Account role; `super_admin` may change roles.
    Role {
        User => "user",
        Admin => "admin",
        SuperAdmin => "super_admin",
    }
);

text_enum!(
    /// What a verification code may be used for.
    CodePurpose {
        Register => "register",
        ResetPassword => "reset_password",
        ChangeEmail => "change_email",
    }
);

impl Role {
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

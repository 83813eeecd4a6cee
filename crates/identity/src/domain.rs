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
    /// Trims and lower-cases `s` and checks a pragmatic subset of RFC 5321 addresses (ASCII,
    /// at most 254 characters, a local part of at most 64, a dotted domain, no quoting or
    /// comments); otherwise [`IdentityError::Invalid`].
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let s = s.trim().to_lowercase();
        let valid = s.len() <= 254
            && s.is_ascii()
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
            "", "a", "a@", "@b.c", "a@b", "a@@b.c", "a b@c.d", "a@b..c", "<a@b.c>", "é@b.c",
            "a@bü.c",
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

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any input parses or is refused; never a panic.
            #[test]
            fn parsers_never_panic(s in ".{0,300}") {
                let _ = Username::parse(&s);
                let _ = Email::parse(&s);
            }

            /// An accepted username is its trimmed input, and its key is the same name in
            /// lower case, so `Alice` and `alice` collide.
            #[test]
            fn username_keys_fold_case(s in "[A-Za-z0-9_]{3,50}") {
                let u = Username::parse(&format!("  {s} ")).unwrap();
                prop_assert_eq!(u.as_str(), s.as_str());
                prop_assert_eq!(u.key(), s.to_ascii_lowercase());
                prop_assert_eq!(Username::parse(&s.to_ascii_uppercase()).unwrap().key(), u.key());
            }

            /// Accepted e-mail addresses are normalized (trimmed, lower-case, one `@`, no
            /// whitespace) and parsing is idempotent.
            #[test]
            fn emails_normalize_idempotently(local in "[A-Za-z0-9._%+-]{1,30}", domain in "[A-Za-z0-9-]{1,20}\\.[A-Za-z]{2,6}") {
                let raw = format!(" {local}@{domain} ");
                if let Ok(e) = Email::parse(&raw) {
                    let s = e.as_str();
                    prop_assert_eq!(s, s.trim());
                    prop_assert_eq!(s.to_lowercase(), s);
                    prop_assert_eq!(s.matches('@').count(), 1);
                    let again = Email::parse(s).unwrap();
                    prop_assert_eq!(again.as_str(), s);
                }
            }
        }
    }
}

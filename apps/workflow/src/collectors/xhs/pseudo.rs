//! Pseudonymisation of personal data (`collectors.md` §3): XHS user ids become a salted
//! keyed hash and nicknames are masked, as MediaCrawler does since 9f4f8bf (PIPL risk).
//! The salt is per tenant, so the same user maps to the same pseudonym within a tenant
//! (joins still work) and to unrelated ones across tenants.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `"u_"` + the first 32 hex characters of HMAC-SHA256(`salt`, `user_id`).
pub fn pseudonymise(salt: &[u8], user_id: &str) -> String {
    let mut mac = hmac_sha256(salt);
    mac.update(user_id.as_bytes());
    let digest = hex::encode(mac.finalize().into_bytes());
    format!("u_{}", &digest[..32])
}

/// Keeps the first character and replaces every other character with `*`
/// (`"小红薯"` → `"小**"`); the empty string stays empty.
pub fn mask_nickname(nickname: &str) -> String {
    let mut chars = nickname.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// HMAC-SHA256 keyed with `key`.
#[expect(
    clippy::expect_used,
    reason = "HMAC accepts keys of any length: new_from_slice cannot fail for Hmac<Sha256>"
)]
pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
mod tests {
    use super::{mask_nickname, pseudonymise};
    use crate::collectors::xhs::model::Author;

    #[test]
    fn pseudonyms_are_stable_salted_and_shaped() {
        let a = pseudonymise(b"tenant-1", "5f0e1c2d000000000101d84b");
        assert_eq!(a, pseudonymise(b"tenant-1", "5f0e1c2d000000000101d84b"));
        assert_ne!(a, pseudonymise(b"tenant-2", "5f0e1c2d000000000101d84b"));
        assert_ne!(a, pseudonymise(b"tenant-1", "5f0e1c2d000000000101d84c"));
        assert!(a.starts_with("u_"));
        assert_eq!(a.len(), 34);
        assert!(
            a[2..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn nicknames_are_masked_by_character() {
        assert_eq!(mask_nickname("小红薯"), "小**");
        assert_eq!(mask_nickname("Alice"), "A****");
        assert_eq!(mask_nickname("A"), "A");
        assert_eq!(mask_nickname(""), "");
    }

    #[test]
    fn authors_are_pseudonymised() {
        let raw = Author {
            user_id: "5f0e1c2d000000000101d84b".into(),
            nickname: "薯队长".into(),
        };
        let p = raw.pseudonymised(b"salt");
        assert_eq!(p.user_id, pseudonymise(b"salt", &raw.user_id));
        assert_eq!(p.nickname, "薯**");
    }
}

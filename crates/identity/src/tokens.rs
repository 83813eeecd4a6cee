//! Access tokens (JWT HS256 with `kid`, `sub`, `sid`, `jti`, `role`, `iat`, `exp`) and opaque
//! refresh tokens (32 random bytes, stored only as their SHA-256).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::Role;
use crate::error::IdentityError;

/// The audience of tokens for the shared `/api/v1` user API (seed 000).
pub const AUD_API: &str = "api";

/// Claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id (RFC 7519 `sub`).
    pub sub: Uuid,
    /// The session the token belongs to; signing it out revokes the token.
    pub sid: Uuid,
    /// A fresh id per token (RFC 7519 `jti`).
    pub jti: Uuid,
    /// The user's role when the token was issued: informational only; authorization reads
    /// the current role from the users row (issue 7, item 1).
    pub role: Role,
    /// The API the token is for (RFC 7519 §4.1.3 `aud`): [`AUD_API`] or an app's own
    /// audience such as MicroDock's; a token is refused by every other API.
    pub aud: String,
    /// Issued at, Unix seconds (RFC 7519 `iat`).
    pub iat: i64,
    /// Expires at, Unix seconds (RFC 7519 `exp`).
    pub exp: i64,
}

/// Signing material derived from the server secret.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    validation: Validation,
    /// Separate key for hashing verification codes, so a code hash is useless without it.
    code_key: Vec<u8>,
}

impl Keys {
    /// Keys derived from the signing secret; `kid` is the first 8 bytes of its SHA-256.
    pub fn new(secret: &[u8]) -> Result<Self, IdentityError> {
        let kid = hex::encode(&Sha256::digest(secret)[..8]);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat", "aud"]);
        // The audience is checked by `verify_for` against the API being called.
        validation.validate_aud = false;
        let code_key = {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
            mac.update(b"trellis verification codes");
            mac.finalize().into_bytes().to_vec()
        };
        let bad_key =
            |e: jsonwebtoken::errors::Error| IdentityError::Internal(format!("signing key: {e}"));
        Ok(Keys {
            encoding: EncodingKey::from_secret(secret).map_err(bad_key)?,
            decoding: DecodingKey::from_secret(secret).map_err(bad_key)?,
            kid,
            validation,
            code_key,
        })
    }

    /// Encodes `claims` as an HS256 JWT whose header names this key's `kid`.
    pub fn sign(&self, claims: &Claims) -> Result<String, IdentityError> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| IdentityError::Internal(format!("jwt encode: {e}")))
    }

    /// Checks the header's `kid` (RFC 7515 §4.1.4: it must name this key), the signature and
    /// the required `exp`, `sub`, `iat` and `aud` claims (5 s leeway), and that `aud` is
    /// `audience`: [`IdentityError::TokenExpired`] past `exp`, [`IdentityError::InvalidToken`]
    /// for anything else wrong. Revocation is checked by the caller.
    pub fn verify_for(&self, token: &str, audience: &str) -> Result<Claims, IdentityError> {
        let claims = self.verify(token)?;
        if claims.aud != audience {
            return Err(IdentityError::InvalidToken);
        }
        Ok(claims)
    }

    /// [`Keys::verify_for`] without the audience check (for status queries that accept a
    /// token of any Trellis API).
    pub fn verify(&self, token: &str) -> Result<Claims, IdentityError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| IdentityError::InvalidToken)?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(IdentityError::InvalidToken);
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => IdentityError::TokenExpired,
                _ => IdentityError::InvalidToken,
            })
    }

    /// HMAC of a verification code bound to its purpose and email.
    pub fn code_mac(&self, purpose: &str, email: &str, code: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.code_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(email.as_bytes());
        mac.update(b"\0");
        mac.update(code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A CSRF token bound to `binding` (the browser's session or signed-out cookie): an HMAC
    /// under a key of its own, base64url without padding.
    pub fn csrf_mac(&self, binding: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.code_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"console csrf token\0");
        mac.update(binding.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The refresh token that succeeds `spent` in a rotation: an HMAC of it under a key of
    /// its own, so presenting `spent` again within the grace window yields the same
    /// successor (one token cannot fork a session into parallel chains) and nobody without
    /// the server secret can compute it.
    pub fn successor(&self, spent: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.code_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"refresh token successor\0");
        mac.update(spent.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// A new opaque refresh token.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for a refresh token.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            jti: Uuid::new_v4(),
            role: Role::User,
            aud: AUD_API.into(),
            iat: now,
            exp: now + exp_in,
        }
    }

    #[test]
    fn sign_verify_and_reject() {
        let k = Keys::new(b"a-secret-of-reasonable-length-0123456789").unwrap();
        let c = claims(60);
        let t = k.sign(&c).unwrap();
        assert_eq!(k.verify(&t).unwrap().sub, c.sub);
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.kid.as_deref().map(str::len), Some(16));
        let other = Keys::new(b"another-secret-of-reasonable-length-xx").unwrap();
        assert!(matches!(other.verify(&t), Err(IdentityError::InvalidToken)));
        let expired = k.sign(&claims(-120)).unwrap();
        assert!(matches!(
            k.verify(&expired),
            Err(IdentityError::TokenExpired)
        ));
        assert!(matches!(
            k.verify("x.y.z"),
            Err(IdentityError::InvalidToken)
        ));
    }

    /// Issue 7 item 1: the audience and the `kid` are checked.
    #[test]
    fn audience_and_kid_are_checked() {
        let k = Keys::new(b"a-secret-of-reasonable-length-0123456789").unwrap();
        let t = k.sign(&claims(60)).unwrap();
        assert!(k.verify_for(&t, AUD_API).is_ok());
        assert!(matches!(
            k.verify_for(&t, "microdock"),
            Err(IdentityError::InvalidToken)
        ));
        // Same key and claims, but a header naming another key.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("0000000000000000".into());
        let other_kid = jsonwebtoken::encode(&header, &claims(60), &k.encoding).unwrap();
        assert!(matches!(
            k.verify(&other_kid),
            Err(IdentityError::InvalidToken)
        ));
        let no_kid =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(60), &k.encoding).unwrap();
        assert!(matches!(
            k.verify(&no_kid),
            Err(IdentityError::InvalidToken)
        ));
    }

    #[test]
    fn successors_are_stable_and_keyed() {
        let k = Keys::new(b"a-secret-of-reasonable-length-0123456789").unwrap();
        let other = Keys::new(b"another-secret-of-reasonable-length-xx").unwrap();
        let t = new_refresh_token();
        assert_eq!(k.successor(&t), k.successor(&t));
        assert_ne!(k.successor(&t), other.successor(&t));
        assert_ne!(k.successor(&t), t);
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_ne!(hash_refresh_token(&a), a);
    }
}

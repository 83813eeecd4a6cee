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

/// Claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub sid: Uuid,
    pub jti: Uuid,
    pub role: Role,
    pub iat: i64,
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
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
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

    pub fn sign(&self, claims: &Claims) -> Result<String, IdentityError> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| IdentityError::Internal(format!("jwt encode: {e}")))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, IdentityError> {
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

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_ne!(hash_refresh_token(&a), a);
    }
}

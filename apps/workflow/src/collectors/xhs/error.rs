//! The typed outcome of an XHS API call that did not succeed (`collectors.md` §2.5).
//!
//! Three families matter to callers, each with its own predicate:
//! - **blocks** ([`XhsError::is_block`]): rate limits, IP or account restrictions,
//!   captchas, 401/403/429. The identity (account + proxy) must cool down; never retry in
//!   place and never solve a captcha (§3);
//! - **skips** ([`XhsError::is_skip`]): the note is gone or not viewable; skip the item,
//!   the run goes on;
//! - **retryable** ([`XhsError::retryable`]): transient 5xx and connection failures only.
//!
//! Messages carry the site's `msg` text and codes, never cookies, tokens or bodies.

use super::signer::SignError;

/// Why the site refused an identity (`collectors.md` §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// Code `300013` "访问频次异常" or HTTP 429: back off (users report ~24 h recovery).
    RateLimited,
    /// Code `300012` "网络连接异常": the IP is blocked; rotate or cool the proxy.
    IpBlocked,
    /// Code `300011`: the account is under a security restriction; it is unhealthy.
    AccountRestricted,
    /// HTTP 461/471 with `Verifytype`/`Verifyuuid`, or a 302 to `/website-login/captcha`.
    Captcha,
    /// HTTP 401 or 403: access blocked (MediaCrawler stops retrying).
    Forbidden,
}

impl BlockKind {
    /// A stable snake_case name for logs and stored states (`rate_limited`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::RateLimited => "rate_limited",
            BlockKind::IpBlocked => "ip_blocked",
            BlockKind::AccountRestricted => "account_restricted",
            BlockKind::Captcha => "captcha",
            BlockKind::Forbidden => "forbidden",
        }
    }
}

/// A failed XHS API call, classified (`collectors.md` §2.5).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum XhsError {
    /// The site refused this identity; cool it down (see [`BlockKind`]). `code` is the
    /// envelope code when the block came in a JSON body, `None` for HTTP-level blocks.
    #[error("blocked by the site ({kind}): {message}", kind = kind.as_str())]
    Blocked {
        /// What kind of block.
        kind: BlockKind,
        /// The envelope code (`300011`/`300012`/`300013`), if any.
        code: Option<i64>,
        /// The site's message or a description of the HTTP signal.
        message: String,
    },
    /// Code `300015` "浏览器异常": the signature headers were rejected.
    #[error("the site rejected the request signature (300015): {0}")]
    BadSignature(String),
    /// Code `300017` "访问链接异常": missing or invalid `xsec_token`.
    #[error("the site rejected the xsec_token (300017): {0}")]
    BadXsecToken(String),
    /// Code `300031` "当前笔记暂时无法浏览": the note cannot be viewed on the web.
    #[error("the note is not viewable on the web (300031): {0}")]
    NotViewable(String),
    /// Code `-100` "登录已过期": the session cookies are no longer logged in.
    #[error("the session has expired (-100): {0}")]
    SessionExpired(String),
    /// Codes `-510000`/`-510001`: the note is deleted, abnormal or private. Skip it.
    #[error("not found ({code}): {message}")]
    NotFound {
        /// The envelope code.
        code: i64,
        /// The site's message.
        message: String,
    },
    /// Any other non-zero envelope code.
    #[error("the site answered code {code}: {message}")]
    Api {
        /// The envelope code.
        code: i64,
        /// The site's message.
        message: String,
    },
    /// An HTTP status that is neither success nor a block signal (5xx, 404, other 3xx, …).
    #[error("unexpected HTTP status {status}")]
    Http {
        /// The HTTP status code.
        status: u16,
    },
    /// The connection failed or timed out before a response arrived (retryable).
    #[error("connection failed: {0}")]
    Connect(String),
    /// The request failed for another transport reason (not retryable).
    #[error("request failed: {0}")]
    Request(String),
    /// The signer could not sign the request.
    #[error("signing failed: {0}")]
    Sign(#[from] SignError),
    /// The response was not the expected envelope (not JSON, no `code`, too large, …).
    #[error("malformed response: {0}")]
    Malformed(String),
}

impl XhsError {
    /// True for blocks: the identity (account + proxy) must cool down, no retry in place.
    pub fn is_block(&self) -> bool {
        matches!(self, XhsError::Blocked { .. })
    }

    /// The block kind, for blocks.
    pub fn block_kind(&self) -> Option<BlockKind> {
        match self {
            XhsError::Blocked { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// True when the caller should skip this item and go on: the note is not found
    /// (`-510000`/`-510001`) or not viewable on the web (`300031`). Not an error of the run.
    pub fn is_skip(&self) -> bool {
        matches!(self, XhsError::NotFound { .. } | XhsError::NotViewable(_))
    }

    /// True only for transient failures worth a retry after a wait: HTTP 5xx and
    /// connection failures or timeouts. Never for blocks, skips or signature/token errors
    /// (MediaCrawler's policy, `collectors.md` §2.7).
    pub fn retryable(&self) -> bool {
        match self {
            XhsError::Http { status } => (500..600).contains(status),
            XhsError::Connect(_) => true,
            _ => false,
        }
    }
}

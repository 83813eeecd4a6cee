//! The Xiaohongshu (小红书) web API library (`shared/reference/collectors.md` §2): request
//! building, a pluggable [`Signer`], [`send`], response classification into
//! [`XhsError`], and parsers into normalised records. No storage, no pacing: the
//! collector step wires those (max concurrency 1 per identity, §2.7 and §3).
//!
//! Posture (§3): robots.txt is `Disallow: /`; the collector is opt-in per tenant, runs
//! only on the tenant's own session, is read-only, never solves captchas and never ships
//! a reverse-engineered signer. Authors can be pseudonymised ([`Author::pseudonymised`]).
//!
//! - [`counts`]: `"1w+"`, `"9.7万"` → integers;
//! - [`envelope`], [`error`]: `{code, success, msg, data}` and the block/skip/retry
//!   classification (§2.5);
//! - [`model`], [`parse`], [`state`]: records from API `data` and from
//!   `window.__INITIAL_STATE__`;
//! - [`pseudo`]: salted user-id pseudonyms and nickname masks;
//! - [`signer`], [`command`]: the [`Signer`] trait, [`HttpSigner`], [`CommandSigner`];
//! - [`api`], [`client`]: [`XhsApi`] request builders and [`send`].

pub mod api;
pub mod client;
pub mod command;
pub mod counts;
pub mod envelope;
pub mod error;
pub mod model;
pub mod parse;
pub mod pseudo;
pub mod signer;
pub mod state;

#[cfg(test)]
#[cfg(feature = "fixtures")]
mod e2e_tests;

pub use api::{ApiMethod, ApiRequest, XhsApi};
pub use client::{no_redirect_client, send};
pub use command::CommandSigner;
pub use counts::parse_count;
pub use envelope::parse_envelope;
pub use error::{BlockKind, XhsError};
pub use model::{Author, Comment, NoteDetail, NoteSummary, Page, UserNote};
pub use parse::{parse_comments, parse_note, parse_search, parse_user_notes};
pub use pseudo::{mask_nickname, pseudonymise};
pub use signer::{HttpSigner, SignError, SignRequest, Signer, signer_from_setting};
pub use state::{note_from_initial_state, parse_initial_state};

//! Normalised XHS records (`collectors.md` §2.3): snake_case fields, ids as `String`s
//! (24-hex note ids must never become numbers, §2.3 and MediaCrawler#110), timestamps in
//! milliseconds, each count parsed (`Option<i64>`, see [`super::counts::parse_count`]) next
//! to its raw text.
//!
//! The records carry the raw author values; [`Author::pseudonymised`] replaces them when a
//! tenant has not opted in to storing them (§3).

use serde::{Deserialize, Serialize};

use super::pseudo::{mask_nickname, pseudonymise};

/// The author of a note or comment, as the site sent it (or pseudonymised).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Author {
    /// The XHS user id (24 hex) or its pseudonym `u_…`.
    pub user_id: String,
    /// The display nickname, or its mask (first character kept).
    pub nickname: String,
}

impl Author {
    /// The same author with `user_id` replaced by [`pseudonymise`]`(salt, user_id)` and
    /// `nickname` by [`mask_nickname`] (`collectors.md` §3, MediaCrawler 9f4f8bf).
    pub fn pseudonymised(&self, salt: &[u8]) -> Author {
        Author {
            user_id: pseudonymise(salt, &self.user_id),
            nickname: mask_nickname(&self.nickname),
        }
    }
}

/// One page of results with the cursor for the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The records on this page, in site order.
    pub items: Vec<T>,
    /// The cursor to ask for the next page (comments and user notes), if the site gave one.
    pub cursor: Option<String>,
    /// The site's `has_more`.
    pub has_more: bool,
}

/// A note listed by search (`data.items[]` with `model_type == "note"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteSummary {
    /// The note id (24 hex).
    pub note_id: String,
    /// The listing's `xsec_token`, needed for detail and comments (§2.4).
    pub xsec_token: String,
    /// `normal` (images) or `video`.
    pub note_type: String,
    /// `note_card.display_title`; may be missing.
    pub title: Option<String>,
    /// The author.
    pub author: Author,
    /// `interact_info.liked_count`, parsed.
    pub liked_count: Option<i64>,
    /// `interact_info.liked_count` as sent (`"1w+"`, …).
    pub liked_count_raw: Option<String>,
    /// The cover image URL (signed, expires; §2.3).
    pub cover_url: Option<String>,
}

/// A note's detail (`/feed` → `data.items[0].note_card`, or the note page's state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteDetail {
    /// The note id (24 hex).
    pub note_id: String,
    /// The title; may be empty.
    pub title: String,
    /// The body text, hashtags inline as `#话题[话题]#`.
    pub desc: String,
    /// `normal` or `video`.
    pub note_type: String,
    /// Publication time, ms since the Unix epoch.
    pub time_ms: Option<i64>,
    /// Last update time, ms since the Unix epoch.
    pub last_update_time_ms: Option<i64>,
    /// The coarse IP location shown by the site; absent on some notes.
    pub ip_location: Option<String>,
    /// The author.
    pub author: Author,
    /// Likes, parsed.
    pub liked_count: Option<i64>,
    /// Likes as sent.
    pub liked_count_raw: Option<String>,
    /// Collects (bookmarks), parsed.
    pub collected_count: Option<i64>,
    /// Collects as sent.
    pub collected_count_raw: Option<String>,
    /// Comments, parsed.
    pub comment_count: Option<i64>,
    /// Comments as sent.
    pub comment_count_raw: Option<String>,
    /// Shares, parsed.
    pub share_count: Option<i64>,
    /// Shares as sent.
    pub share_count_raw: Option<String>,
    /// Topic names from `tag_list[].name`.
    pub tags: Vec<String>,
    /// Image URLs in order (signed, expire).
    pub image_urls: Vec<String>,
    /// The video URL for video notes.
    pub video_url: Option<String>,
}

/// A comment or an inline reply (`data.comments[]` and their `sub_comments[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// The comment id.
    pub id: String,
    /// The note it belongs to.
    pub note_id: String,
    /// The text.
    pub content: String,
    /// Creation time, ms since the Unix epoch.
    pub create_time_ms: Option<i64>,
    /// The coarse IP location; optional.
    pub ip_location: Option<String>,
    /// Likes, parsed.
    pub like_count: Option<i64>,
    /// Likes as sent.
    pub like_count_raw: Option<String>,
    /// The commenter.
    pub author: Author,
    /// Number of replies, parsed (top-level comments).
    pub sub_comment_count: Option<i64>,
    /// Number of replies as sent.
    pub sub_comment_count_raw: Option<String>,
    /// For replies: `target_comment.id` (the comment replied to), else the root comment's
    /// id; `None` for top-level comments.
    pub parent_comment_id: Option<String>,
}

/// A note on a creator's page (`user_posted` → `data.notes[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserNote {
    /// The note id (24 hex).
    pub note_id: String,
    /// The item's `xsec_token`, needed for detail and comments.
    pub xsec_token: String,
    /// `display_title`; may be missing.
    pub title: Option<String>,
    /// `normal` or `video`.
    pub note_type: String,
    /// Likes, parsed.
    pub liked_count: Option<i64>,
    /// Likes as sent.
    pub liked_count_raw: Option<String>,
}

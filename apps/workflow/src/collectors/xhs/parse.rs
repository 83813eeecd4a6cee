//! Parsers from an envelope's `data` to the records in [`super::model`]
//! (`collectors.md` §2.3). They are tolerant: a missing optional field becomes `None`, an
//! item without an id is dropped, nothing panics. Search items whose `model_type` is not
//! `note` (`rec_query`, `hot_query`) are skipped.

use serde_json::Value;

use super::counts::parse_count;
use super::envelope::as_i64;
use super::model::{Author, Comment, NoteDetail, NoteSummary, Page, UserNote};

/// The CDN host that serves `video.consumer.origin_video_key` (§2.1).
const VIDEO_CDN: &str = "https://sns-video-bd.xhscdn.com/";

/// Search results (`data.items[]`, `data.has_more`). Search pages by number, so `cursor`
/// is always `None`.
pub fn parse_search(data: &Value) -> Page<NoteSummary> {
    let items = array(data, "items")
        .iter()
        .filter(|item| item.get("model_type").and_then(Value::as_str) == Some("note"))
        .filter_map(search_item)
        .collect();
    Page {
        items,
        cursor: None,
        has_more: has_more(data),
    }
}

/// The note of a `/feed` answer (`data.items[0].note_card`); `None` if there is none.
pub fn parse_note(data: &Value) -> Option<NoteDetail> {
    let card = data.get("items")?.get(0)?.get("note_card")?;
    note_card(card, None)
}

/// A comment page (`data.comments[]`, `data.cursor`, `data.has_more`). Inline
/// `sub_comments` follow their parent in the list, with `parent_comment_id` set.
pub fn parse_comments(data: &Value) -> Page<Comment> {
    let mut items = Vec::new();
    for raw in array(data, "comments") {
        let Some(top) = comment(raw, None) else {
            continue;
        };
        let root_id = top.id.clone();
        items.push(top);
        for sub in array(raw, "sub_comments") {
            if let Some(reply) = comment(sub, Some(&root_id)) {
                items.push(reply);
            }
        }
    }
    Page {
        items,
        cursor: cursor(data),
        has_more: has_more(data),
    }
}

/// A creator's notes (`data.notes[]`, `data.cursor`, `data.has_more`).
pub fn parse_user_notes(data: &Value) -> Page<UserNote> {
    let items = array(data, "notes")
        .iter()
        .filter_map(|note| {
            let note_id = string(note, "note_id").or_else(|| string(note, "id"))?;
            let (liked_count, liked_count_raw) = count(note.get("interact_info"), "liked_count");
            Some(UserNote {
                note_id,
                xsec_token: string(note, "xsec_token").unwrap_or_default(),
                title: string(note, "display_title"),
                note_type: string(note, "type").unwrap_or_default(),
                liked_count,
                liked_count_raw,
            })
        })
        .collect();
    Page {
        items,
        cursor: cursor(data),
        has_more: has_more(data),
    }
}

/// A `note_card` (API) or a decamelised note from the page state. `fallback_id` is used
/// when the card has no `note_id` (the page state keys notes by id).
pub(crate) fn note_card(card: &Value, fallback_id: Option<&str>) -> Option<NoteDetail> {
    let note_id = string(card, "note_id")
        .or_else(|| string(card, "id"))
        .or_else(|| fallback_id.map(str::to_owned))?;
    let interact = card.get("interact_info");
    let (liked_count, liked_count_raw) = count(interact, "liked_count");
    let (collected_count, collected_count_raw) = count(interact, "collected_count");
    let (comment_count, comment_count_raw) = count(interact, "comment_count");
    let (share_count, share_count_raw) = count(interact, "share_count");
    let tags = array(card, "tag_list")
        .iter()
        .filter_map(|tag| string(tag, "name"))
        .collect();
    let image_urls = array(card, "image_list")
        .iter()
        .filter_map(image_url)
        .collect();
    Some(NoteDetail {
        note_id,
        title: string(card, "title")
            .or_else(|| string(card, "display_title"))
            .unwrap_or_default(),
        desc: string(card, "desc").unwrap_or_default(),
        note_type: string(card, "type").unwrap_or_default(),
        time_ms: card.get("time").and_then(as_i64),
        last_update_time_ms: card.get("last_update_time").and_then(as_i64),
        ip_location: non_empty(string(card, "ip_location")),
        author: author(card.get("user")),
        liked_count,
        liked_count_raw,
        collected_count,
        collected_count_raw,
        comment_count,
        comment_count_raw,
        share_count,
        share_count_raw,
        tags,
        image_urls,
        video_url: video_url(card.get("video")),
    })
}

fn search_item(item: &Value) -> Option<NoteSummary> {
    let note_id = string(item, "id")?;
    let card = item.get("note_card").unwrap_or(&Value::Null);
    let (liked_count, liked_count_raw) = count(card.get("interact_info"), "liked_count");
    Some(NoteSummary {
        note_id,
        xsec_token: string(item, "xsec_token").unwrap_or_default(),
        note_type: string(card, "type").unwrap_or_default(),
        title: string(card, "display_title"),
        author: author(card.get("user")),
        liked_count,
        liked_count_raw,
        cover_url: card.get("cover").and_then(image_url),
    })
}

fn comment(raw: &Value, root_id: Option<&str>) -> Option<Comment> {
    let id = string(raw, "id")?;
    let (like_count, like_count_raw) = count(Some(raw), "like_count");
    let (sub_comment_count, sub_comment_count_raw) = count(Some(raw), "sub_comment_count");
    let parent_comment_id = match root_id {
        None => None,
        Some(root) => raw
            .get("target_comment")
            .and_then(|target| string(target, "id"))
            .or_else(|| Some(root.to_owned())),
    };
    Some(Comment {
        id,
        note_id: string(raw, "note_id").unwrap_or_default(),
        content: string(raw, "content").unwrap_or_default(),
        create_time_ms: raw.get("create_time").and_then(as_i64),
        ip_location: non_empty(string(raw, "ip_location")),
        like_count,
        like_count_raw,
        author: author(raw.get("user_info")),
        sub_comment_count,
        sub_comment_count_raw,
        parent_comment_id,
    })
}

/// `user` / `user_info` → [`Author`]; the site spells the nickname `nickname` or
/// `nick_name`.
fn author(user: Option<&Value>) -> Author {
    let user = user.unwrap_or(&Value::Null);
    Author {
        user_id: string(user, "user_id").unwrap_or_default(),
        nickname: string(user, "nickname")
            .or_else(|| string(user, "nick_name"))
            .unwrap_or_default(),
    }
}

/// The best URL of an image or cover: `url_default`, `url`, `url_pre`, then the
/// `info_list` entry for scene `WB_DFT`, then any `info_list` entry.
fn image_url(image: &Value) -> Option<String> {
    for key in ["url_default", "url", "url_pre"] {
        if let Some(url) = non_empty(string(image, key)) {
            return Some(url);
        }
    }
    let infos = array(image, "info_list");
    infos
        .iter()
        .find(|info| info.get("image_scene").and_then(Value::as_str) == Some("WB_DFT"))
        .or_else(|| infos.first())
        .and_then(|info| non_empty(string(info, "url")))
}

/// `video.media.stream.h264[0].master_url`, else the CDN URL of
/// `video.consumer.origin_video_key`.
fn video_url(video: Option<&Value>) -> Option<String> {
    let video = video?;
    let master = video
        .pointer("/media/stream/h264/0/master_url")
        .and_then(Value::as_str)
        .filter(|url| !url.is_empty());
    if let Some(url) = master {
        return Some(url.to_owned());
    }
    video
        .pointer("/consumer/origin_video_key")
        .and_then(Value::as_str)
        .filter(|key| !key.is_empty())
        .map(|key| format!("{VIDEO_CDN}{key}"))
}

/// A count field of `parent`: (parsed, raw). Numbers are accepted too.
fn count(parent: Option<&Value>, key: &str) -> (Option<i64>, Option<String>) {
    let raw = match parent.and_then(|p| p.get(key)) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    (raw.as_deref().and_then(parse_count), raw)
}

/// A string field; numbers are rendered (ids must stay strings even if sent as numbers).
fn string(parent: &Value, key: &str) -> Option<String> {
    match parent.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.is_empty())
}

fn array<'a>(parent: &'a Value, key: &str) -> &'a [Value] {
    parent
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn has_more(data: &Value) -> bool {
    data.get("has_more")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn cursor(data: &Value) -> Option<String> {
    non_empty(string(data, "cursor"))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

//! Name matching shared by the toxic-food list, the ingredient table and the health-note
//! scanner.
//!
//! The rule (documented here once, used everywhere):
//! 1. **Normalise** the input: Unicode lower case, full-width ASCII (`Ａ`–`～`) folded to
//!    ASCII, the ideographic space and punctuation (`,，、;；/()（）.。!！?？:：'"“”-_`) turned
//!    into single spaces, leading/trailing spaces removed.
//! 2. **Blockers** first: known *safe* words that contain a dangerous alias (`山茶油`
//!    camellia oil contains `茶` tea, `葡萄柚` grapefruit contains `葡萄` grape, `野生` "wild"
//!    contains `生` raw) are found and their characters are consumed, so nothing inside them
//!    can match.
//! 3. **Aliases longest first**: every alias is tried from the longest (in characters) to the
//!    shortest; an occurrence only counts when none of its characters were consumed by a
//!    blocker or a longer alias, and it then consumes them (so `火鸡` turkey is found before
//!    `鸡` chicken could be, and `chicken liver` before `chicken`).
//! 4. **ASCII aliases are whole words**: the character before and after the occurrence must
//!    not be an ASCII letter or digit (`green beans` does not contain `bean`-anything,
//!    `grapefruit` does not contain `grape`, `rump` does not contain `rum`). CJK aliases match
//!    as substrings, since Chinese has no word separators.
//! 5. An alias written with a leading `=` matches only the **whole** normalised input (used
//!    for single characters such as `=鸡`, `=牛`, `=骨头`, which are too ambiguous inside
//!    longer words).
//!
//! Matches are returned ordered by their position in the input (ties: longer alias first).

/// Lower-cases and folds `s` as described in the module documentation.
pub(crate) fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for raw in s.chars() {
        let folded = match raw {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(raw as u32 - 0xFEE0).unwrap_or(raw),
            c => c,
        };
        for c in folded.to_lowercase() {
            let separator = c.is_whitespace()
                || matches!(
                    c,
                    ',' | ';'
                        | '/'
                        | '('
                        | ')'
                        | '.'
                        | '!'
                        | '?'
                        | ':'
                        | '\''
                        | '"'
                        | '-'
                        | '_'
                        | '、'
                        | '，'
                        | '；'
                        | '（'
                        | '）'
                        | '。'
                        | '！'
                        | '？'
                        | '：'
                        | '“'
                        | '”'
                        | '‘'
                        | '’'
                );
            if separator {
                pending_space = !out.is_empty();
            } else {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(c);
            }
        }
    }
    out
}

/// True when `alias` (already normalised, without the `=` marker) occurs in `hay` at byte
/// offset `at` with word boundaries if it is ASCII.
fn boundary_ok(hay: &str, at: usize, alias: &str) -> bool {
    let ascii_word = |c: char| c.is_ascii_alphanumeric();
    if !alias.is_ascii() {
        return true;
    }
    let before = hay[..at].chars().next_back();
    let after = hay[at + alias.len()..].chars().next();
    !before.is_some_and(ascii_word) && !after.is_some_and(ascii_word)
}

/// Marks every occurrence of `alias` in `hay` not overlapping `used`; returns their offsets.
fn claim(hay: &str, alias: &str, used: &mut [bool]) -> Vec<usize> {
    let mut found = Vec::new();
    if alias.is_empty() {
        return found;
    }
    for (at, _) in hay.match_indices(alias) {
        let span = at..at + alias.len();
        if used[span.clone()].iter().any(|u| *u) || !boundary_ok(hay, at, alias) {
            continue;
        }
        used[span].iter_mut().for_each(|u| *u = true);
        found.push(at);
    }
    found
}

/// Sorts alias entries longest first (in characters, ignoring the `=` marker), as
/// [`scan`] expects; callers build their table once.
pub(crate) fn longest_first<T>(mut entries: Vec<(&'static str, T)>) -> Vec<(&'static str, T)> {
    entries
        .sort_by_key(|(alias, _)| std::cmp::Reverse(alias.trim_start_matches('=').chars().count()));
    entries
}

/// Finds the aliases of `entries` (sorted by [`longest_first`]) in `input` (see the module
/// rule); `T` is whatever the caller attached to each alias. `blockers` are safe words
/// consumed first.
pub(crate) fn scan<T: Copy>(
    input: &str,
    entries: &[(&'static str, T)],
    blockers: &[&str],
) -> Vec<T> {
    let hay = normalize(input);
    if hay.is_empty() {
        return Vec::new();
    }
    let mut used = vec![false; hay.len()];
    for blocker in blockers {
        claim(&hay, blocker, &mut used);
    }
    let mut hits: Vec<(usize, usize, T)> = Vec::new();
    for (alias, value) in entries {
        if let Some(exact) = alias.strip_prefix('=') {
            if hay == exact && !used.iter().any(|u| *u) {
                used.iter_mut().for_each(|u| *u = true);
                hits.push((0, exact.len(), *value));
            }
            continue;
        }
        for at in claim(&hay, alias, &mut used) {
            hits.push((at, alias.len(), *value));
        }
    }
    hits.sort_by_key(|(at, len, _)| (*at, std::cmp::Reverse(*len)));
    hits.into_iter().map(|(_, _, value)| value).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_case_width_and_punctuation() {
        assert_eq!(
            normalize("  Ｇarlic-Powder（大蒜粉）"),
            "garlic powder 大蒜粉"
        );
        assert_eq!(normalize("，，"), "");
    }

    #[test]
    fn ascii_aliases_are_whole_words() {
        let entries = longest_first(vec![("bean", 1), ("grape", 2), ("rum", 3)]);
        assert!(scan("green beans", &entries, &[]).is_empty());
        assert!(scan("grapefruit", &entries, &[]).is_empty());
        assert!(scan("rump steak", &entries, &[]).is_empty());
        assert_eq!(scan("a grape", &entries, &[]), vec![2]);
        assert_eq!(scan("葡萄grape", &entries, &[]), vec![2]);
    }

    #[test]
    fn longest_first_and_blockers_and_exact() {
        let entries = longest_first(vec![("鸡", 1), ("火鸡", 2), ("=牛", 3), ("茶", 4)]);
        assert_eq!(scan("火鸡肉", &entries, &[]), vec![2]);
        assert_eq!(scan("鸡肉和火鸡", &entries, &[]), vec![1, 2]);
        assert_eq!(scan("牛", &entries, &[]), vec![3]);
        assert!(scan("牛蛙", &entries, &[]).is_empty());
        assert!(scan("山茶油", &entries, &["山茶油"]).is_empty());
        assert_eq!(scan("红茶", &entries, &["山茶油"]), vec![4]);
    }
}

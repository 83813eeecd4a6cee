//! Xiaohongshu count strings (`collectors.md` §2.3): counts arrive as **strings** such as
//! `"44"`, `"3703"`, `"1w+"`, `"10+"`, `"9.7万"` or `"1.2亿"`. [`parse_count`] turns them
//! into an approximate integer; callers keep the raw text next to it, because `"1w+"`
//! means "at least ten thousand", not exactly 10 000.

/// Parses an XHS display count into an approximate integer.
///
/// Accepted: ASCII digits with an optional decimal part, optional `,` thousands
/// separators, an optional unit (`w`/`W`/`万` = 10⁴, `k`/`K`/`千` = 10³, `亿` = 10⁸) and an
/// optional trailing `+` (a lower bound, dropped). Fractions below one unit are truncated
/// (`"9.75万"` → 97 500, `"3.5"` → 3). Returns `None` for empty, negative, non-numeric or
/// overflowing text; never panics.
pub fn parse_count(raw: &str) -> Option<i64> {
    let mut text = raw.trim();
    text = text.strip_suffix('+').unwrap_or(text).trim_end();
    let (number, multiplier) = split_unit(text);
    let number = number.trim();
    if number.is_empty() {
        return None;
    }
    let (int_part, frac_part) = match number.split_once('.') {
        Some((int_part, frac_part)) => (int_part, frac_part),
        None => (number, ""),
    };
    let int_digits: String = int_part.chars().filter(|c| *c != ',').collect();
    if int_digits.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_digits.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().ok()?
    };
    let mut value = whole.checked_mul(multiplier)?;
    // Integer arithmetic keeps "9.7万" at exactly 97 000 (a float would give 96 999.99…).
    let mut scale = multiplier;
    for digit in frac_part.chars() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        let d = i64::from(digit.to_digit(10)?);
        value = value.checked_add(d.checked_mul(scale)?)?;
    }
    Some(value)
}

/// Splits a trailing unit off `text`: the number part and its multiplier.
fn split_unit(text: &str) -> (&str, i64) {
    const UNITS: [(char, i64); 7] = [
        ('w', 10_000),
        ('W', 10_000),
        ('万', 10_000),
        ('k', 1_000),
        ('K', 1_000),
        ('千', 1_000),
        ('亿', 100_000_000),
    ];
    for (unit, multiplier) in UNITS {
        if let Some(number) = text.strip_suffix(unit) {
            return (number, multiplier);
        }
    }
    (text, 1)
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn parses_the_shapes_seen_on_the_site() {
        let table: &[(&str, Option<i64>)] = &[
            ("44", Some(44)),
            ("3703", Some(3703)),
            ("0", Some(0)),
            ("1w+", Some(10_000)),
            ("1W", Some(10_000)),
            ("10+", Some(10)),
            ("999+", Some(999)),
            ("9.7万", Some(97_000)),
            ("9.75万", Some(97_500)),
            ("10万+", Some(100_000)),
            ("1.2亿", Some(120_000_000)),
            ("2.3k", Some(2_300)),
            ("1,234", Some(1_234)),
            (" 12 ", Some(12)),
            ("3.5", Some(3)),
            (".5万", Some(5_000)),
            ("", None),
            ("  ", None),
            ("+", None),
            ("万", None),
            ("-5", None),
            ("赞", None),
            ("1.2.3", None),
            ("12abc", None),
            ("99999999999999999999", None),
            ("99999999999999亿", None),
        ];
        for (raw, want) in table {
            assert_eq!(parse_count(raw), *want, "parse_count({raw:?})");
        }
    }

    #[test]
    fn plain_integers_round_trip() {
        // A cheap property check: every plain integer in a spread of magnitudes parses
        // back to itself, with or without a trailing '+'.
        let mut n: i64 = 0;
        while n < i64::MAX / 7 {
            assert_eq!(parse_count(&n.to_string()), Some(n));
            assert_eq!(parse_count(&format!("{n}+")), Some(n));
            n = n * 7 + 3;
        }
    }

    #[test]
    fn wan_values_are_exact_to_one_decimal() {
        for whole in 0..50_i64 {
            for tenth in 0..10_i64 {
                let raw = format!("{whole}.{tenth}万");
                assert_eq!(parse_count(&raw), Some(whole * 10_000 + tenth * 1_000));
            }
        }
    }

    #[test]
    fn never_panics_on_odd_text() {
        for raw in ["\u{0}", "💥", "1💥", "万万", "1.万", "..", ",", "1e5", "١٢"] {
            let _ = parse_count(raw);
        }
    }
}

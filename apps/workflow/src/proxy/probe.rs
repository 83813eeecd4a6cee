//! Testing a proxy against a judge URL (latency, status, anonymity), and the soft-block
//! classifier every report shares ([`classify_response`], [`classify_error`]).
//!
//! Soft blocks (collectors.md §0.3): the sites answer a banned or rate-limited identity
//! mostly with HTTP 200 and an error code or a challenge page, sometimes with 461/471 or a
//! redirect to a captcha. The pool must cool such an identity down, never solve anything;
//! so a block is its own [`Outcome`], apart from errors (the proxy or the network failed).
//!
//! The judge echoes what it received: `{"headers": {name: value}, "remote_addr":
//! "ip:port"}` (the fixture's `Judge`, or any server answering that shape).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How a request through a proxy went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The target answered normally (any status that is not a block or a 5xx).
    Ok,
    /// The proxy or the network failed: connect error, timeout, proxy refusal, 5xx.
    Error,
    /// A soft block: the target refused this identity (status, captcha, block code).
    Blocked,
}

/// How much a proxy reveals about its client (the usual judge grades).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Anonymity {
    /// The target sees our real address in a forwarding header.
    Transparent,
    /// The target sees that a proxy is used (`Via`, `X-Forwarded-For`…), not our address.
    Anonymous,
    /// No trace of a proxy in the request headers.
    Elite,
}

impl Anonymity {
    /// Parses the serialised grade.
    pub fn parse(s: &str) -> Option<Anonymity> {
        match s {
            "transparent" => Some(Anonymity::Transparent),
            "anonymous" => Some(Anonymity::Anonymous),
            "elite" => Some(Anonymity::Elite),
            _ => None,
        }
    }

    /// The grade as serialised: `transparent`, `anonymous`, `elite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Anonymity::Transparent => "transparent",
            Anonymity::Anonymous => "anonymous",
            Anonymity::Elite => "elite",
        }
    }
}

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Ok, Error or Blocked ([`classify_response`] / [`classify_error`]).
    pub outcome: Outcome,
    /// Milliseconds until the response headers arrived; `None` when no response came.
    pub latency_ms: Option<u64>,
    /// The judge's HTTP status, when it answered.
    pub status: Option<u16>,
    /// The grade, when the outcome is Ok and the body is a judge echo.
    pub anonymity: Option<Anonymity>,
    /// The address the judge saw us come from (the proxy's exit), when it said.
    pub exit_ip: Option<IpAddr>,
    /// A short summary for people: no URL, header value or body.
    pub message: String,
}

/// Most body bytes a probe reads (judge echoes are small; block pages are recognised early).
const MAX_PROBE_BODY: usize = 64 * 1024;

/// Sends `GET judge_url` through `client` (a proxied client from
/// [`super::client::ProxyClients`]; check the URL with its `check_url` first) within
/// `timeout`, classifies the answer and, when it is a judge echo, grades anonymity against
/// `real_ip` (our own public address; without it a proxy cannot be graded transparent).
/// Never fails: failures are an [`Outcome::Error`] result.
pub async fn probe(
    client: &reqwest::Client,
    judge_url: &str,
    real_ip: Option<IpAddr>,
    timeout: Duration,
) -> ProbeResult {
    let started = Instant::now();
    let sent = client.get(judge_url).timeout(timeout).send().await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return failed(classify_error(&e), None, None, describe_error(&e)),
    };
    let latency_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // A followed redirect to a captcha page shows only in the final URL.
    let redirected = url::Url::parse(judge_url).ok().as_ref() != Some(response.url());
    let redirected_to_captcha = redirected && is_captcha_url(response.url().as_str());
    let mut body = Vec::new();
    while body.len() < MAX_PROBE_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                return failed(
                    classify_error(&e),
                    latency_ms,
                    Some(status),
                    describe_error(&e),
                );
            }
        }
    }
    body.truncate(MAX_PROBE_BODY);
    let mut outcome = classify_response(status, location.as_deref(), &body);
    if redirected_to_captcha {
        outcome = Outcome::Blocked;
    }
    if outcome != Outcome::Ok {
        let message = match outcome {
            Outcome::Blocked => format!("blocked: HTTP {status}"),
            _ => format!("HTTP {status}"),
        };
        return failed(outcome, latency_ms, Some(status), message);
    }
    let echo = serde_json::from_slice::<JudgeEcho>(&body).ok();
    let anonymity = echo.as_ref().map(|e| grade(e, real_ip));
    let exit_ip = echo
        .as_ref()
        .and_then(|e| parse_remote_addr(&e.remote_addr));
    let message = match anonymity {
        Some(a) => format!("HTTP {status}, {}", a.as_str()),
        None => format!("HTTP {status}, not a judge echo"),
    };
    ProbeResult {
        outcome,
        latency_ms,
        status: Some(status),
        anonymity,
        exit_ip,
        message,
    }
}

fn failed(
    outcome: Outcome,
    latency_ms: Option<u64>,
    status: Option<u16>,
    message: String,
) -> ProbeResult {
    ProbeResult {
        outcome,
        latency_ms,
        status,
        anonymity: None,
        exit_ip: None,
        message,
    }
}

/// What a judge answers.
#[derive(Debug, Deserialize)]
struct JudgeEcho {
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    remote_addr: String,
}

/// Headers that carry the client's address when a proxy forwards it.
const FORWARDING: &[&str] = &[
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
    "client-ip",
    "x-client-ip",
    "true-client-ip",
    "x-originating-ip",
    "via",
];

/// Headers that betray a proxy even without an address.
const PROXY_TRACES: &[&str] = &[
    "via",
    "x-forwarded-for",
    "forwarded",
    "proxy-connection",
    "x-proxy-id",
    "x-real-ip",
    "client-ip",
    "x-client-ip",
];

/// The values of header `name` (any case) in a judge echo.
fn header<'a>(echo: &'a JudgeEcho, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    echo.headers
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Transparent if a forwarding header holds `real_ip`; anonymous if a proxy trace is
/// present; elite otherwise.
fn grade(echo: &JudgeEcho, real_ip: Option<IpAddr>) -> Anonymity {
    if let Some(ip) = real_ip
        && FORWARDING
            .iter()
            .flat_map(|name| header(echo, name))
            .any(|value| mentions_ip(value, ip))
    {
        return Anonymity::Transparent;
    }
    if PROXY_TRACES
        .iter()
        .any(|name| header(echo, name).next().is_some())
    {
        return Anonymity::Anonymous;
    }
    Anonymity::Elite
}

/// Whether a header value lists `ip` as a whole token (`1.2.3.4, 5.6.7.8`,
/// `for="[2001:db8::1]:4711"`, `1.1 1.2.3.4:80`): `10.0.0.1` does not match `10.0.0.12`.
fn mentions_ip(value: &str, ip: IpAddr) -> bool {
    let canonical = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    };
    let want = canonical(ip);
    value
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '=' | '"' | '[' | ']'))
        .filter(|t| !t.is_empty())
        .filter_map(|t| {
            t.parse::<IpAddr>()
                .ok()
                .or_else(|| t.parse::<SocketAddr>().ok().map(|s| s.ip()))
        })
        .any(|found| canonical(found) == want)
}

fn parse_remote_addr(s: &str) -> Option<IpAddr> {
    s.parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| s.parse::<IpAddr>())
        .ok()
}

/// Statuses that mean "this identity is refused": 403 and 429 (collectors.md §1.10,
/// §2.5), XHS captcha 461/471 (§2.5).
const BLOCK_STATUSES: &[u16] = &[403, 429, 461, 471];

/// Challenge-page markers in a 200 body: Qidian/Tencent WAF (`waf_captcha` script, visible
/// texts, §1.10) and XHS (§2.5). A bare "captcha"/"TCaptcha" is *not* a marker: normal
/// Qidian pages load `TCaptcha.js` (§1.10), so it would flag every page.
const BODY_MARKERS: &[&str] = &[
    "waf_captcha",
    "请完成验证",
    "访问过于频繁",
    "安全验证",
    "请输入验证码",
    "请通过验证",
];

/// XHS block codes in a JSON body (§2.5): 300011 account restricted, 300012 IP blocked,
/// 300013 rate limited, 300017 bad `xsec_token` link.
const XHS_BLOCK_CODES: &[&str] = &["300011", "300012", "300013", "300017"];

/// Classifies a response (only its status, `Location` and first body bytes):
/// 403/429/461/471 → Blocked; a 3xx to a captcha/verify URL → Blocked (§2.5); a 200 whose
/// body holds a challenge marker or an XHS block code → Blocked (§1.10, §2.5); 5xx and 407
/// (the proxy refused our credentials) → Error; anything else → Ok.
pub fn classify_response(status: u16, location: Option<&str>, body_start: &[u8]) -> Outcome {
    if BLOCK_STATUSES.contains(&status) {
        return Outcome::Blocked;
    }
    if status >= 500 || status == 407 {
        return Outcome::Error;
    }
    if (300..400).contains(&status) && location.is_some_and(is_captcha_url) {
        return Outcome::Blocked;
    }
    if status == 200 {
        let text = String::from_utf8_lossy(body_start);
        if BODY_MARKERS.iter().any(|m| text.contains(m)) || has_block_code(&text) {
            return Outcome::Blocked;
        }
    }
    Outcome::Ok
}

/// Whether a URL points at a captcha or verification page (XHS `website-login/captcha?…
/// verifyUuid=…`, §2.5): it contains "captcha" or "verify", case-insensitively.
pub fn is_captcha_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.contains("captcha") || lower.contains("verify")
}

/// Finds `"code"` `:` followed by one of [`XHS_BLOCK_CODES`] (spaces and a quoted code
/// allowed), anywhere in the text.
fn has_block_code(text: &str) -> bool {
    text.match_indices("\"code\"").any(|(at, key)| {
        let rest = text[at + key.len()..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            return false;
        };
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('"').unwrap_or(rest);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        XHS_BLOCK_CODES.contains(&digits.as_str())
    })
}

/// Classifies a failed request: a redirect refused on the way to a captcha page is
/// Blocked; everything else (timeout, connect, proxy handshake, body) is Error.
pub fn classify_error(err: &reqwest::Error) -> Outcome {
    if err.is_redirect() && err.url().is_some_and(|u| is_captcha_url(u.as_str())) {
        return Outcome::Blocked;
    }
    Outcome::Error
}

/// A loggable summary of a request error: its kind and innermost cause, without the URL
/// (queries hold keys) or anything that could quote proxy credentials.
pub fn describe_error(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connect error"
    } else if err.is_redirect() {
        "redirect refused"
    } else if err.is_body() || err.is_decode() {
        "body error"
    } else {
        "request error"
    };
    // The innermost cause says what happened ("Connection refused", the guard's reason);
    // the outer layers repeat the URL.
    let mut innermost = None;
    let mut next = std::error::Error::source(err);
    while let Some(cause) = next {
        innermost = Some(cause);
        next = cause.source();
    }
    match innermost {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}

// Probes through real local proxies and a judge: `collectors::fixtures::proxies` tests.
#[cfg(test)]
mod tests {
    use super::*;

    fn echo(headers: &[(&str, &str)]) -> JudgeEcho {
        JudgeEcho {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            remote_addr: "198.51.100.7:4242".into(),
        }
    }

    #[test]
    fn grades_anonymity_from_echoed_headers() {
        let me: IpAddr = "203.0.113.5".parse().unwrap();
        let cases: &[(&[(&str, &str)], Anonymity)] = &[
            (
                &[("X-Forwarded-For", "203.0.113.5, 10.0.0.1")],
                Anonymity::Transparent,
            ),
            (&[("x-real-ip", "203.0.113.5")], Anonymity::Transparent),
            (
                &[("forwarded", "for=\"203.0.113.5:4711\";proto=http")],
                Anonymity::Transparent,
            ),
            (
                &[("Client-IP", "::ffff:203.0.113.5")],
                Anonymity::Transparent,
            ),
            (&[("x-forwarded-for", "203.0.113.55")], Anonymity::Anonymous),
            (&[("via", "1.1 squid")], Anonymity::Anonymous),
            (&[("Proxy-Connection", "keep-alive")], Anonymity::Anonymous),
            (&[("x-proxy-id", "42")], Anonymity::Anonymous),
            (
                &[("user-agent", "203.0.113.5"), ("host", "judge")],
                Anonymity::Elite,
            ),
            (&[], Anonymity::Elite),
        ];
        for (headers, want) in cases {
            assert_eq!(grade(&echo(headers), Some(me)), *want, "{headers:?}");
        }
        // Without our address a forwarding header only proves a proxy.
        let xff = echo(&[("x-forwarded-for", "203.0.113.5")]);
        assert_eq!(grade(&xff, None), Anonymity::Anonymous);
        assert_eq!(
            parse_remote_addr(&xff.remote_addr),
            Some("198.51.100.7".parse().unwrap())
        );
        assert!(mentions_ip(
            "for=\"[2001:db8::1]:4711\"",
            "2001:db8::1".parse().unwrap()
        ));
    }

    #[test]
    fn classifies_soft_blocks() {
        use Outcome::*;
        let cases: &[(u16, Option<&str>, &str, Outcome)] = &[
            (200, None, "<html>ok</html>", Ok),
            (404, None, "", Ok),
            (301, Some("https://example.com/new"), "", Ok),
            (403, None, "", Blocked),
            (429, None, "", Blocked),
            (461, None, "", Blocked),
            (471, None, "", Blocked),
            (
                302,
                Some("https://www.xiaohongshu.com/website-login/captcha?verifyUuid=1"),
                "",
                Blocked,
            ),
            (302, Some("/Verify?next=/"), "", Blocked),
            (
                200,
                None,
                "<script src=\"/waf_captcha/probe.js\"></script>",
                Blocked,
            ),
            (
                200,
                None,
                "<p>请完成验证</p><script src=TCaptcha.js>",
                Blocked,
            ),
            (200, None, "访问过于频繁，请稍后再试", Blocked),
            (200, None, "安全验证", Blocked),
            (200, None, "请输入验证码", Blocked),
            (200, None, "{\"code\":300013,\"success\":false}", Blocked),
            (
                200,
                None,
                "{\"code\": 300012, \"msg\": \"网络连接异常\"}",
                Blocked,
            ),
            (200, None, "{\"code\":\"300011\"}", Blocked),
            (200, None, "{\"success\":false,\"code\":300017}", Blocked),
            (200, None, "{\"code\":3000130}", Ok),
            (200, None, "{\"code\":0,\"data\":{\"n\":300013}}", Ok),
            // Normal Qidian pages load TCaptcha.js (collectors.md §1.10).
            (
                200,
                None,
                "<script src=\"https://turing.captcha.qcloud.com/TCaptcha.js\">",
                Ok,
            ),
            (500, None, "", Error),
            (502, None, "", Error),
            (407, None, "", Error),
        ];
        for (status, location, body, want) in cases {
            let got = classify_response(*status, *location, body.as_bytes());
            assert_eq!(got, *want, "{status} {location:?} {body}");
        }
        // A truncated multi-byte sequence at the cut does not hide an earlier marker.
        let mut cut = "请完成验证".as_bytes().to_vec();
        cut.extend_from_slice(&"验".as_bytes()[..2]);
        assert_eq!(classify_response(200, None, &cut), Blocked);
    }
}

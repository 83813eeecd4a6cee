//! robots.txt for the Qidian hosts (collectors.md §1.10, §3): fetched by the caller, parsed
//! here with `texting_robots` for our user agent, obeyed including `Crawl-delay`.
//!
//! Unavailable robots.txt (4xx, or a body that cannot be parsed) allows everything
//! (RFC 9309 §2.3.1.3); unreachable (5xx, 429, network failure) disallows everything
//! (RFC 9309 §2.3.1.4; 429 treated as unreachable, as major crawlers do).

use std::fmt;

/// The product token we match robots groups against.
pub const USER_AGENT: &str = "trellis-workflow";

enum Rules {
    AllowAll,
    DisallowAll,
    Parsed(Box<texting_robots::Robot>),
}

/// The rules of one origin's robots.txt for [`USER_AGENT`].
pub struct Robots {
    origin: Option<String>,
    rules: Rules,
}

impl fmt::Debug for Robots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules = match &self.rules {
            Rules::AllowAll => "allow_all",
            Rules::DisallowAll => "disallow_all",
            Rules::Parsed(_) => "parsed",
        };
        f.debug_struct("Robots")
            .field("origin", &self.origin)
            .field("rules", &rules)
            .field("crawl_delay", &self.crawl_delay())
            .finish()
    }
}

/// `scheme://host[:port]` of a URL, lowercased; `None` for relative or malformed URLs.
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

impl Robots {
    /// Parses a fetched robots.txt served at `robots_url`. A body `texting_robots` rejects
    /// allows everything (RFC 9309 §2.3.1.3 treats unparseable as unavailable).
    pub fn parse(robots_url: &str, body: &str) -> Self {
        let rules = match texting_robots::Robot::new(USER_AGENT, body.as_bytes()) {
            Ok(robot) => Rules::Parsed(Box::new(robot)),
            Err(_) => Rules::AllowAll,
        };
        Self {
            origin: origin_of(robots_url),
            rules,
        }
    }

    /// robots.txt was unavailable (4xx): everything is allowed.
    pub fn allow_all(robots_url: &str) -> Self {
        Self {
            origin: origin_of(robots_url),
            rules: Rules::AllowAll,
        }
    }

    /// robots.txt was unreachable (5xx, 429, network error): nothing is allowed.
    pub fn disallow_all(robots_url: &str) -> Self {
        Self {
            origin: origin_of(robots_url),
            rules: Rules::DisallowAll,
        }
    }

    /// Picks the case from the HTTP status of the robots.txt fetch: 2xx parses `body`,
    /// 429 and 5xx (and anything unexpected) disallow all, other 4xx allow all.
    pub fn from_response(robots_url: &str, status: u16, body: &str) -> Self {
        match status {
            200..=299 => Self::parse(robots_url, body),
            429 => Self::disallow_all(robots_url),
            400..=499 => Self::allow_all(robots_url),
            _ => Self::disallow_all(robots_url),
        }
    }

    /// May we fetch `url`? Absolute URLs on another origin than the robots.txt's are refused:
    /// these rules do not speak for them. Relative paths are checked as paths.
    pub fn allowed(&self, url: &str) -> bool {
        if let (Some(own), Some(other)) = (&self.origin, origin_of(url))
            && *own != other
        {
            return false;
        }
        match &self.rules {
            Rules::AllowAll => true,
            Rules::DisallowAll => false,
            Rules::Parsed(robot) => robot.allowed(url),
        }
    }

    /// `Crawl-delay` in seconds for our group, when set.
    pub fn crawl_delay(&self) -> Option<f64> {
        match &self.rules {
            Rules::Parsed(robot) => robot.delay.map(f64::from),
            _ => None,
        }
    }

    /// The origin (`scheme://host[:port]`) these rules cover, when the URL was absolute.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "https://m.qidian.com/robots.txt";

    #[test]
    fn default_fixture_rules() {
        let r = Robots::parse(AT, "User-agent: *\nAllow: /\nDisallow: /webcommon/\n");
        assert!(r.allowed("https://m.qidian.com/book/1010868264/"));
        assert!(!r.allowed("https://m.qidian.com/webcommon/category/list?catId=21"));
        assert!(!r.allowed("/webcommon/x"));
        assert!(!r.allowed("https://www.xiaohongshu.com/explore"));
        assert_eq!(r.crawl_delay(), None);
    }

    #[test]
    fn our_group_and_crawl_delay() {
        let body = "User-agent: trellis-workflow\nDisallow: /rank/\nCrawl-delay: 5\n\nUser-agent: *\nDisallow: /\n";
        let r = Robots::parse(AT, body);
        assert!(r.allowed("https://m.qidian.com/book/1/"));
        assert!(!r.allowed("https://m.qidian.com/rank/yuepiao/"));
        assert_eq!(r.crawl_delay(), Some(5.0));
        let xhs = Robots::parse(
            "https://www.xiaohongshu.com/robots.txt",
            "User-agent: *\nDisallow: /\n",
        );
        assert!(!xhs.allowed("https://www.xiaohongshu.com/explore/1"));
    }

    #[test]
    fn unavailable_and_unreachable() {
        assert!(Robots::from_response(AT, 404, "").allowed("https://m.qidian.com/x"));
        assert!(!Robots::from_response(AT, 503, "").allowed("https://m.qidian.com/x"));
        assert!(!Robots::from_response(AT, 429, "").allowed("https://m.qidian.com/x"));
        assert!(Robots::allow_all(AT).allowed("/anything"));
        assert!(!Robots::disallow_all(AT).allowed("/anything"));
        assert!(format!("{:?}", Robots::allow_all(AT)).contains("allow_all"));
    }
}

//! Health and scores from real outcomes, kept per (proxy, target host) and per proxy.
//!
//! A block (HTTP 403/429/461/471, a captcha page, an XHS block code: collectors.md §0.3 and
//! §2.5) is the target's verdict on that proxy, not the proxy's death: it counts only in the
//! (proxy, target) record, which cools down for that host with an exponential backoff
//! (`cooldown_seconds · 2^(n-1)`, capped at `max_cooldown_seconds`; collectors.md §3: "on
//! challenge stop for 24 h") and is retired for that host after `retire_after_blocks`
//! consecutive blocks. A connection error or timeout is the proxy's own fault: it counts in
//! both records, and the proxy as a whole cools after `cool_after_failures` consecutive
//! failures and is retired after `retire_after_failures`. A success resets the streaks.
//!
//! The score in `[0, 1]` is `0.8 · success EWMA + 0.2 · latency factor`, where the success
//! EWMA (α = 0.2, starting at 0.5) follows outcomes (1 for ok, 0 otherwise) and the latency
//! factor is `1 / (1 + latency_ms / 1000)` over the latency EWMA (α = 0.3).

use serde::{Deserialize, Serialize};

pub use super::probe::Outcome;

/// `active | cooling | retired` (issue 11: the proxy record's state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// Usable.
    Active,
    /// Resting until `cooldown_until_ms`; usable again after it.
    Cooling,
    /// Not used again until a test succeeds.
    Retired,
}

impl HealthState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Active => "active",
            HealthState::Cooling => "cooling",
            HealthState::Retired => "retired",
        }
    }

    /// Parses the stored text (unknown → active).
    pub fn parse(s: &str) -> HealthState {
        match s {
            "cooling" => HealthState::Cooling,
            "retired" => HealthState::Retired,
            _ => HealthState::Active,
        }
    }
}

/// The pool's health rules (pool `settings.health`); every field has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HealthPolicy {
    /// First cool-down after a block or a failure streak, seconds (default 300).
    #[schema(minimum = 1, maximum = 86400)]
    pub cooldown_seconds: u64,
    /// Longest cool-down, seconds (default 86400: a day, collectors.md §3).
    #[schema(minimum = 1, maximum = 604800)]
    pub max_cooldown_seconds: u64,
    /// Consecutive blocks by one host that retire the proxy for that host (default 5).
    #[schema(minimum = 1, maximum = 1000)]
    pub retire_after_blocks: u64,
    /// Consecutive failures that cool the proxy down for every host (default 3).
    #[schema(minimum = 1, maximum = 1000)]
    pub cool_after_failures: u64,
    /// Consecutive failures that retire the proxy (default 10).
    #[schema(minimum = 1, maximum = 1000)]
    pub retire_after_failures: u64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            cooldown_seconds: 300,
            max_cooldown_seconds: 86_400,
            retire_after_blocks: 5,
            cool_after_failures: 3,
            retire_after_failures: 10,
        }
    }
}

impl HealthPolicy {
    /// Problems with the values, as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=86_400).contains(&self.cooldown_seconds) {
            out.push(("cooldown_seconds", "1 to 86400".into()));
        }
        if !(1..=604_800).contains(&self.max_cooldown_seconds) {
            out.push(("max_cooldown_seconds", "1 to 604800".into()));
        }
        for (f, v) in [
            ("retire_after_blocks", self.retire_after_blocks),
            ("cool_after_failures", self.cool_after_failures),
            ("retire_after_failures", self.retire_after_failures),
        ] {
            if !(1..=1000).contains(&v) {
                out.push((f, "1 to 1000".into()));
            }
        }
        out
    }

    fn cooldown_ms(&self, streak: u64) -> i64 {
        let shift = streak.saturating_sub(1).min(30) as u32;
        let secs = self
            .cooldown_seconds
            .saturating_mul(1u64 << shift)
            .min(self.max_cooldown_seconds);
        (secs as i64) * 1000
    }
}

/// One health record: of a (proxy, target host) pair, or of a proxy as a whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Uses that went well.
    pub successes: i64,
    /// Uses that failed at the proxy.
    pub failures: i64,
    /// Uses the target refused.
    pub blocks: i64,
    /// Blocks since the last success.
    pub consecutive_blocks: i64,
    /// Failures since the last success.
    pub consecutive_failures: i64,
    /// Latency EWMA, milliseconds (`None` until a latency is known).
    pub latency_ms: Option<f64>,
    /// Success EWMA in `[0, 1]`.
    pub success_ewma: f64,
    /// The stored state (see [`Health::state_at`] for the effective one).
    pub state: HealthState,
    /// End of the cool-down, Unix ms.
    pub cooldown_until_ms: Option<i64>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            successes: 0,
            failures: 0,
            blocks: 0,
            consecutive_blocks: 0,
            consecutive_failures: 0,
            latency_ms: None,
            success_ewma: 0.5,
            state: HealthState::Active,
            cooldown_until_ms: None,
        }
    }
}

/// Which record an outcome is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The (proxy, target) record: blocks count here.
    Target,
    /// The proxy's own record: blocks do not count here (a ban by one site is not death).
    Proxy,
}

impl Health {
    /// The state at `now_ms`: a cool-down that has ended is active again.
    pub fn state_at(&self, now_ms: i64) -> HealthState {
        match (self.state, self.cooldown_until_ms) {
            (HealthState::Cooling, Some(until)) if until <= now_ms => HealthState::Active,
            (s, _) => s,
        }
    }

    /// The score in `[0, 1]` (module docs).
    pub fn score(&self) -> f64 {
        let latency = self
            .latency_ms
            .map_or(0.5, |l| 1.0 / (1.0 + l.max(0.0) / 1000.0));
        (0.8 * self.success_ewma + 0.2 * latency).clamp(0.0, 1.0)
    }

    /// Applies one outcome under `policy`; returns true when the state changed (worth
    /// writing through at once rather than with the next batch).
    pub fn apply(
        &mut self,
        scope: Scope,
        outcome: Outcome,
        latency_ms: Option<u64>,
        now_ms: i64,
        policy: &HealthPolicy,
    ) -> bool {
        let before = (self.state_at(now_ms), self.cooldown_until_ms);
        if self.state_at(now_ms) == HealthState::Active && self.state == HealthState::Cooling {
            self.state = HealthState::Active;
        }
        if let Some(l) = latency_ms.filter(|_| outcome != Outcome::Error) {
            let l = l as f64;
            self.latency_ms = Some(self.latency_ms.map_or(l, |old| 0.7 * old + 0.3 * l));
        }
        let hit = if outcome == Outcome::Ok { 1.0 } else { 0.0 };
        match (outcome, scope) {
            (Outcome::Blocked, Scope::Proxy) => return false,
            _ => self.success_ewma = 0.8 * self.success_ewma + 0.2 * hit,
        }
        match outcome {
            Outcome::Ok => {
                self.successes += 1;
                self.consecutive_blocks = 0;
                self.consecutive_failures = 0;
                if self.state == HealthState::Cooling {
                    self.state = HealthState::Active;
                    self.cooldown_until_ms = None;
                }
            }
            Outcome::Blocked => {
                self.blocks += 1;
                self.consecutive_blocks += 1;
                let n = self.consecutive_blocks as u64;
                if n >= policy.retire_after_blocks {
                    self.state = HealthState::Retired;
                } else if self.state != HealthState::Retired {
                    self.state = HealthState::Cooling;
                    self.cooldown_until_ms = Some(now_ms + policy.cooldown_ms(n));
                }
            }
            Outcome::Error => {
                self.failures += 1;
                self.consecutive_failures += 1;
                let n = self.consecutive_failures as u64;
                if scope == Scope::Proxy {
                    if n >= policy.retire_after_failures {
                        self.state = HealthState::Retired;
                    } else if n >= policy.cool_after_failures && self.state != HealthState::Retired
                    {
                        self.state = HealthState::Cooling;
                        let streak = n + 1 - policy.cool_after_failures;
                        self.cooldown_until_ms = Some(now_ms + policy.cooldown_ms(streak));
                    }
                }
            }
        }
        before != (self.state_at(now_ms), self.cooldown_until_ms)
    }

    /// A successful test revives a retired or cooling record.
    pub fn revive(&mut self) {
        self.state = HealthState::Active;
        self.cooldown_until_ms = None;
        self.consecutive_blocks = 0;
        self.consecutive_failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cool_then_retire_for_that_target_only() {
        let p = HealthPolicy {
            retire_after_blocks: 3,
            ..HealthPolicy::default()
        };
        let (mut target, mut proxy) = (Health::default(), Health::default());
        assert!(target.apply(Scope::Target, Outcome::Blocked, None, 0, &p));
        assert!(!proxy.apply(Scope::Proxy, Outcome::Blocked, None, 0, &p));
        assert_eq!(target.state_at(0), HealthState::Cooling);
        assert_eq!(target.cooldown_until_ms, Some(300_000));
        assert_eq!(proxy.state_at(0), HealthState::Active);
        assert_eq!(proxy.blocks, 0, "a block is the target's verdict only");
        target.apply(Scope::Target, Outcome::Blocked, None, 1, &p);
        assert_eq!(
            target.cooldown_until_ms,
            Some(1 + 600_000),
            "backoff doubles"
        );
        assert_eq!(target.state_at(700_000), HealthState::Active);
        target.apply(Scope::Target, Outcome::Blocked, None, 2, &p);
        assert_eq!(target.state_at(i64::MAX), HealthState::Retired);
    }

    #[test]
    fn failures_cool_and_retire_the_proxy_and_success_resets() {
        let p = HealthPolicy::default();
        let mut h = Health::default();
        for i in 0..2 {
            h.apply(Scope::Proxy, Outcome::Error, None, i, &p);
        }
        assert_eq!(h.state_at(2), HealthState::Active);
        h.apply(Scope::Proxy, Outcome::Error, None, 2, &p);
        assert_eq!(h.state_at(3), HealthState::Cooling);
        h.apply(Scope::Proxy, Outcome::Ok, Some(100), 4, &p);
        assert_eq!(h.state_at(4), HealthState::Active);
        assert_eq!(h.consecutive_failures, 0);
        for i in 0..10 {
            h.apply(Scope::Proxy, Outcome::Error, None, 10 + i, &p);
        }
        assert_eq!(h.state_at(i64::MAX), HealthState::Retired);
        h.revive();
        assert_eq!(h.state_at(0), HealthState::Active);
    }

    #[test]
    fn score_follows_outcomes_and_latency() {
        let p = HealthPolicy::default();
        let (mut fast, mut slow, mut bad) =
            (Health::default(), Health::default(), Health::default());
        for _ in 0..10 {
            fast.apply(Scope::Target, Outcome::Ok, Some(50), 0, &p);
            slow.apply(Scope::Target, Outcome::Ok, Some(3000), 0, &p);
            bad.apply(Scope::Target, Outcome::Error, None, 0, &p);
        }
        assert!(fast.score() > slow.score() && slow.score() > bad.score());
        assert!((0.0..=1.0).contains(&bad.score()));
        let cap = HealthPolicy {
            cooldown_seconds: 100,
            max_cooldown_seconds: 150,
            ..p
        };
        assert_eq!(cap.cooldown_ms(5), 150_000);
        assert!(HealthPolicy::default().problems().is_empty());
    }
}

//! Selection strategies and filters (issue 11: `round_robin | random | weighted |
//! least_used | fastest | sticky`, filters by scheme, anonymity, region and max latency).
//!
//! Selection runs over the candidates the caller has already narrowed to proxies usable for
//! the target now (the proxy and its (proxy, target) record both active). `sticky` is
//! resolved by the caller (the session's proxy, when still a candidate and within its
//! limits); a new or moved session falls back to `weighted`.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::endpoint::ProxyScheme;
use super::probe::Anonymity;

/// How a pool picks a proxy for a lease.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// In turn.
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// At random, weighted by the (proxy, target) score (default).
    #[default]
    Weighted,
    /// The one leased least (since start).
    LeastUsed,
    /// The lowest latency for the target (unknown latencies last).
    Fastest,
    /// The same proxy for the same `session_key` until it fails or reaches its limits.
    Sticky,
}

impl Strategy {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::Random => "random",
            Strategy::Weighted => "weighted",
            Strategy::LeastUsed => "least_used",
            Strategy::Fastest => "fastest",
            Strategy::Sticky => "sticky",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Strategy> {
        Some(match s {
            "round_robin" => Strategy::RoundRobin,
            "random" => Strategy::Random,
            "weighted" => Strategy::Weighted,
            "least_used" => Strategy::LeastUsed,
            "fastest" => Strategy::Fastest,
            "sticky" => Strategy::Sticky,
            _ => return None,
        })
    }
}

/// Which proxies a pool may lease (pool `settings.filters`); empty lists allow all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Filters {
    /// Allowed schemes.
    pub schemes: Vec<ProxyScheme>,
    /// Allowed anonymity levels (a proxy not yet tested has none and is excluded when
    /// this is set).
    pub anonymity: Vec<Anonymity>,
    /// Allowed regions (case-insensitive).
    pub regions: Vec<String>,
    /// Largest latency EWMA allowed, milliseconds, 1 to 600000 (unknown latency passes).
    #[schema(minimum = 1, maximum = 600000)]
    pub max_latency_ms: Option<u64>,
}

/// What a filter needs to know of a proxy.
#[derive(Clone, Copy, Debug)]
pub struct Traits<'a> {
    /// Its scheme.
    pub scheme: ProxyScheme,
    /// Tested anonymity, if any.
    pub anonymity: Option<Anonymity>,
    /// Its region, if any.
    pub region: Option<&'a str>,
    /// Latency EWMA for the target (or overall), ms.
    pub latency_ms: Option<f64>,
}

impl Filters {
    /// Whether a proxy with these traits may be leased.
    pub fn admits(&self, t: Traits<'_>) -> bool {
        (self.schemes.is_empty() || self.schemes.contains(&t.scheme))
            && (self.anonymity.is_empty()
                || t.anonymity.is_some_and(|a| self.anonymity.contains(&a)))
            && (self.regions.is_empty()
                || t.region
                    .is_some_and(|r| self.regions.iter().any(|x| x.eq_ignore_ascii_case(r))))
            && match (self.max_latency_ms, t.latency_ms) {
                (Some(max), Some(l)) => l <= max as f64,
                _ => true,
            }
    }
}

/// One usable proxy as the strategies see it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// The caller's index of the proxy.
    pub index: usize,
    /// Score for the target in `[0, 1]`.
    pub score: f64,
    /// Latency EWMA for the target, ms.
    pub latency_ms: Option<f64>,
    /// Leases so far.
    pub uses: u64,
}

/// Picks one candidate's `index` (`None` when there are none). `turn` is the pool's
/// round-robin counter.
pub fn pick(strategy: Strategy, candidates: &[Candidate], turn: &AtomicU64) -> Option<usize> {
    if candidates.is_empty() {
        return None;
    }
    let mut rng = rand::thread_rng();
    let chosen = match strategy {
        Strategy::RoundRobin => {
            let n = turn.fetch_add(1, Ordering::Relaxed);
            &candidates[(n % candidates.len() as u64) as usize]
        }
        Strategy::Random => &candidates[rng.gen_range(0..candidates.len())],
        Strategy::LeastUsed => candidates.iter().min_by_key(|c| c.uses)?,
        Strategy::Fastest => candidates.iter().min_by(|a, b| {
            let (x, y) = (
                a.latency_ms.unwrap_or(f64::INFINITY),
                b.latency_ms.unwrap_or(f64::INFINITY),
            );
            x.total_cmp(&y)
        })?,
        Strategy::Weighted | Strategy::Sticky => {
            // A floor keeps a poorly scored proxy in rotation, so its score can recover.
            let weight = |c: &Candidate| c.score.max(0.02);
            let total: f64 = candidates.iter().map(weight).sum();
            let mut at = rng.gen_range(0.0..total);
            let mut chosen = &candidates[candidates.len() - 1];
            for c in candidates {
                at -= weight(c);
                if at < 0.0 {
                    chosen = c;
                    break;
                }
            }
            chosen
        }
    };
    Some(chosen.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(index: usize, score: f64, latency: Option<f64>, uses: u64) -> Candidate {
        Candidate {
            index,
            score,
            latency_ms: latency,
            uses,
        }
    }

    #[test]
    fn strategies_pick_as_named() {
        let turn = AtomicU64::new(0);
        let cs = [
            c(10, 0.9, Some(300.0), 5),
            c(11, 0.1, Some(50.0), 1),
            c(12, 0.5, None, 9),
        ];
        let rr: Vec<_> = (0..4)
            .map(|_| pick(Strategy::RoundRobin, &cs, &turn).unwrap())
            .collect();
        assert_eq!(rr, vec![10, 11, 12, 10]);
        assert_eq!(pick(Strategy::LeastUsed, &cs, &turn), Some(11));
        assert_eq!(pick(Strategy::Fastest, &cs, &turn), Some(11));
        assert_eq!(pick(Strategy::Weighted, &[], &turn), None);
        let mut counts = [0usize; 3];
        for _ in 0..3000 {
            let i = pick(Strategy::Weighted, &cs, &turn).unwrap();
            counts[i - 10] += 1;
        }
        assert!(counts[0] > counts[2] && counts[2] > counts[1], "{counts:?}");
        for _ in 0..50 {
            assert!(pick(Strategy::Random, &cs, &turn).is_some_and(|i| (10..13).contains(&i)));
        }
    }

    #[test]
    fn filters_admit() {
        let f = Filters {
            schemes: vec![ProxyScheme::Socks5],
            anonymity: vec![Anonymity::Elite],
            regions: vec!["CN".into()],
            max_latency_ms: Some(500),
        };
        let ok = Traits {
            scheme: ProxyScheme::Socks5,
            anonymity: Some(Anonymity::Elite),
            region: Some("cn"),
            latency_ms: Some(100.0),
        };
        assert!(f.admits(ok));
        assert!(!f.admits(Traits {
            scheme: ProxyScheme::Http,
            ..ok
        }));
        assert!(!f.admits(Traits {
            anonymity: None,
            ..ok
        }));
        assert!(!f.admits(Traits {
            latency_ms: Some(900.0),
            ..ok
        }));
        assert!(Filters::default().admits(Traits {
            region: None,
            anonymity: None,
            ..ok
        }));
    }
}

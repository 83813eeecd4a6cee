//! The plans catalogue: Free, Pro and Team with their prices, entitlements and features,
//! replaceable as a whole from a JSON file named by `TRELLIS_PLANS_FILE` (format in
//! `docs/WORKFLOWS.md` "Plans").
//!
//! One deployment has one price list, so the catalogue is process-wide: the app installs
//! the configured one when its router is built ([`install`]), after `check_settings` has
//! refused a bad file at start-up; until then (and without the variable) the built-in one
//! applies. The quota functions the engine calls read it through [`catalogue`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock, RwLock};

use serde::{Deserialize, Serialize};

use super::subscription::BillingCycle;

/// The variable naming a JSON plans file.
pub const PLANS_FILE_VAR: &str = "TRELLIS_PLANS_FILE";

/// The id of the plan every account has without a paid subscription; a replacement
/// catalogue must contain it.
pub const FREE: &str = "free";

/// One limited resource of a plan.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Meter {
    /// Workflow executions started per UTC calendar month (a period meter).
    ExecutionsPerMonth,
    /// Executions running at the same time (a count meter).
    ConcurrentExecutions,
    /// Workflow definitions kept (a count meter).
    WorkflowDefinitions,
    /// Proxy pools kept (a count meter).
    ProxyPools,
    /// Items collected per UTC day (a period meter).
    CollectedItemsPerDay,
    /// Schedules kept (a count meter).
    Schedules,
}

impl Meter {
    /// Every meter, in the order `/usage` lists them.
    pub const ALL: [Meter; 6] = [
        Meter::ExecutionsPerMonth,
        Meter::ConcurrentExecutions,
        Meter::WorkflowDefinitions,
        Meter::ProxyPools,
        Meter::CollectedItemsPerDay,
        Meter::Schedules,
    ];

    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Meter::ExecutionsPerMonth => "executions_per_month",
            Meter::ConcurrentExecutions => "concurrent_executions",
            Meter::WorkflowDefinitions => "workflow_definitions",
            Meter::ProxyPools => "proxy_pools",
            Meter::CollectedItemsPerDay => "collected_items_per_day",
            Meter::Schedules => "schedules",
        }
    }

    /// Parses a meter name.
    pub fn parse(s: &str) -> Option<Meter> {
        Meter::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether the meter counts units per calendar period (month or day) rather than
    /// things that exist now.
    pub fn is_period(self) -> bool {
        matches!(
            self,
            Meter::ExecutionsPerMonth | Meter::CollectedItemsPerDay
        )
    }
}

/// What a plan allows: one limit per [`Meter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Entitlements {
    /// Executions started per UTC calendar month.
    pub executions_per_month: i64,
    /// Executions running at once.
    pub concurrent_executions: i64,
    /// Workflow definitions.
    pub workflow_definitions: i64,
    /// Proxy pools.
    pub proxy_pools: i64,
    /// Items collected per UTC day.
    pub collected_items_per_day: i64,
    /// Schedules.
    pub schedules: i64,
}

impl Entitlements {
    /// The limit of one meter.
    pub fn get(&self, m: Meter) -> i64 {
        match m {
            Meter::ExecutionsPerMonth => self.executions_per_month,
            Meter::ConcurrentExecutions => self.concurrent_executions,
            Meter::WorkflowDefinitions => self.workflow_definitions,
            Meter::ProxyPools => self.proxy_pools,
            Meter::CollectedItemsPerDay => self.collected_items_per_day,
            Meter::Schedules => self.schedules,
        }
    }

    /// Sets the limit of one meter.
    pub fn set(&mut self, m: Meter, limit: i64) {
        let slot = match m {
            Meter::ExecutionsPerMonth => &mut self.executions_per_month,
            Meter::ConcurrentExecutions => &mut self.concurrent_executions,
            Meter::WorkflowDefinitions => &mut self.workflow_definitions,
            Meter::ProxyPools => &mut self.proxy_pools,
            Meter::CollectedItemsPerDay => &mut self.collected_items_per_day,
            Meter::Schedules => &mut self.schedules,
        };
        *slot = limit;
    }

    /// These entitlements with a user's overrides applied.
    pub fn with_overrides(mut self, limits: &Limits) -> Entitlements {
        for (m, v) in limits {
            self.set(*m, *v);
        }
        self
    }
}

/// Per-user overrides of single meters (admin-set), `{meter: limit}`.
pub type Limits = BTreeMap<Meter, i64>;

/// A plan of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Stable id (`free`, `pro`, `team`): 1–32 of `[a-z0-9_-]`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Price per monthly period in the currency's minor unit (fen, cents): 9900 is 99.00.
    pub price_monthly: i64,
    /// Price per yearly period in the currency's minor unit.
    pub price_yearly: i64,
    /// ISO 4217 code, e.g. `CNY`.
    pub currency: String,
    /// The plan's limits.
    pub entitlements: Entitlements,
    /// Feature switches, `{name: enabled}`.
    #[schema(value_type = HashMap<String, bool>)]
    pub features: BTreeMap<String, bool>,
}

impl Plan {
    /// The price of one period of `cycle`, in minor units.
    pub fn price(&self, cycle: BillingCycle) -> i64 {
        match cycle {
            BillingCycle::Monthly => self.price_monthly,
            BillingCycle::Yearly => self.price_yearly,
        }
    }

    /// Whether the plan costs nothing (the Free plan).
    pub fn is_free(&self) -> bool {
        self.id == FREE
    }
}

/// The plans on offer, in display order.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalogue {
    plans: Vec<Plan>,
}

impl Catalogue {
    /// The built-in catalogue: Free, Pro, Team (prices in CNY fen).
    pub fn builtin() -> Catalogue {
        let features = |on: &[&str]| -> BTreeMap<String, bool> {
            [
                "api_access",
                "scheduled_workflows",
                "proxy_rotation",
                "data_export",
                "priority_support",
                "team_members",
            ]
            .into_iter()
            .map(|f| (f.to_string(), on.contains(&f)))
            .collect()
        };
        let plan = |id: &str, name: &str, monthly, yearly, e: [i64; 6], f| Plan {
            id: id.into(),
            name: name.into(),
            price_monthly: monthly,
            price_yearly: yearly,
            currency: "CNY".into(),
            entitlements: Entitlements {
                executions_per_month: e[0],
                concurrent_executions: e[1],
                workflow_definitions: e[2],
                proxy_pools: e[3],
                collected_items_per_day: e[4],
                schedules: e[5],
            },
            features: f,
        };
        Catalogue {
            plans: vec![
                plan(
                    FREE,
                    "Free",
                    0,
                    0,
                    [1_000, 2, 10, 1, 1_000, 2],
                    features(&["api_access", "scheduled_workflows"]),
                ),
                plan(
                    "pro",
                    "Pro",
                    9_900,
                    99_000,
                    [20_000, 10, 100, 10, 50_000, 50],
                    features(&[
                        "api_access",
                        "scheduled_workflows",
                        "proxy_rotation",
                        "data_export",
                    ]),
                ),
                plan(
                    "team",
                    "Team",
                    29_900,
                    299_000,
                    [100_000, 50, 1_000, 50, 500_000, 500],
                    features(&[
                        "api_access",
                        "scheduled_workflows",
                        "proxy_rotation",
                        "data_export",
                        "priority_support",
                        "team_members",
                    ]),
                ),
            ],
        }
    }

    /// Parses and checks a replacement catalogue: a JSON array of plans with unique ids,
    /// one of them `free` priced 0, prices and limits not negative, currency three
    /// upper-case letters. The error says what is wrong (without the variable's name).
    pub fn parse(json: &str) -> Result<Catalogue, String> {
        let plans: Vec<Plan> = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut seen = HashSet::new();
        for p in &plans {
            let id_ok = (1..=32).contains(&p.id.len())
                && p.id.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !id_ok {
                return Err(format!("plan id {:?} must be 1-32 of [a-z0-9_-]", p.id));
            }
            if !seen.insert(p.id.as_str()) {
                return Err(format!("plan id {:?} appears twice", p.id));
            }
            if p.name.trim().is_empty() {
                return Err(format!("plan {:?} needs a name", p.id));
            }
            if p.price_monthly < 0 || p.price_yearly < 0 {
                return Err(format!("plan {:?} has a negative price", p.id));
            }
            if p.currency.len() != 3 || !p.currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "plan {:?}: currency must be an ISO 4217 code such as CNY",
                    p.id
                ));
            }
            if let Some(m) = Meter::ALL.into_iter().find(|m| p.entitlements.get(*m) < 0) {
                return Err(format!("plan {:?}: {} is negative", p.id, m.as_str()));
            }
        }
        match plans.iter().find(|p| p.is_free()) {
            None => Err(format!("there must be a plan with id {FREE:?}")),
            Some(f) if f.price_monthly != 0 || f.price_yearly != 0 => {
                Err(format!("plan {FREE:?} must cost 0"))
            }
            Some(_) => Ok(Catalogue { plans }),
        }
    }

    /// The configured catalogue: the file `TRELLIS_PLANS_FILE` names, or `None` when the
    /// variable is unset or empty. The error names the variable and the file.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Option<Catalogue>, String> {
        let Some(path) = vars.get(PLANS_FILE_VAR).filter(|p| !p.trim().is_empty()) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{PLANS_FILE_VAR}: cannot read {path}: {e}"))?;
        Catalogue::parse(&text)
            .map(Some)
            .map_err(|e| format!("{PLANS_FILE_VAR}: {path} is not a valid plans file: {e}"))
    }

    /// Every plan, in display order.
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The plan with this id.
    pub fn get(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    /// The Free plan ([`Catalogue::parse`] guarantees there is one).
    pub fn free(&self) -> &Plan {
        match self.get(FREE) {
            Some(p) => p,
            // Unreachable for a parsed or built-in catalogue; stay total anyway.
            None => &BUILTIN.plans[0],
        }
    }
}

static BUILTIN: LazyLock<Arc<Catalogue>> = LazyLock::new(|| Arc::new(Catalogue::builtin()));
static INSTALLED: RwLock<Option<Arc<Catalogue>>> = RwLock::new(None);

/// The catalogue in force: the installed one, else the built-in one.
pub fn catalogue() -> Arc<Catalogue> {
    let installed = INSTALLED.read().unwrap_or_else(|e| e.into_inner()).clone();
    installed.unwrap_or_else(|| BUILTIN.clone())
}

/// Installs the catalogue `TRELLIS_PLANS_FILE` names (or the built-in one without it) as
/// the process's catalogue.
pub fn install(vars: &HashMap<String, String>) -> Result<(), String> {
    let chosen = Catalogue::from_vars(vars)?.map(Arc::new);
    *INSTALLED.write().unwrap_or_else(|e| e.into_inner()) = chosen;
    Ok(())
}

/// The app descriptor's `check_settings`: a bad `TRELLIS_PLANS_FILE` stops start-up.
pub fn check_settings(vars: &HashMap<String, String>) -> Vec<String> {
    Catalogue::from_vars(vars).err().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_free_plan_has_the_documented_limits() {
        let c = Catalogue::builtin();
        let f = c.free();
        assert_eq!(
            Meter::ALL.map(|m| f.entitlements.get(m)),
            [1_000, 2, 10, 1, 1_000, 2]
        );
        assert_eq!((f.price_monthly, f.price_yearly), (0, 0));
        let json = serde_json::to_string(c.plans()).unwrap();
        assert_eq!(
            Catalogue::parse(&json).unwrap(),
            c,
            "the file format round-trips"
        );
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        let c = Catalogue::builtin();
        let mut plans = c.plans().to_vec();
        plans.retain(|p| !p.is_free());
        let no_free = serde_json::to_string(&plans).unwrap();
        assert!(Catalogue::parse(&no_free).unwrap_err().contains("free"));
        let mut plans = c.plans().to_vec();
        plans[1].entitlements.schedules = -1;
        let negative = serde_json::to_string(&plans).unwrap();
        assert!(
            Catalogue::parse(&negative)
                .unwrap_err()
                .contains("schedules")
        );
        assert!(Catalogue::parse("{}").is_err());
        let vars = HashMap::from([(PLANS_FILE_VAR.to_string(), "/nonexistent/plans.json".into())]);
        let errs = check_settings(&vars);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with(PLANS_FILE_VAR), "{errs:?}");
    }

    #[test]
    fn overrides_replace_single_meters() {
        let e = Catalogue::builtin().free().entitlements;
        let o = e.with_overrides(&Limits::from([(Meter::Schedules, 7)]));
        assert_eq!(o.schedules, 7);
        assert_eq!(o.executions_per_month, 1_000);
    }
}

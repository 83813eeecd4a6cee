//! The diet planner's own settings (README lists them with their defaults). Every problem
//! names its variable and is reported at start-up with the rest of the configuration.

use std::collections::HashMap;

/// Settings read from the environment.
#[derive(Clone, Debug)]
pub struct DietSettings {
    /// `TRELLIS_DIET_MAX_ACTIVE_TASKS` (3): tasks a user may have pending or running at once;
    /// one more is refused with 429 (issue 12).
    pub max_active_tasks: i64,
    /// `TRELLIS_DIET_DAILY_TOKEN_BUDGET` (200000): LLM tokens (prompt + completion) a user may
    /// spend per UTC day; past it plans are made by the nutrition engine alone.
    pub daily_token_budget: i64,
    /// `TRELLIS_DIET_TOKEN_FRAMES_PER_SECOND` (20): `llm_token` frames a task emits per second
    /// at most; tokens arriving faster are coalesced into one frame (issue 12: ≤ 20).
    pub token_frames_per_second: u32,
    /// `TRELLIS_DIET_TIMEZONE` (`Asia/Shanghai`): the zone "today" is taken in for meals.
    pub timezone: chrono_tz::Tz,
    /// `TRELLIS_DIET_LLM_REPAIRS` (2): how many times an LLM reply that does not fit the
    /// narrative schema is sent back for repair before the narrative is omitted.
    pub llm_repairs: u32,
}

impl DietSettings {
    /// Reads the settings; every problem names its variable.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<DietSettings, Vec<String>> {
        let mut errors = Vec::new();
        let mut num = |name: &str, default: i64, min: i64, max: i64| -> i64 {
            match vars.get(name).map(|v| v.trim()) {
                None | Some("") => default,
                Some(v) => match v.parse::<i64>() {
                    Ok(n) if (min..=max).contains(&n) => n,
                    _ => {
                        errors.push(format!("{name} must be a whole number from {min} to {max}"));
                        default
                    }
                },
            }
        };
        let max_active_tasks = num("TRELLIS_DIET_MAX_ACTIVE_TASKS", 3, 1, 1000);
        let daily_token_budget = num("TRELLIS_DIET_DAILY_TOKEN_BUDGET", 200_000, 0, i64::MAX / 2);
        let fps = num("TRELLIS_DIET_TOKEN_FRAMES_PER_SECOND", 20, 1, 20);
        let repairs = num("TRELLIS_DIET_LLM_REPAIRS", 2, 0, 5);
        let timezone = match vars.get("TRELLIS_DIET_TIMEZONE").map(|v| v.trim()) {
            None | Some("") => chrono_tz::Asia::Shanghai,
            Some(v) => v.parse().unwrap_or_else(|_| {
                errors.push(format!(
                    "TRELLIS_DIET_TIMEZONE must be an IANA time zone such as Asia/Shanghai, not {v:?}"
                ));
                chrono_tz::Asia::Shanghai
            }),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(DietSettings {
            max_active_tasks,
            daily_token_budget,
            token_frames_per_second: fps as u32,
            timezone,
            llm_repairs: repairs as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let s = DietSettings::from_vars(&HashMap::new()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s.max_active_tasks, 3);
        assert_eq!(s.token_frames_per_second, 20);
        let bad: HashMap<String, String> = [
            ("TRELLIS_DIET_MAX_ACTIVE_TASKS", "0"),
            ("TRELLIS_DIET_TOKEN_FRAMES_PER_SECOND", "50"),
            ("TRELLIS_DIET_TIMEZONE", "Mars/Olympus"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let errs = DietSettings::from_vars(&bad).err().unwrap_or_default();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].contains("TRELLIS_DIET_MAX_ACTIVE_TASKS"));
    }
}

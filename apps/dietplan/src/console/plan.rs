//! The plan page: week tabs, each day's meals and food items, the day's nutrients against the
//! plan's daily targets, and "apply" (make it the pet's active plan from a start day).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use trellis_console::page::{self, Nav, csrf_input, error_note, ok_note};
use trellis_console::shell::failure;
use trellis_console::{Lang, Member};
use uuid::Uuid;

use super::fail;
use crate::service::plans::{self as plan_svc, ApplyBody};
use crate::state::DietState;
use crate::store::pets as pet_store;
use crate::store::plans::Plan;

/// Query of the plan page: the week tab (1–4) and the note after applying.
#[derive(Deserialize, Default)]
pub struct WeekQuery {
    week: Option<usize>,
    applied: Option<usize>,
}

/// The apply form (`POST /plans/{id}/apply`'s fields; empty means "the default").
#[derive(Deserialize, Default)]
pub struct ApplyForm {
    #[serde(default)]
    pet_id: String,
    #[serde(default)]
    start_date: String,
}

/// `GET /console/diet/plans/{id}?week=N`.
pub(super) async fn page(
    State(s): State<DietState>,
    m: Member,
    Path(id): Path<Uuid>,
    Query(q): Query<WeekQuery>,
) -> Response {
    view(&s, &m, id, &q, StatusCode::OK, None).await
}

/// `POST /console/diet/plans/{id}/apply`: applies the plan, then back to the plan page with
/// the number of meals made (or the service's message in place).
pub(super) async fn apply(
    State(s): State<DietState>,
    m: Member,
    Path(id): Path<Uuid>,
    axum::Form(f): axum::Form<ApplyForm>,
) -> Response {
    let lang = m.lang();
    let start_date = match f.start_date.trim() {
        "" => None,
        d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                let msg = lang.t(
                    "开始日期须为 YYYY-MM-DD。",
                    "The start date must be YYYY-MM-DD.",
                );
                let q = WeekQuery::default();
                return view(&s, &m, id, &q, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await;
            }
        },
    };
    let pet_id = match f.pet_id.trim() {
        "" => None,
        p => match p.parse() {
            Ok(p) => Some(p),
            Err(_) => {
                let msg = lang.t("请选择一只宠物。", "Choose a pet.");
                let q = WeekQuery::default();
                return view(&s, &m, id, &q, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await;
            }
        },
    };
    match plan_svc::apply(&s, &m.principal, id, ApplyBody { pet_id, start_date }).await {
        Ok(a) => page::redirect_to(
            false,
            &format!("/console/diet/plans/{id}?applied={}", a.meals_created),
        ),
        Err(e) => {
            let (status, msg) = failure(e);
            view(&s, &m, id, &WeekQuery::default(), status, Some(&msg)).await
        }
    }
}

async fn view(
    s: &DietState,
    m: &Member,
    id: Uuid,
    q: &WeekQuery,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let lang = m.lang();
    let plan = match plan_svc::get(s, &m.principal, id).await {
        Ok(p) => p,
        Err(e) => return fail(m, e),
    };
    // The pets it can be applied to: its own, or (inline pet info) the user's of its species.
    let pets = if plan.pet_id.is_some() {
        Vec::new()
    } else {
        match pet_store::list(&s.platform.db, m.principal.user_id, 100, 0).await {
            Ok((pets, _)) => pets
                .into_iter()
                .filter(|p| crate::service::tasks::species_name(p.species) == plan.pet_type)
                .map(|p| (p.id, p.name))
                .collect(),
            Err(e) => return fail(m, e.into()),
        }
    };
    let doc = &plan.plan_data;
    let weeks = doc["pet_diet_plan"]["monthly_diet_plan"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let w = q.week.unwrap_or(1).clamp(1, weeks.len().max(1));
    let week = weeks.get(w - 1).unwrap_or(&Value::Null);
    let days = week["weekly_diet_plan"]["daily_diet_plans"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let targets = &doc["nutrition_targets"];
    let applied = q.applied.map(|n| match lang {
        Lang::Zh => format!("已应用：生成了 {n} 条餐食记录。"),
        Lang::En => format!("Applied: {n} meal records made."),
    });
    let body = html! {
        (error_note(error))
        (ok_note(applied.as_deref()))
        section.card {
            h2 { (lang.t("每日营养目标", "Daily targets")) }
            table {
                thead { tr {
                    th scope="col" { (lang.t("能量 (kcal)", "Energy (kcal)")) }
                    th scope="col" { (lang.t("蛋白质 (g)", "Protein (g)")) }
                    th scope="col" { (lang.t("脂肪 (g)", "Fat (g)")) }
                    th scope="col" { (lang.t("碳水上限 (g)", "Carbohydrates, at most (g)")) }
                } }
                tbody { tr {
                    td { (num(&targets["daily_kcal"])) }
                    td { (num(&targets["protein_g"])) }
                    td { (num(&targets["fat_g"])) }
                    td { (num(&targets["carbohydrates_g"])) }
                } }
            }
            @if let Some(s) = doc["ai_suggestions"].as_str() { p { (s) } }
            p.muted { (lang.t("本计划仅供参考，请与兽医确认。", "This plan is guidance; confirm it with a veterinarian.")) }
        }
        (apply_form(m, &plan, &pets))
        nav.tabs aria-label=(lang.t("周", "Weeks")) {
            @for n in 1..=weeks.len() {
                a href=(format!("/console/diet/plans/{id}?week={n}")) aria-current=[(n == w).then_some("page")] {
                    @match lang { Lang::Zh => { "第 " (n) " 周" }, Lang::En => { "Week " (n) } }
                }
            }
        }
        @if let Some(p) = week["diet_adjustment_principle"].as_str() { p { (p) } }
        @for d in days {
            (day_card(lang, d, targets))
        }
    };
    page::respond(
        status,
        page::frame(
            &m.guest,
            Some(m),
            Nav::Diet,
            lang.t("饮食计划", "Diet plan"),
            body,
        ),
    )
}

fn num(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "—".to_string(), |x| format!("{x:.0}"))
}

fn apply_form(m: &Member, plan: &Plan, pets: &[(Uuid, String)]) -> Markup {
    let lang = m.lang();
    let ctx = &m.guest.ctx;
    html! {
        section.card {
            h2 { (lang.t("应用计划", "Apply the plan")) }
            @if plan.is_active {
                p { span.badge.active { (lang.t("执行中", "active")) } " "
                    @if let Some(d) = plan.active_start_date { (lang.t("开始于 ", "since ")) (d) }
                    @if let Some(pet) = plan.pet_id {
                        " · " a href=(format!("/console/diet/pets/{pet}/meals")) { (lang.t("今日餐食", "Today's meals")) }
                    }
                }
            }
            form.stack method="post" action=(format!("/console/diet/plans/{}/apply", plan.id)) {
                (csrf_input(ctx))
                @if plan.pet_id.is_none() {
                    label for="apply-pet" { (lang.t("宠物", "Pet")) }
                    select id="apply-pet" name="pet_id" required {
                        @for (id, name) in pets { option value=(id) { (name) } }
                    }
                }
                label for="apply-start" { (lang.t("开始日期（留空为今天）", "Start date (empty: today)")) }
                input id="apply-start" type="date" name="start_date";
                button type="submit" {
                    @if plan.is_active { (lang.t("重新应用", "Apply again")) } @else { (lang.t("应用此计划", "Apply this plan")) }
                }
            }
        }
    }
}

/// One day: its meals, its food items, and its nutrients against the daily targets.
fn day_card(lang: Lang, d: &Value, targets: &Value) -> Markup {
    let totals = &d["totals"];
    // (label, this day, target, the target is a maximum)
    let rows = [
        (
            lang.t("能量 (kcal)", "Energy (kcal)"),
            &d["kcal"],
            &targets["daily_kcal"],
            false,
        ),
        (
            lang.t("蛋白质 (g)", "Protein (g)"),
            &totals["protein_g"],
            &targets["protein_g"],
            false,
        ),
        (
            lang.t("脂肪 (g)", "Fat (g)"),
            &totals["fat_g"],
            &targets["fat_g"],
            false,
        ),
        (
            lang.t("碳水化合物 (g)", "Carbohydrates (g)"),
            &totals["carbohydrates_g"],
            &targets["carbohydrates_g"],
            true,
        ),
    ];
    html! {
        section.card {
            h2 {
                @match lang { Lang::Zh => { "第 " (d["day"]) " 天" }, Lang::En => { "Day " (d["day"]) } }
                " · " (num(&d["kcal"])) " kcal"
            }
            @if let Some(meals) = d["meals"].as_array() {
                h3 { (lang.t("餐次", "Meals")) }
                ul {
                    @for meal in meals {
                        li {
                            strong { (meal["time"].as_str().unwrap_or("")) " " (meal_type(lang, meal["meal_type"].as_str().unwrap_or(""))) }
                            " · " (num(&meal["kcal"])) " kcal: "
                            @for (i, it) in meal["items"].as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
                                @if i > 0 { "、" }
                                (it["name"].as_str().unwrap_or("")) " " (it["weight"]) " g"
                            }
                        }
                    }
                }
            }
            h3 { (lang.t("营养与目标", "Nutrients against the targets")) }
            table {
                thead { tr {
                    th scope="col" { (lang.t("营养素", "Nutrient")) }
                    th scope="col" { (lang.t("当天", "This day")) }
                    th scope="col" { (lang.t("目标", "Target")) }
                    th scope="col" { (lang.t("达成", "Met")) }
                } }
                tbody {
                    @for (label, have, want, max) in rows {
                        tr {
                            td { (label) }
                            td { (num(have)) }
                            td { @if max { "≤ " } (num(want)) }
                            td { (met(lang, have.as_f64(), want.as_f64(), max)) }
                        }
                    }
                    @if let Some(r) = totals["ca_p_ratio"].as_f64() {
                        tr {
                            td { (lang.t("钙磷比", "Ca:P ratio")) }
                            td { (format!("{r:.2}")) }
                            td { "1.0–2.0" }
                            td { (met_range(lang, r, 1.0, 2.0)) }
                        }
                    }
                }
            }
            details {
                summary { (lang.t("食材明细", "Food items")) }
                table {
                    thead { tr {
                        th scope="col" { (lang.t("食物", "Food")) }
                        th scope="col" { (lang.t("重量 (g)", "Weight (g)")) }
                        th scope="col" { "kcal" }
                    } }
                    tbody {
                        @for it in d["food_items"].as_array().map(Vec::as_slice).unwrap_or_default() {
                            tr {
                                td { (it["name"].as_str().unwrap_or("")) }
                                td { (it["weight"]) }
                                td { (it["kcal"]) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "✓" when the day meets the target (within 5 % for energy and minimums; at most the
/// target for a maximum), else how far off in percent.
fn met(lang: Lang, have: Option<f64>, want: Option<f64>, max: bool) -> Markup {
    let (Some(have), Some(want)) = (have, want) else {
        return html! { "—" };
    };
    if want <= 0.0 {
        return html! { "—" };
    }
    let pct = (have / want * 100.0).round();
    let ok = if max {
        have <= want * 1.001
    } else {
        have >= want * 0.95
    };
    html! {
        @if ok { span.badge.completed { "✓ " (pct) "%" } }
        @else { span.badge.failed { (lang.t("偏离 ", "off ")) (pct) "%" } }
    }
}

fn met_range(lang: Lang, v: f64, lo: f64, hi: f64) -> Markup {
    html! {
        @if (lo..=hi).contains(&v) { span.badge.completed { "✓" } }
        @else { span.badge.failed { (lang.t("超出范围", "out of range")) } }
    }
}

/// `breakfast|lunch|dinner|snack` in the page's language.
pub(super) fn meal_type(lang: Lang, t: &str) -> &'static str {
    match t {
        "breakfast" => lang.t("早餐", "breakfast"),
        "lunch" => lang.t("午餐", "lunch"),
        "dinner" => lang.t("晚餐", "dinner"),
        "snack" => lang.t("加餐", "snack"),
        _ => lang.t("餐", "meal"),
    }
}

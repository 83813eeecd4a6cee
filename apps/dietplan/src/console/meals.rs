//! A pet's meals of a day ("today's meals" by default): each meal of the applied plan with
//! its foods, marked fed or not with one button; the day's progress; the days around it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;
use trellis_console::Member;
use trellis_console::page::{self, Nav, csrf_input, error_note};
use uuid::Uuid;

use super::fail;
use super::plan::meal_type;
use crate::service::meals as meal_svc;
use crate::state::DietState;
use crate::store::pets as pet_store;

/// Query of the meals page: the day (`YYYY-MM-DD`; default today in
/// `TRELLIS_DIET_TIMEZONE`).
#[derive(Deserialize, Default)]
pub struct DayQuery {
    date: Option<String>,
}

/// The fed/not-fed form.
#[derive(Deserialize)]
pub struct MarkForm {
    /// `true` (fed) or `false`.
    done: String,
}

/// `GET /console/diet/pets/{id}/meals?date=`.
pub(super) async fn page(
    State(s): State<DietState>,
    m: Member,
    Path(pet): Path<Uuid>,
    Query(q): Query<DayQuery>,
) -> Response {
    let lang = m.lang();
    let (date, error) = match q.date.as_deref().map(str::trim) {
        None | Some("") => (None, None),
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => (Some(d), None),
            Err(_) => (
                None,
                Some(lang.t(
                    "日期须为 YYYY-MM-DD，已显示今天。",
                    "The date must be YYYY-MM-DD; showing today.",
                )),
            ),
        },
    };
    let p = match pet_store::get(&s.platform.db, m.principal.user_id, pet).await {
        Ok(Some(p)) => p,
        Ok(None) => return page::not_found(&m),
        Err(e) => return fail(&m, e.into()),
    };
    let day = match meal_svc::day(&s, &m.principal, pet, date).await {
        Ok(d) => d,
        Err(e) => return fail(&m, e),
    };
    let ctx = &m.guest.ctx;
    let link = |d: NaiveDate| format!("/console/diet/pets/{pet}/meals?date={d}");
    let body = html! {
        (error_note(error))
        nav.tabs aria-label=(lang.t("日期", "Days")) {
            @if let Some(prev) = day.date.pred_opt() { a href=(link(prev)) rel="prev" { "← " (prev) } }
            span aria-current="date" { (day.date) }
            @if let Some(next) = day.date.succ_opt() { a href=(link(next)) rel="next" { (next) " →" } }
        }
        section.card {
            h2 { (p.name) " · " (day.date) }
            @if day.meals.is_empty() {
                p.muted { (lang.t("这一天没有餐食记录：先在计划页面应用一个计划。", "No meals this day: apply a plan on its page first.")) }
            } @else {
                label for="meals-done" { (lang.t("已喂", "Fed")) " " (day.completed) " / " (day.meals.len()) }
                progress id="meals-done" max=(day.meals.len()) value=(day.completed) { (day.completed) }
                p { (lang.t("合计 ", "Total ")) (format!("{:.0}", day.total_calories)) " kcal" }
                table {
                    thead { tr {
                        th scope="col" { (lang.t("时间", "Time")) }
                        th scope="col" { (lang.t("餐次", "Meal")) }
                        th scope="col" { (lang.t("食物", "Food")) }
                        th scope="col" { "kcal" }
                        th scope="col" { (lang.t("状态", "Status")) }
                    } }
                    tbody {
                        @for meal in &day.meals {
                            tr id=(format!("meal-{}", meal.id)) {
                                td { (meal.meal_time.as_deref().unwrap_or("")) }
                                td { (meal_type(lang, &meal.meal_type)) }
                                td { (meal.food_name) }
                                td { (format!("{:.0}", meal.calories)) }
                                td {
                                    form.inline method="post" action=(format!("/console/diet/meals/{}", meal.id)) {
                                        (csrf_input(ctx))
                                        @if meal.is_completed {
                                            span.badge.completed { (lang.t("已喂", "fed")) } " "
                                            input type="hidden" name="done" value="false";
                                            button type="submit" { (lang.t("撤销", "Undo")) }
                                        } @else {
                                            input type="hidden" name="done" value="true";
                                            button type="submit" { (lang.t("标记已喂", "Mark fed")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p { a href="/console/diet" { (lang.t("返回饮食计划", "Back to diet plans")) } }
    };
    page::respond(
        StatusCode::OK,
        page::frame(
            &m.guest,
            Some(&m),
            Nav::Diet,
            lang.t("今日餐食", "Today's meals"),
            body,
        ),
    )
}

/// `POST /console/diet/meals/{id}`: marks the meal fed (`done=true`) or not, then back to its
/// day.
pub(super) async fn mark(
    State(s): State<DietState>,
    m: Member,
    Path(id): Path<Uuid>,
    axum::Form(f): axum::Form<MarkForm>,
) -> Response {
    let done = match f.done.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return page::failure_page(
                &m,
                Nav::Diet,
                m.lang().t("今日餐食", "Today's meals"),
                crate::error::DietError::field("done", "invalid", "done is true or false"),
            );
        }
    };
    match meal_svc::set_completed(&s, &m.principal, id, done, None).await {
        Ok(meal) => page::redirect_to(
            false,
            &format!(
                "/console/diet/pets/{}/meals?date={}",
                meal.pet_id, meal.meal_date
            ),
        ),
        Err(e) => fail(&m, e),
    }
}

//! The diet planner's console pages (issue 13) under `/console/diet`: pets (list, add),
//! "create plan" with a live progress view that follows the task's frames over SSE and
//! survives a reload (the page renders the task as it is, then replays its idempotent patches
//! and follows live; the browser's `EventSource` resumes with `Last-Event-ID`), the plan view
//! (week tabs, daily meals, the day's nutrients against the targets, "apply") and a pet's meals
//! of a day ("today's meals", marking each fed). Every page calls the same services as the
//! API; another user's pets, tasks, plans and meals are 404 here too.

mod meals;
mod plan;
mod task;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use trellis_console::Member;
use trellis_console::page::{self, Nav, csrf_input, error_note};
use trellis_console::shell::failure;
use uuid::Uuid;

use crate::error::DietError;
use crate::service::pets::{self as pet_svc, PetBody};
use crate::service::plans as plan_svc;
use crate::service::tasks::{self as task_svc, PlanRequest};
use crate::state::DietState;
use crate::store::pets as pet_store;
use crate::store::plans::PlanFilter;

/// The console routes.
pub fn router() -> Router<DietState> {
    Router::new()
        .route("/console/diet", get(home).post(add_pet))
        .route("/console/diet/pets/{id}/plan", post(create_plan))
        .route("/console/diet/tasks/{id}", get(task::page))
        .route("/console/diet/tasks/{id}/events", get(task::events))
        .route("/console/diet/plans/{id}", get(plan::page))
        .route("/console/diet/plans/{id}/apply", post(plan::apply))
        .route("/console/diet/pets/{id}/meals", get(meals::page))
        .route("/console/diet/meals/{id}", post(meals::mark))
}

fn fail(m: &Member, e: DietError) -> Response {
    page::failure_page(m, Nav::Diet, m.lang().t("饮食计划", "Diet plans"), e)
}

/// The add-pet form (the API's field names).
#[derive(Deserialize, Default)]
pub struct PetForm {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    species: String,
    #[serde(default)]
    age_months: String,
    #[serde(default)]
    weight_kg: String,
    neutered: Option<String>,
    #[serde(default)]
    activity_level: String,
}

async fn home(State(s): State<DietState>, m: Member) -> Response {
    home_view(&s, &m, StatusCode::OK, None, &PetForm::default()).await
}

async fn home_view(
    s: &DietState,
    m: &Member,
    status: StatusCode,
    error: Option<&str>,
    form: &PetForm,
) -> Response {
    let lang = m.lang();
    let db = &s.platform.db;
    let pets = match pet_store::list(db, m.principal.user_id, 100, 0).await {
        Ok((pets, _)) => pets,
        Err(e) => return fail(m, e.into()),
    };
    let filter = PlanFilter {
        pet_type: None,
        pet_id: None,
    };
    let plans = match plan_svc::list(s, &m.principal, &filter, 1, 20).await {
        Ok((plans, _)) => plans,
        Err(e) => return fail(m, e),
    };
    let ctx = &m.guest.ctx;
    let species = |t: &str| match t {
        "cat" => lang.t("猫", "cat"),
        _ => lang.t("狗", "dog"),
    };
    let body = html! {
        (error_note(error))
        section.card {
            h2 { (lang.t("我的宠物", "My pets")) }
            @if pets.is_empty() {
                p.muted { (lang.t("还没有宠物，先添加一只。", "No pets yet; add one first.")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("名字", "Name")) }
                        th scope="col" { (lang.t("种类", "Type")) }
                        th scope="col" { (lang.t("月龄", "Age (months)")) }
                        th scope="col" { (lang.t("体重 (kg)", "Weight (kg)")) }
                        th scope="col" { (lang.t("当前计划", "Active plan")) }
                        th scope="col" { span.muted { (lang.t("操作", "Action")) } }
                    } }
                    tbody {
                        @for p in &pets {
                            @let t = serde_json::to_value(p.species).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                            tr {
                                td { (p.name) }
                                td { (species(&t)) }
                                td { (p.age_months) }
                                td { (p.weight_kg) }
                                td {
                                    @if let Some(plan) = p.active_plan_id {
                                        a href=(format!("/console/diet/plans/{plan}")) { (lang.t("查看", "View")) }
                                        " · "
                                        a href=(format!("/console/diet/pets/{}/meals", p.id)) { (lang.t("今日餐食", "Today's meals")) }
                                    } @else { "—" }
                                }
                                td {
                                    form.inline method="post" action=(format!("/console/diet/pets/{}/plan", p.id)) {
                                        (csrf_input(ctx))
                                        button type="submit" { (lang.t("生成饮食计划", "Create a plan")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (lang.t("添加宠物", "Add a pet")) }
            form.stack method="post" action="/console/diet" {
                (csrf_input(ctx))
                label { (lang.t("名字", "Name")) input type="text" name="name" value=(form.name) required maxlength="50"; }
                label { (lang.t("种类", "Type"))
                    select name="type" required {
                        option value="dog" selected[form.species != "cat"] { (lang.t("狗", "Dog")) }
                        option value="cat" selected[form.species == "cat"] { (lang.t("猫", "Cat")) }
                    }
                }
                label { (lang.t("月龄（1–360）", "Age in months (1–360)")) input type="number" name="age_months" value=(form.age_months) min="1" max="360" required; }
                label { (lang.t("体重（kg，0.1–200）", "Weight (kg, 0.1–200)")) input type="number" name="weight_kg" value=(form.weight_kg) min="0.1" max="200" step="0.1" required; }
                label.check { input type="checkbox" name="neutered" value="true" checked[form.neutered.is_some()]; (lang.t("已绝育", "Neutered")) }
                label { (lang.t("活动量", "Activity"))
                    select name="activity_level" {
                        @for (v, zh, en) in [("moderate", "中等", "moderate"), ("low", "低", "low"), ("high", "高", "high"), ("working", "工作犬", "working")] {
                            option value=(v) selected[form.activity_level == v] { (lang.t(zh, en)) }
                        }
                    }
                }
                button type="submit" { (lang.t("添加", "Add")) }
            }
        }
        section.card {
            h2 { (lang.t("最近的计划", "Recent plans")) }
            @if plans.is_empty() {
                p.muted { (lang.t("还没有计划。", "No plans yet.")) }
            } @else {
                ul {
                    @for p in &plans {
                        li {
                            a href=(format!("/console/diet/plans/{}", p.id)) {
                                (species(&p.pet_type)) " · " (p.pet_weight) " kg · "
                                @if let Some(k) = p.daily_kcal { (format!("{k:.0}")) " kcal/" (lang.t("天", "day")) }
                            }
                            " " span.muted { (p.created_at.format("%Y-%m-%d %H:%M")) }
                            @if p.is_active { " " span.badge.active { (lang.t("执行中", "active")) } }
                        }
                    }
                }
            }
        }
    };
    page::respond(
        status,
        page::frame(
            &m.guest,
            Some(m),
            Nav::Diet,
            lang.t("饮食计划", "Diet plans"),
            body,
        ),
    )
}

async fn add_pet(
    State(s): State<DietState>,
    m: Member,
    axum::Form(f): axum::Form<PetForm>,
) -> Response {
    let lang = m.lang();
    let age = f.age_months.trim().parse::<i64>();
    let weight = f.weight_kg.trim().parse::<f64>();
    let (Ok(age), Ok(weight)) = (age, weight) else {
        let msg = lang.t("月龄和体重须为数字。", "Age and weight must be numbers.");
        return home_view(&s, &m, StatusCode::UNPROCESSABLE_ENTITY, Some(msg), &f).await;
    };
    let body = PetBody {
        name: Some(f.name.clone()),
        species: Some(f.species.clone()),
        age_months: Some(age),
        weight_kg: Some(weight),
        neutered: Some(f.neutered.is_some()),
        activity_level: Some(f.activity_level.clone()).filter(|a| !a.is_empty()),
        ..PetBody::default()
    };
    match pet_svc::create(&s, &m.principal, body).await {
        Ok(_) => page::redirect_to(false, "/console/diet"),
        Err(e) => {
            let (status, msg) = failure(e);
            home_view(&s, &m, status, Some(&msg), &f).await
        }
    }
}

async fn create_plan(State(s): State<DietState>, m: Member, Path(pet): Path<Uuid>) -> Response {
    let req = PlanRequest {
        pet_id: Some(pet),
        ..PlanRequest::default()
    };
    match task_svc::create(&s, &m.principal, &req, None).await {
        Ok(created) => {
            page::redirect_to(false, &format!("/console/diet/tasks/{}", created.task_id))
        }
        Err(e) => fail(&m, e),
    }
}

//! The diet planner's routes, one module per resource.

pub mod auth;
pub mod meals;
pub mod pets;
pub mod plans;
pub mod stream;
pub mod tasks;

use serde::Serialize;
use trellis_identity::admin::Page;

use crate::error::DietError;

/// A 1-based page request (`page` ≥ 1 default 1, `page_size` 1 to 100 default 20), as
/// `(page, size)`; 422 naming the field otherwise (originals.md §3.1: `page_size ≤ 100`).
pub(crate) fn paging(page: Option<i64>, size: Option<i64>) -> Result<(i64, i64), DietError> {
    let (page, size) = (page.unwrap_or(1), size.unwrap_or(20));
    if page < 1 {
        return Err(DietError::field(
            "page",
            "out_of_range",
            "page is 1 or more",
        ));
    }
    if !(1..=100).contains(&size) {
        return Err(DietError::field(
            "page_size",
            "out_of_range",
            "page_size is 1 to 100",
        ));
    }
    Ok((page, size))
}

/// A page of `items` out of `total`.
pub(crate) fn page_of<T>(items: Vec<T>, total: i64, page: i64, size: i64) -> Page<T> {
    Page::of(items, total, page, size)
}

/// The answer to a delete.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DietDeleted)]
pub struct Deleted {
    /// The deleted resource.
    pub id: uuid::Uuid,
}

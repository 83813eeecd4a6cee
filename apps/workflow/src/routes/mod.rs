//! HTTP routes, one module per resource.

pub mod collections;
pub mod collections_xhs;
pub mod proxy;
pub mod subscription;
pub mod users;
pub mod workflow;

use trellis_identity::admin::Page;

use crate::error::WorkflowError;

/// A 1-based page request (`page` ≥ 1 default 1, `page_size` 1 to 100 default 20), as
/// `(page, size)`; 422 naming the field otherwise.
pub(crate) fn paging(page: Option<i64>, size: Option<i64>) -> Result<(i64, i64), WorkflowError> {
    let (page, size) = (page.unwrap_or(1), size.unwrap_or(20));
    if page < 1 || !(1..=100).contains(&size) {
        return Err(WorkflowError::field(
            if page < 1 { "page" } else { "page_size" },
            "out_of_range",
            "page is 1 or more and page_size 1 to 100",
        ));
    }
    Ok((page, size))
}

/// A page of `items` out of `total`.
pub(crate) fn page_of<T>(items: Vec<T>, total: i64, page: i64, size: i64) -> Page<T> {
    Page::of(items, total, page, size)
}

//! The pure parsers: one function per page kind, each taking the page text and returning
//! typed records or a [`super::ParseError`]. No network, no clock (except epoch formatting),
//! selectors compiled once.

mod book;
mod book_mobile;
mod catalog;
mod chapter;
mod rank;
mod search;

pub use book::parse_book;
pub use catalog::{parse_catalog_html, parse_catalog_json};
pub use chapter::classify_chapter;
pub use rank::{PAGE_SIZE, parse_pagination, parse_rankings};
pub use search::parse_search;

#[cfg(test)]
mod tests_book;
#[cfg(test)]
mod tests_lists;

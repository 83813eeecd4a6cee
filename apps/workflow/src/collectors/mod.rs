//! Collectors (seed 000 "多平台数据采集", bounded contexts `qidian` and `xiaohongshu`):
//! workflow step types that fetch public metadata politely and store it in the platform's
//! own tables (`wf_collections`, `wf_collection_items`).
//!
//! - `qidian`: parsers for Qidian (起点) pages and JSON, metadata only;
//! - `xhs`: the Xiaohongshu (小红书) web API client, its `Signer` and parsers;
//! - `polite`: robots.txt, pacing per host, budgets, proxy leases, block detection;
//! - `run`: one collector step's collection, checkpoint and storage;
//! - `qidian_steps`, `xhs_steps`: the `qidian.*` and `xhs.*` step types;
//! - `export`: JSON, JSONL, CSV (UTF-8 BOM) and XLSX exports, streamed;
//! - `fixtures` (feature `fixtures`): local servers imitating both sites and real local
//!   proxies, for tests and benches; never used against live sites.

pub mod export;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod polite;
pub mod qidian;
pub mod qidian_steps;
pub mod run;
pub mod xhs;
pub mod xhs_steps;

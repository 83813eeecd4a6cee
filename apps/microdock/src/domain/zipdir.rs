//! The raw central directory of a zip archive, read record by record (APPNOTE.TXT §4.3.12,
//! §4.3.16, §4.3.14-15 for Zip64), and the checks that make an archive read the same in every
//! reader (issue 7 item 4).
//!
//! The `zip` crate keeps entries in a map keyed by name: of two entries named `plugin.json`
//! it keeps the last, while .NET's `ZipArchive` (the MicroDock desktop client) reads the
//! first, and an entry dropped from the map escapes the size guards. So the guards run on
//! these records instead, and an archive is refused when:
//! - two entries have one name (compared after `\` -> `/`, a trailing `/` and ASCII case are
//!   dropped: Windows file systems ignore case);
//! - the number of records differs from what the end record declares, or from what the
//!   `zip` crate sees, or the directory has bytes after its last record;
//! - an entry's local header is missing or names it differently from its central record
//!   (streaming readers use local headers);
//! - two entries' data overlap, or reach into the central directory (overlapping-entry
//!   zip bombs);
//! - an entry carries an Info-ZIP Unicode path (extra field 0x7075) naming it differently
//!   (readers that honour it and readers that ignore it would see two names).

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

/// One central-directory record.
#[derive(Clone, Debug)]
pub struct RawEntry {
    /// The name as stored (bytes).
    pub name: Vec<u8>,
    /// Declared compressed size in bytes.
    pub compressed: u64,
    /// Declared uncompressed size in bytes.
    pub uncompressed: u64,
    /// Offset of the local header.
    pub local_offset: u64,
}

const EOCD: u32 = 0x0605_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const ZIP64_EOCD: u32 = 0x0606_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;

const CORRUPT: &str = "ZIP 文件已损坏或格式不正确";

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: usize) -> Result<Vec<u8>, String> {
    r.seek(SeekFrom::Start(at))
        .map_err(|_| CORRUPT.to_string())?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).map_err(|_| CORRUPT.to_string())?;
    Ok(buf)
}

/// `(entries, directory offset, directory size)` from the end records.
fn end_record<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<(u64, u64, u64), String> {
    let tail_len = file_len.min(22 + 65_535);
    let tail = read_at(r, file_len - tail_len, tail_len as usize)?;
    // The last signature whose comment ends exactly at the end of the file.
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| {
            u32_at(&tail, i) == Some(EOCD)
                && u16_at(&tail, i + 20).is_some_and(|c| i + 22 + c as usize == tail.len())
        })
        .ok_or_else(|| CORRUPT.to_string())?;
    let field = |i| u16_at(&tail, at + i).ok_or_else(|| CORRUPT.to_string());
    let long = |i| u32_at(&tail, at + i).ok_or_else(|| CORRUPT.to_string());
    let (count, size, offset) = (field(10)?, long(12)?, long(16)?);
    if field(4)? != 0 || field(6)? != 0 || field(8)? != count {
        return Err("不支持分卷 ZIP 文件".into());
    }
    if count != u16::MAX && size != u32::MAX && offset != u32::MAX {
        return Ok((count.into(), offset.into(), size.into()));
    }
    // Zip64: the locator sits just before the end record.
    let eocd_pos = file_len - tail_len + at as u64;
    let locator = read_at(r, eocd_pos.checked_sub(20).ok_or(CORRUPT)?, 20)?;
    if u32_at(&locator, 0) != Some(ZIP64_LOCATOR) {
        return Err(CORRUPT.into());
    }
    let z64 = read_at(r, u64_at(&locator, 8).ok_or(CORRUPT)?, 56)?;
    if u32_at(&z64, 0) != Some(ZIP64_EOCD) {
        return Err(CORRUPT.into());
    }
    let get = |i| u64_at(&z64, i).ok_or_else(|| CORRUPT.to_string());
    if get(24)? != get(32)? {
        return Err("不支持分卷 ZIP 文件".into());
    }
    Ok((get(32)?, get(48)?, get(40)?))
}

/// Reads every central-directory record, refusing more than `max_entries` before reading
/// them, and checks the archive as described in the module documentation. `zip_crate_len`
/// is the number of entries the `zip` crate sees.
pub fn read<R: Read + Seek>(
    r: &mut R,
    max_entries: usize,
    zip_crate_len: usize,
) -> Result<Vec<RawEntry>, String> {
    let file_len = r.seek(SeekFrom::End(0)).map_err(|_| CORRUPT.to_string())?;
    let (count, offset, size) = end_record(r, file_len)?;
    if count > max_entries as u64 {
        return Err(format!("压缩包内文件数 {count} 超过上限 {max_entries}"));
    }
    if offset.checked_add(size).is_none_or(|end| end > file_len) {
        return Err(CORRUPT.into());
    }
    let dir = read_at(r, offset, size as usize)?;
    let mut entries = Vec::with_capacity(count as usize);
    let mut at = 0usize;
    for _ in 0..count {
        entries.push(record(&dir, &mut at)?);
    }
    if at != dir.len() {
        return Err("ZIP 中央目录含有未声明的记录".into());
    }
    if entries.len() != zip_crate_len {
        return Err("压缩包内有重复的文件名".into());
    }
    let mut seen = HashSet::with_capacity(entries.len());
    for e in &entries {
        if !seen.insert(comparable(&e.name)) {
            return Err(format!(
                "压缩包内有重复的文件名 {:?}",
                String::from_utf8_lossy(&e.name)
            ));
        }
    }
    check_local_headers(r, &entries, offset)?;
    Ok(entries)
}

/// The form two names are compared in: `/` separators, no trailing `/`, ASCII lower case.
fn comparable(name: &[u8]) -> Vec<u8> {
    let mut n: Vec<u8> = name
        .iter()
        .map(|b| {
            if *b == b'\\' {
                b'/'
            } else {
                b.to_ascii_lowercase()
            }
        })
        .collect();
    while n.last() == Some(&b'/') {
        n.pop();
    }
    n
}

/// Parses the record at `*at` and moves past it.
fn record(dir: &[u8], at: &mut usize) -> Result<RawEntry, String> {
    let h = dir.get(*at..*at + 46).ok_or(CORRUPT)?;
    if u32_at(h, 0) != Some(CENTRAL) {
        return Err(CORRUPT.into());
    }
    let n = u16_at(h, 28).ok_or(CORRUPT)? as usize;
    let e = u16_at(h, 30).ok_or(CORRUPT)? as usize;
    let c = u16_at(h, 32).ok_or(CORRUPT)? as usize;
    let name = dir.get(*at + 46..*at + 46 + n).ok_or(CORRUPT)?.to_vec();
    let extra = dir.get(*at + 46 + n..*at + 46 + n + e).ok_or(CORRUPT)?;
    let mut entry = RawEntry {
        name,
        compressed: u32_at(h, 20).ok_or(CORRUPT)?.into(),
        uncompressed: u32_at(h, 24).ok_or(CORRUPT)?.into(),
        local_offset: u32_at(h, 42).ok_or(CORRUPT)?.into(),
    };
    extras(extra, &mut entry)?;
    *at += 46 + n + e + c;
    if *at > dir.len() {
        return Err(CORRUPT.into());
    }
    Ok(entry)
}

/// Applies the Zip64 extra field (sizes and offset that did not fit in 32 bits, in this
/// order, only those that are `0xFFFFFFFF`) and checks any Unicode path field.
fn extras(mut extra: &[u8], e: &mut RawEntry) -> Result<(), String> {
    while extra.len() >= 4 {
        let id = u16_at(extra, 0).ok_or(CORRUPT)?;
        let len = u16_at(extra, 2).ok_or(CORRUPT)? as usize;
        let data = extra.get(4..4 + len).ok_or(CORRUPT)?;
        match id {
            0x0001 => {
                let mut i = 0;
                for field in [&mut e.uncompressed, &mut e.compressed, &mut e.local_offset] {
                    if *field == u64::from(u32::MAX) {
                        *field = u64_at(data, i).ok_or(CORRUPT)?;
                        i += 8;
                    }
                }
            }
            0x7075 if data.get(5..) != Some(e.name.as_slice()) => {
                return Err(format!(
                    "压缩包内 {:?} 的 Unicode 路径与文件名不一致",
                    String::from_utf8_lossy(&e.name)
                ));
            }
            _ => {}
        }
        extra = &extra[4 + len..];
    }
    Ok(())
}

/// Every entry has a local header naming it the same, and no two entries' bytes overlap.
fn check_local_headers<R: Read + Seek>(
    r: &mut R,
    entries: &[RawEntry],
    dir_offset: u64,
) -> Result<(), String> {
    let mut spans = Vec::with_capacity(entries.len());
    for e in entries {
        let h = read_at(r, e.local_offset, 30)?;
        if u32_at(&h, 0) != Some(LOCAL) {
            return Err(CORRUPT.into());
        }
        let n = u16_at(&h, 26).ok_or(CORRUPT)? as u64;
        let x = u16_at(&h, 28).ok_or(CORRUPT)? as u64;
        let local_name = read_at(r, e.local_offset + 30, n as usize)?;
        if local_name != e.name {
            return Err(format!(
                "压缩包内 {:?} 的本地文件头与中央目录不一致",
                String::from_utf8_lossy(&e.name)
            ));
        }
        let end = e
            .local_offset
            .checked_add(30 + n + x)
            .and_then(|v| v.checked_add(e.compressed))
            .ok_or(CORRUPT)?;
        spans.push((e.local_offset, end));
    }
    spans.sort_unstable();
    for pair in spans.windows(2) {
        if pair[0].1 > pair[1].0 {
            return Err("压缩包内的文件数据相互重叠，疑似压缩炸弹".into());
        }
    }
    if spans.last().is_some_and(|s| s.1 > dir_offset) {
        return Err("压缩包内的文件数据相互重叠，疑似压缩炸弹".into());
    }
    Ok(())
}

//! Inspecting an uploaded plugin archive without extracting it: zip-slip and zip-bomb guards
//! over every raw central-directory record ([`zipdir`]: duplicates, hidden or overlapping
//! entries refused), then `plugin.json` (read with a cap on the bytes actually
//! decompressed, whatever its header declares) and the presence of the main DLL.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

use super::manifest::Manifest;
use super::zipdir;
use crate::settings::ZipLimits;

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

fn unsafe_path(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if name.contains('\0') {
        return Some("包含非法字符");
    }
    if name.starts_with('/') || name.starts_with('\\') || (bytes.len() > 1 && bytes[1] == b':') {
        return Some("是绝对路径");
    }
    if name.split(['/', '\\']).any(|seg| seg == "..") {
        return Some("包含 .. 路径穿越");
    }
    None
}

/// Checks the archive in `reader` and returns its manifest.
pub fn inspect<R: Read + Seek>(mut reader: R, limits: &ZipLimits) -> Result<Manifest, String> {
    let mut magic = [0u8; 4];
    reader
        .read_exact(&mut magic)
        .map_err(|_| "不是有效的 ZIP 文件".to_string())?;
    if &magic != b"PK\x03\x04" {
        return Err("不是有效的 ZIP 文件（文件头不匹配）".into());
    }
    reader.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let archive =
        zip::ZipArchive::new(reader).map_err(|_| "ZIP 文件已损坏或格式不正确".to_string())?;
    let seen_by_crate = archive.len();
    let mut reader = archive.into_inner();
    // The guards run on every raw central-directory record: the crate's name-keyed map
    // drops duplicates (issue 7 item 4).
    let raw = zipdir::read(&mut reader, limits.max_entries, seen_by_crate)?;
    let mut total: u64 = 0;
    for entry in &raw {
        let name = String::from_utf8_lossy(&entry.name);
        total = total.saturating_add(entry.uncompressed);
        if total > limits.max_total_uncompressed {
            return Err(format!(
                "解压后总大小超过上限 {} 字节",
                limits.max_total_uncompressed
            ));
        }
        if entry.uncompressed >= limits.ratio_min_size
            && entry.uncompressed > entry.compressed.saturating_mul(limits.max_ratio)
        {
            return Err(format!(
                "压缩包内 {name:?} 压缩比超过 {}:1，疑似压缩炸弹",
                limits.max_ratio
            ));
        }
    }
    reader.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut archive =
        zip::ZipArchive::new(reader).map_err(|_| "ZIP 文件已损坏或格式不正确".to_string())?;
    let mut names = HashSet::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|_| "ZIP 文件已损坏或格式不正确".to_string())?;
        let name = entry.name().to_string();
        if let Some(why) = unsafe_path(&name) {
            return Err(format!("压缩包内路径 {name:?} {why}"));
        }
        if entry.unix_mode().is_some_and(|m| m & S_IFMT == S_IFLNK) {
            return Err(format!("压缩包内 {name:?} 是符号链接，不允许"));
        }
        names.insert(name.trim_end_matches('/').replace('\\', "/"));
    }
    let prefix = if names.contains("plugin.json") {
        String::new()
    } else {
        let tops: HashSet<&str> = names.iter().filter_map(|n| n.split('/').next()).collect();
        match tops.into_iter().collect::<Vec<_>>().as_slice() {
            [only] if names.contains(&format!("{only}/plugin.json")) => format!("{only}/"),
            _ => return Err("plugin.json 缺失（须位于压缩包根目录或唯一的顶层目录中）".into()),
        }
    };
    let manifest_bytes = {
        let entry = archive
            .by_name(&format!("{prefix}plugin.json"))
            .map_err(|_| "plugin.json 无法读取".to_string())?;
        let mut buf = Vec::new();
        entry
            .take(limits.max_manifest + 1)
            .read_to_end(&mut buf)
            .map_err(|_| "plugin.json 解压失败".to_string())?;
        if buf.len() as u64 > limits.max_manifest {
            return Err(format!("plugin.json 超过 {} 字节", limits.max_manifest));
        }
        buf
    };
    let manifest = Manifest::parse(&manifest_bytes)?;
    // Entry paths compare in one canonical form: `/` separators, no leading `./`, ASCII case
    // ignored (the host loads the DLL from a Windows file system, where `lib\p.dll` is
    // `lib/P.dll`; names equal in that form are refused as duplicates, so a match is unique).
    let main = manifest.main.replace('\\', "/");
    let main = main.trim_start_matches("./");
    let wanted = format!("{prefix}{main}").to_ascii_lowercase();
    if unsafe_path(main).is_some() || !names.iter().any(|n| n.to_ascii_lowercase() == wanted) {
        return Err(format!("主 DLL 文件 {:?} 不在压缩包中", manifest.main));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;

    use super::*;

    fn limits() -> ZipLimits {
        ZipLimits {
            max_entries: 10,
            max_total_uncompressed: 50 * 1024 * 1024,
            ratio_min_size: 1024 * 1024,
            max_ratio: 100,
            max_manifest: 64 * 1024,
        }
    }

    const MANIFEST: &str =
        r#"{"name":"com.example.p","version":"1.0.0","main":"P.dll","entryClass":"P.Entry"}"#;

    fn build(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn accepts_root_and_single_folder_layouts() {
        let z = build(&[("plugin.json", MANIFEST.as_bytes()), ("P.dll", b"MZ")]);
        assert_eq!(
            inspect(Cursor::new(z), &limits()).unwrap().name.as_str(),
            "com.example.p"
        );
        let z = build(&[("p/plugin.json", MANIFEST.as_bytes()), ("p/P.dll", b"MZ")]);
        assert!(inspect(Cursor::new(z), &limits()).is_ok());
    }

    #[test]
    fn rejects_what_it_must() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not a zip at all".to_vec(), "ZIP"),
            (build(&[("P.dll", b"MZ")]), "plugin.json 缺失"),
            (build(&[("plugin.json", MANIFEST.as_bytes())]), "主 DLL"),
            (
                build(&[
                    ("plugin.json", MANIFEST.as_bytes()),
                    ("P.dll", b"MZ"),
                    ("../evil", b"x"),
                ]),
                "..",
            ),
            (
                build(&[
                    ("plugin.json", MANIFEST.as_bytes()),
                    ("P.dll", b"MZ"),
                    ("/etc/x", b"x"),
                ]),
                "绝对路径",
            ),
            (
                build(&[("a/plugin.json", MANIFEST.as_bytes()), ("b/P.dll", b"MZ")]),
                "plugin.json 缺失",
            ),
            (
                build(&[
                    ("plugin.json", MANIFEST.as_bytes()),
                    ("P.dll", &vec![0u8; 2 * 1024 * 1024]),
                ]),
                "压缩比",
            ),
        ];
        for (z, needle) in cases {
            let e = inspect(Cursor::new(z), &limits()).unwrap_err();
            assert!(e.contains(needle), "{needle}: {e}");
        }
        let many: Vec<(String, Vec<u8>)> = (0..11).map(|i| (format!("f{i}"), vec![1u8])).collect();
        let refs: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        assert!(
            inspect(Cursor::new(build(&refs)), &limits())
                .unwrap_err()
                .contains("文件数")
        );
    }

    /// Replaces every occurrence of `from` by `to` (same length): names in local headers and
    /// central records alike, so the archive stays well-formed.
    fn rename_everywhere(mut zip: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let mut i = 0;
        while i + from.len() <= zip.len() {
            if &zip[i..i + from.len()] == from {
                zip[i..i + from.len()].copy_from_slice(to);
            }
            i += 1;
        }
        zip
    }

    /// Issue 7 item 4: an archive with two entries named `plugin.json` was accepted and the
    /// server read the last one (the .NET client reads the first).
    #[test]
    fn duplicate_manifests_are_refused() {
        let other = MANIFEST.replace("com.example.p", "com.example.q");
        let z = build(&[
            ("plugin.json", MANIFEST.as_bytes()),
            ("P.dll", b"MZ"),
            ("plugim.json", other.as_bytes()),
        ]);
        let z = rename_everywhere(z, b"plugim.json", b"plugin.json");
        let e = inspect(Cursor::new(z), &limits()).unwrap_err();
        assert!(e.contains("重复"), "{e}");
    }

    /// Issue 7 item 4: a zip bomb hidden behind a same-named small entry passed the guards
    /// (the crate's map kept only the small one).
    #[test]
    fn bombs_behind_a_duplicate_name_are_refused() {
        let bomb = vec![0u8; 4 * 1024 * 1024];
        let deflate =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("plugin.json", deflate).unwrap();
        w.write_all(MANIFEST.as_bytes()).unwrap();
        w.start_file("Q.dll", deflate).unwrap();
        w.write_all(&bomb).unwrap();
        w.start_file("P.dll", deflate).unwrap();
        w.write_all(b"MZ").unwrap();
        let z = rename_everywhere(w.finish().unwrap().into_inner(), b"Q.dll", b"P.dll");
        let e = inspect(Cursor::new(z), &limits()).unwrap_err();
        assert!(e.contains("重复") || e.contains("压缩比"), "{e}");
    }

    /// Names that differ only in case or separator are one file on Windows.
    #[test]
    fn names_equal_on_windows_are_refused() {
        for (a, b) in [("P.dll", "p.DLL"), ("lib/x.dll", "lib\\x.dll")] {
            let z = build(&[("plugin.json", MANIFEST.as_bytes()), (a, b"MZ"), (b, b"MZ")]);
            let e = inspect(Cursor::new(z), &limits()).unwrap_err();
            assert!(e.contains("重复"), "{a} {b}: {e}");
        }
    }

    /// A local header naming an entry differently from its central record reads
    /// differently in streaming readers.
    #[test]
    fn local_and_central_names_must_agree() {
        let z = build(&[("plugin.json", MANIFEST.as_bytes()), ("P.dll", b"MZ")]);
        // The first occurrence of "P.dll" is the local header's.
        let at = z.windows(5).position(|w| w == b"P.dll").unwrap();
        let mut z = z;
        z[at] = b'X';
        let e = inspect(Cursor::new(z), &limits()).unwrap_err();
        assert!(e.contains("本地文件头"), "{e}");
    }

    /// Issue 7 item 3: the main DLL named `lib\\p.dll` or `./LIB/P.DLL` is the entry
    /// `lib/P.dll` for the Windows host; it was refused as missing.
    #[test]
    fn main_dll_is_found_in_canonical_form() {
        for main in ["lib/P.dll", "lib\\P.dll", "./lib/p.dll", "LIB/P.DLL"] {
            let m = MANIFEST.replace("\"P.dll\"", &format!("{:?}", main));
            let z = build(&[("plugin.json", m.as_bytes()), ("lib/P.dll", b"MZ")]);
            assert!(inspect(Cursor::new(z), &limits()).is_ok(), "{main}");
        }
        let m = MANIFEST.replace("\"P.dll\"", "\"../P.dll\"");
        let z = build(&[("plugin.json", m.as_bytes()), ("P.dll", b"MZ")]);
        assert!(inspect(Cursor::new(z), &limits()).is_err());
    }

    #[test]
    fn symlinks_are_refused() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("plugin.json", SimpleFileOptions::default())
            .unwrap();
        w.write_all(MANIFEST.as_bytes()).unwrap();
        w.add_symlink("P.dll", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        let z = w.finish().unwrap().into_inner();
        assert!(
            inspect(Cursor::new(z), &limits())
                .unwrap_err()
                .contains("符号链接")
        );
    }

    #[test]
    fn manifest_reads_are_capped_on_real_bytes() {
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024));
        let z = build(&[("plugin.json", big.as_bytes()), ("P.dll", b"MZ")]);
        assert!(
            inspect(Cursor::new(z), &limits())
                .unwrap_err()
                .contains("plugin.json 超过")
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Arbitrary bytes, and a valid archive with any of its bytes flipped, are refused
            /// or read within the limits; never a panic, never an unbounded read.
            #[test]
            fn damaged_archives_never_panic(
                noise in proptest::collection::vec(any::<u8>(), 0..2048),
                flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            ) {
                let _ = inspect(Cursor::new(noise), &limits());
                let mut zip = build(&[("plugin.json", MANIFEST.as_bytes()), ("P.dll", b"MZ")]);
                for (at, byte) in flips {
                    let i = at.index(zip.len());
                    zip[i] ^= byte;
                }
                let _ = inspect(Cursor::new(zip), &limits());
            }
        }
    }
}

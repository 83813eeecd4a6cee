//! `plugin.json`: required `name`, `version` (semver 2.0), `main`, `entryClass`; optional
//! display fields; `dependencies` / `engines` as maps of name -> range (`>=`, `^`, `~`, `*`,
//! exact), where an empty string or null means none.

use std::collections::BTreeMap;

use semver::{Version, VersionReq};
use serde_json::Value;

use super::names::{PluginName, homepage, plain_text};

/// A validated manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// `name`: reverse-domain plugin id (e.g. `com.example.myplugin`).
    pub name: PluginName,
    /// `version`: semver 2.0 (at most 64 characters), in its canonical form: build metadata
    /// dropped ([`canonical_version`]).
    pub version: Version,
    /// `main`: the entry file inside the package (trimmed, at most 255 characters).
    pub main: String,
    /// `entryClass`: the class the host loads (trimmed, at most 255 characters).
    pub entry_class: String,
    /// `displayName` (at most 200 characters; empty means none). This and the other display
    /// fields are plain text ([`plain_text`]: no HTML).
    pub display_name: Option<String>,
    /// `description` (at most 4000 characters).
    pub description: Option<String>,
    /// `author` (at most 200 characters).
    pub author: Option<String>,
    /// `license`, e.g. an SPDX id (at most 100 characters).
    pub license: Option<String>,
    /// `homepage` URL (at most 500 characters; `http`/`https` only, [`homepage`]).
    pub homepage: Option<String>,
    /// `changelog` text (at most 20 000 characters).
    pub changelog: Option<String>,
    /// `dependencies`: plugin name -> version range (at most 200 entries).
    pub dependencies: BTreeMap<String, String>,
    /// `engines`: host/engine name -> version range (at most 200 entries).
    pub engines: BTreeMap<String, String>,
}

fn required(obj: &serde_json::Map<String, Value>, key: &str, max: usize) -> Result<String, String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= max => {
            Ok(s.trim().to_string())
        }
        Some(Value::String(s)) if s.len() > max => {
            Err(format!("plugin.json 字段 {key} 超过 {max} 个字符"))
        }
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(format!("plugin.json 缺少必需字段 {key}"))
        }
        Some(_) => Err(format!("plugin.json 字段 {key} 必须是字符串")),
    }
}

fn optional(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() > max => {
            Err(format!("plugin.json 字段 {key} 超过 {max} 个字符"))
        }
        Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
        Some(_) => Err(format!("plugin.json 字段 {key} 必须是字符串")),
    }
}

/// The canonical form of a version, under which versions are stored, unique and looked up:
/// semver 2.0 with the build metadata dropped, since "build metadata MUST be ignored when
/// determining version precedence" (semver 2.0 §10), so `1.0.0+a` and `1.0.0+b` are one
/// version, `1.0.0` (issue 7 item 3). `None` when `s` (trimmed) is not semver.
pub fn canonical_version(s: &str) -> Option<Version> {
    let mut v = Version::parse(s.trim()).ok()?;
    v.build = semver::BuildMetadata::EMPTY;
    Some(v)
}

/// Checks one range with the seed's syntax (§5.5).
pub fn check_range(range: &str) -> Result<(), String> {
    let r = range.trim();
    if r == "*" {
        return Ok(());
    }
    let exact = Version::parse(r).is_ok();
    let prefixed = ["^", "~", ">=", "<=", ">", "<", "="]
        .iter()
        .any(|p| r.starts_with(p) && VersionReq::parse(r).is_ok());
    if exact || prefixed {
        Ok(())
    } else {
        Err(format!(
            "版本约束 {range:?} 无效（支持 >=、^、~、*、精确版本）"
        ))
    }
}

fn ranges(
    obj: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<BTreeMap<String, String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => {
            if map.len() > 200 {
                return Err(format!("plugin.json 字段 {key} 条目过多"));
            }
            let mut out = BTreeMap::new();
            for (name, v) in map {
                let Value::String(range) = v else {
                    return Err(format!(
                        "plugin.json 字段 {key}.{name} 必须是版本约束字符串"
                    ));
                };
                if name.is_empty() || name.len() > 128 {
                    return Err(format!("plugin.json 字段 {key} 含有无效名称"));
                }
                check_range(range).map_err(|e| format!("{key}.{name}: {e}"))?;
                out.insert(name.clone(), range.trim().to_string());
            }
            Ok(out)
        }
        Some(_) => Err(format!(
            "plugin.json 字段 {key} 必须是对象（名称 -> 版本约束）"
        )),
    }
}

impl Manifest {
    /// Parses and validates `plugin.json` bytes (UTF-8, a BOM allowed). The error is the
    /// message shown to the uploader (in Chinese, as the seed's clients expect), naming the
    /// offending field.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let text = std::str::from_utf8(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes))
            .map_err(|_| "plugin.json 不是 UTF-8 文本".to_string())?;
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("plugin.json 格式错误：{e}"))?;
        let Value::Object(obj) = value else {
            return Err("plugin.json 必须是 JSON 对象".into());
        };
        let name = PluginName::parse(&required(&obj, "name", 128)?)?;
        let version_text = required(&obj, "version", 64)?;
        let version = canonical_version(&version_text)
            .ok_or_else(|| format!("版本号 {version_text:?} 不符合语义化版本规范（例如 1.0.0）"))?;
        let shown = |key: &str, max: usize, multiline: bool| -> Result<Option<String>, String> {
            let v = optional(&obj, key, max)?;
            if let Some(t) = &v {
                plain_text(key, t, multiline).map_err(|e| format!("plugin.json 字段 {e}"))?;
            }
            Ok(v)
        };
        let homepage_url = optional(&obj, "homepage", 500)?;
        if let Some(h) = &homepage_url {
            homepage(h.trim()).map_err(|e| format!("plugin.json 字段 {e}"))?;
        }
        Ok(Manifest {
            name,
            version,
            main: required(&obj, "main", 255)?,
            entry_class: required(&obj, "entryClass", 255)?,
            display_name: shown("displayName", 200, false)?,
            description: shown("description", 4000, true)?,
            author: shown("author", 200, false)?,
            license: shown("license", 100, false)?,
            homepage: homepage_url.map(|h| h.trim().to_string()),
            changelog: shown("changelog", 20_000, true)?,
            dependencies: ranges(&obj, "dependencies")?,
            engines: ranges(&obj, "engines")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_minimal_manifests() {
        let m = Manifest::parse(r#"{"name":"com.example.myplugin","version":"1.0.0","main":"MyPlugin.dll",
            "entryClass":"MyPlugin.PluginEntry","displayName":"我的插件","dependencies":{"com.other.plugin":">=1.0.0",
            "a.b":"^0.5.0","c.d":"~2.1.0","e.f":"*","g.h":"1.2.3"},"engines":""}"#.as_bytes())
            .unwrap();
        assert_eq!(m.name.as_str(), "com.example.myplugin");
        assert_eq!(m.dependencies.len(), 5);
        assert!(m.engines.is_empty());
        assert_eq!(m.display_name.as_deref(), Some("我的插件"));
    }

    /// Issue 7 item 3: `1.0.0+a` and `1.0.0+b` were stored as two versions; build metadata
    /// does not distinguish versions, so both read as `1.0.0`.
    #[test]
    fn build_metadata_is_not_part_of_the_version() {
        for v in ["1.0.0+a", "1.0.0+b.7", " 1.0.0 ", "1.0.0"] {
            assert_eq!(canonical_version(v).unwrap().to_string(), "1.0.0", "{v}");
        }
        assert_eq!(
            canonical_version("2.0.0-rc.1+exp").unwrap().to_string(),
            "2.0.0-rc.1"
        );
        assert!(canonical_version("v1.0.0").is_none());
        let m = Manifest::parse(
            br#"{"name":"a.b","version":"1.2.3+build.9","main":"a.dll","entryClass":"A"}"#,
        )
        .unwrap();
        assert_eq!(m.version.to_string(), "1.2.3");
    }

    #[test]
    fn precise_errors() {
        let cases = [
            (
                r#"{"version":"1.0.0","main":"a.dll","entryClass":"A"}"#,
                "name",
            ),
            (
                r#"{"name":"x","version":"1.0.0","main":"a.dll","entryClass":"A"}"#,
                "反向域名",
            ),
            (
                r#"{"name":"a.b","version":"1.0","main":"a.dll","entryClass":"A"}"#,
                "语义化版本",
            ),
            (
                r#"{"name":"a.b","version":"1.0.0","entryClass":"A"}"#,
                "main",
            ),
            (
                r#"{"name":"a.b","version":"1.0.0","main":"a.dll"}"#,
                "entryClass",
            ),
            (
                r#"{"name":"a.b","version":"1.0.0","main":"a.dll","entryClass":"A","dependencies":{"x.y":"latest"}}"#,
                "latest",
            ),
            (
                r#"{"name":"a.b","version":"1.0.0","main":"a.dll","entryClass":"A","engines":[1]}"#,
                "engines",
            ),
            (r#"[1,2]"#, "对象"),
            (r#"{"name":"#, "格式错误"),
        ];
        for (text, needle) in cases {
            let e = Manifest::parse(text.as_bytes()).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Arbitrary bytes (not JSON, JSON of the wrong shape, huge numbers) are refused
            /// with a message, never a panic.
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = Manifest::parse(&bytes);
            }

            /// A manifest with any strings in its fields parses or is refused; an accepted one
            /// carries the (trimmed) name and the version it was given.
            #[test]
            fn any_field_values(
                name in prop_oneof![".{0,40}", "[a-z]{1,8}\\.[a-z0-9_-]{1,8}(\\.[a-z]{1,8})?"],
                version in prop_oneof![".{0,20}", "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(-[a-z0-9.]{1,8})?"],
                main in ".{0,40}",
                entry in ".{0,40}",
            ) {
                let json = serde_json::json!({"name": name, "version": version, "main": main, "entryClass": entry});
                if let Ok(m) = Manifest::parse(json.to_string().as_bytes()) {
                    prop_assert_eq!(m.name.as_str(), name.trim());
                    prop_assert_eq!(m.version, canonical_version(&version).unwrap());
                }
            }
        }
    }
}

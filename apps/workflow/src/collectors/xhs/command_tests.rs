//! CommandSigner tests with small `sh` scripts written to a temp dir (no quoting games).

use std::path::PathBuf;
use std::time::Duration;

use super::{CommandSigner, split_command_line};
use crate::collectors::xhs::signer::{SignError, SignRequest, Signer};

struct TempScript {
    path: PathBuf,
}

impl TempScript {
    fn new(body: &str) -> TempScript {
        let path = std::env::temp_dir().join(format!("xhs-signer-{}.sh", uuid::Uuid::new_v4()));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        TempScript { path }
    }

    fn command(&self, extra: &str) -> String {
        format!("sh '{}' {extra}", self.path.display())
    }
}

impl Drop for TempScript {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn request() -> SignRequest {
    SignRequest {
        method: "POST".into(),
        path: "/api/sns/web/v1/search/notes".into(),
        body: Some("{\"keyword\":\"露营\"}".into()),
        cookies: "a1=deviceid123; web_session=sessionsecret".into(),
    }
}

#[tokio::test]
async fn answers_are_filtered_headers() {
    let script = TempScript::new(
        r#"cat >/dev/null; echo '{"headers":{"x-s":"a","X-T":"17","cookie":"a1=evil"}}'"#,
    );
    let signer = CommandSigner::new(&script.command("")).unwrap();
    let headers = signer.sign(&request()).await.unwrap();
    let pairs: Vec<_> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(pairs, [("x-s", "a"), ("x-t", "17")]);
}

#[tokio::test]
async fn the_request_json_arrives_on_stdin_and_arguments_are_split() {
    let out = std::env::temp_dir().join(format!("xhs-signer-in-{}.json", uuid::Uuid::new_v4()));
    let script = TempScript::new(r#"cat > "$1"; echo '{"headers":{"x-s":"b"}}'"#);
    let signer = CommandSigner::new(&script.command(&format!("'{}'", out.display()))).unwrap();
    signer.sign(&request()).await.unwrap();
    let received: SignRequest = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(received, request());
}

#[tokio::test]
async fn failures_report_stderr_without_cookies() {
    let script = TempScript::new(
        r#"input=$(cat); echo "cannot sign $input" >&2; echo second line >&2; exit 3"#,
    );
    let signer = CommandSigner::new(&script.command("")).unwrap();
    let err = signer.sign(&request()).await.unwrap_err();
    let SignError::Exit { code, stderr } = &err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(*code, Some(3));
    assert!(stderr.starts_with("cannot sign"), "{stderr}");
    assert!(!stderr.contains("deviceid123") && !stderr.contains("sessionsecret"));
    assert!(!err.to_string().contains("sessionsecret"));
    assert!(!stderr.contains("second line"));
}

#[tokio::test]
async fn slow_signers_are_killed() {
    let script = TempScript::new("sleep 30");
    let signer = CommandSigner::new(&script.command(""))
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert_eq!(signer.sign(&request()).await, Err(SignError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn bad_output_and_missing_programs() {
    let script = TempScript::new("cat >/dev/null; echo not json");
    let signer = CommandSigner::new(&script.command("")).unwrap();
    assert!(matches!(
        signer.sign(&request()).await,
        Err(SignError::BadResponse(_))
    ));
    let missing = CommandSigner::new("/nonexistent/xhs-signer --flag").unwrap();
    assert!(matches!(
        missing.sign(&request()).await,
        Err(SignError::Spawn(_))
    ));
    let flood = TempScript::new("cat >/dev/null; head -c 70000 /dev/zero");
    let signer = CommandSigner::new(&flood.command("")).unwrap();
    assert!(matches!(
        signer.sign(&request()).await,
        Err(SignError::BadResponse(_))
    ));
}

#[test]
fn command_lines_split_like_a_shell_without_one() {
    let cases: &[(&str, &[&str])] = &[
        ("node sign.js", &["node", "sign.js"]),
        ("  a   b  ", &["a", "b"]),
        ("'a b' c", &["a b", "c"]),
        (r#""a \"b\" \$x \n" c"#, &[r#"a "b" $x \n"#, "c"]),
        (r"a\ b", &["a b"]),
        ("x''y", &["xy"]),
        ("''", &[""]),
        ("$HOME;rm", &["$HOME;rm"]),
        ("", &[]),
    ];
    for (line, want) in cases {
        let got = split_command_line(line).unwrap();
        assert_eq!(got, *want, "{line}");
    }
    for bad in ["'open", "\"open", "trailing\\"] {
        assert!(split_command_line(bad).is_err(), "{bad}");
    }
    assert!(CommandSigner::new("   ").is_err());
}

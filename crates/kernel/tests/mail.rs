//! Mail over real SMTP (a local fake server speaking the protocol) and to the outbox.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use trellis_kernel::config::Config;
use trellis_kernel::mail::Mailer;

/// Accepts one SMTP session and returns what arrived after DATA.
async fn fake_smtp() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let (r, mut w) = sock.into_split();
        let mut lines = BufReader::new(r).lines();
        w.write_all(b"220 fake.local ESMTP\r\n").await.unwrap();
        let mut in_data = false;
        let mut body = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    sink.lock().unwrap().push(std::mem::take(&mut body));
                    w.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                } else {
                    body.push_str(&line);
                    body.push('\n');
                }
                continue;
            }
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250-fake.local\r\n250 8BITMIME\r\n",
                "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.1.0 ok\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go ahead\r\n"
                }
                "QUIT" => {
                    w.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                }
                _ => b"502 5.5.2 not implemented\r\n",
            };
            w.write_all(reply).await.unwrap();
        }
    });
    (port, got)
}

#[tokio::test]
async fn smtp_delivers_through_a_real_protocol_exchange() {
    let (port, got) = fake_smtp().await;
    let vars: HashMap<String, String> = [
        ("SMTP_HOST", "127.0.0.1".to_string()),
        ("SMTP_PORT", port.to_string()),
        ("SMTP_USE_TLS", "false".to_string()),
        ("SMTP_FROM_EMAIL", "noreply@example.com".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = Config::from_vars(&vars).unwrap();
    let mailer = Mailer::from_config(config.smtp.as_ref(), &config.data_dir).unwrap();
    assert!(matches!(mailer, Mailer::Smtp { .. }));
    mailer
        .send(
            "user@example.com",
            "Hello",
            "Your verification code is 123456.",
        )
        .await
        .unwrap();
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("To: user@example.com"));
    assert!(got[0].contains("From: noreply@example.com"));
    assert!(got[0].contains("Your verification code is 123456."));
}

#[tokio::test]
async fn without_smtp_mail_goes_to_the_outbox() {
    let dir = std::env::temp_dir().join(format!("trellis-mail-{}", uuid::Uuid::new_v4().simple()));
    let mailer = Mailer::from_config(None, &dir).unwrap();
    mailer
        .send("a@example.com", "Subject", "Body text")
        .await
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.join("outbox")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(text.contains("Body text"));
    let _ = std::fs::remove_dir_all(dir);
    assert!(mailer.send("not an address", "s", "b").await.is_err());
}

/// Regression (issue 7, item 14): outbox mails, which carry login codes, were created with the
/// process umask (world-readable 0644); they are 0600 now, and the mailer's errors and log
/// lines carry masked addresses only.
#[cfg(unix)]
#[tokio::test]
async fn outbox_mails_are_private_and_addresses_are_masked() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("trellis-mail-{}", uuid::Uuid::new_v4().simple()));
    let mailer = Mailer::from_config(None, &dir).unwrap();
    mailer
        .send("alice@example.com", "Code", "123456")
        .await
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "outbox mail mode {mode:o}");
    let _ = std::fs::remove_dir_all(dir);

    assert_eq!(
        trellis_kernel::mail::mask_email("alice@example.com"),
        "a***@example.com"
    );
    assert_eq!(trellis_kernel::mail::mask_email("no-at-sign"), "***");
    let err = mailer
        .send("bob smith@example.com", "s", "b")
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("smith"), "address in an error: {err}");
}

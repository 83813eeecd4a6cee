//! [`CommandSigner`]: runs a local signer program per request, without a shell. The
//! [`SignRequest`] JSON goes to its stdin; it answers `{"headers": {…}}` on stdout.
//! Limits: [`SIGN_TIMEOUT`] by default (then the process is killed) and [`MAX_SIGN_RESPONSE`] bytes
//! of stdout. A non-zero exit reports the first line of stderr with cookie values removed.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::signer::{
    MAX_SIGN_RESPONSE, SIGN_TIMEOUT, SignError, SignRequest, Signer, parse_sign_response,
};

/// How much stderr is kept to report a failure.
const MAX_STDERR: usize = 4 * 1024;

/// A signer program: `argv[0]` run with `argv[1..]`, one process per request.
#[derive(Debug, Clone)]
pub struct CommandSigner {
    argv: Vec<String>,
    timeout: Duration,
}

impl CommandSigner {
    /// Splits `command_line` with [`split_command_line`] (no shell is involved).
    ///
    /// Errors: [`SignError::Config`] for an empty line or unbalanced quotes.
    pub fn new(command_line: &str) -> Result<Self, SignError> {
        let argv = split_command_line(command_line)?;
        if argv.is_empty() {
            return Err(SignError::Config("the signer command is empty".into()));
        }
        Ok(CommandSigner {
            argv,
            timeout: SIGN_TIMEOUT,
        })
    }

    /// The same signer with another time limit per call (default [`SIGN_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn run(&self, input: Vec<u8>, cookies: &str) -> Result<Vec<u8>, SignError> {
        let (program, args) = self
            .argv
            .split_first()
            .ok_or_else(|| SignError::Config("the signer command is empty".into()))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SignError::Spawn(format!("{program}: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let write = async move {
            if let Some(mut stdin) = stdin {
                // A signer that exits without reading stdin gives EPIPE here: its exit
                // status and output decide, not this write.
                let _ = stdin.write_all(&input).await;
                let _ = stdin.shutdown().await;
            }
        };
        let read_out = read_capped(stdout, MAX_SIGN_RESPONSE + 1);
        let read_err = read_capped(stderr, MAX_STDERR);
        let ((), out, err) = tokio::join!(write, read_out, read_err);
        if out.len() > MAX_SIGN_RESPONSE {
            let _ = child.start_kill();
            return Err(SignError::BadResponse(format!(
                "more than {MAX_SIGN_RESPONSE} bytes on stdout"
            )));
        }
        let status = child
            .wait()
            .await
            .map_err(|e| SignError::Spawn(format!("waiting for {program}: {e}")))?;
        if !status.success() {
            return Err(SignError::Exit {
                code: status.code(),
                stderr: first_line_without_cookies(&err, cookies),
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl Signer for CommandSigner {
    async fn sign(&self, req: &SignRequest) -> Result<BTreeMap<String, String>, SignError> {
        let input =
            serde_json::to_vec(req).map_err(|e| SignError::Config(format!("encoding: {e}")))?;
        // On timeout the future (and the child it owns) is dropped: kill_on_drop kills it.
        let out = tokio::time::timeout(self.timeout, self.run(input, &req.cookies))
            .await
            .map_err(|_| SignError::Timeout)??;
        parse_sign_response(&out)
    }
}

/// Reads at most `cap` bytes from an optional pipe; read errors end the read.
async fn read_capped(pipe: Option<impl AsyncReadExt + Unpin>, cap: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(pipe) = pipe {
        let _ = pipe.take(cap as u64).read_to_end(&mut buf).await;
    }
    buf
}

/// The first stderr line, with every cookie value of at least 4 characters replaced by
/// `[redacted]` (a signer may echo its input), cut to 200 characters.
fn first_line_without_cookies(stderr: &[u8], cookies: &str) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut line = text.lines().next().unwrap_or_default().to_owned();
    for pair in cookies.split(';') {
        let value = pair.split_once('=').map_or(pair, |(_, v)| v).trim();
        if value.len() >= 4 {
            line = line.replace(value, "[redacted]");
        }
    }
    line.chars().take(200).collect()
}

/// Splits a command line into words like a POSIX shell would, without expansions:
/// whitespace separates words; `'…'` is literal; `"…"` allows `\"`, `\\`, `\$` and
/// `` \` `` escapes; a backslash outside quotes escapes the next character.
///
/// Errors: [`SignError::Config`] for an unterminated quote or a trailing backslash.
pub fn split_command_line(line: &str) -> Result<Vec<String>, SignError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(SignError::Config("unterminated ' quote".into())),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(SignError::Config("unterminated \" quote".into())),
                        },
                        Some(c) => word.push(c),
                        None => return Err(SignError::Config("unterminated \" quote".into())),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(SignError::Config("trailing backslash".into())),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;

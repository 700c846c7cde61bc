//! The network half of git (clone, fetch, push) through the `git` executable.
//!
//! libgit2's local push updates the remote ref without comparing its old value, so two pushers racing can
//! lose an update; `git push` hands the ref update to `git receive-pack`, which locks the ref and checks its
//! old value, so a push that lost the race is rejected (non-fast-forward) and can be retried. The `git`
//! executable also brings ssh and https with credentials from the usual places (credential helpers,
//! ssh-agent, `~/.ssh`) without linking libssh2 or OpenSSL.
//!
//! Git runs with `LC_ALL=C` and `--porcelain` where it reports ref statuses, so nothing here depends on
//! localized text; it never prompts on a terminal (`GIT_TERMINAL_PROMPT=0`), so a CI job fails instead of
//! hanging on a missing credential.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The most of each of git's output streams kept (a remote's hook can print without bound).
pub(crate) const OUTPUT_LIMIT: u64 = 64 * 1024;

/// A finished git command: its exit code (`None` when killed by a signal) and the bounded output.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Reads at most `limit` bytes of `stream`, then drains the rest so that git never blocks on a full pipe.
fn read_bounded(mut stream: impl Read, limit: u64) -> String {
    let mut kept = Vec::new();
    // A read error leaves what was read; the exit status reports the failure.
    let _ = (&mut stream).take(limit).read_to_end(&mut kept);
    let _ = std::io::copy(&mut stream, &mut std::io::sink());
    String::from_utf8_lossy(&kept).into_owned()
}

/// Runs `git ARGS` in `dir` (or the current directory), returning its status and bounded output.
pub(crate) fn run<I, S>(operation: &'static str, dir: &Path, args: I) -> Result<Finished>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let spawn_err = |source| Error::GitSpawn {
        operation,
        dir: dir.to_owned(),
        source,
    };
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    let stderr = child
        .stderr
        .take()
        .map(|s| std::thread::spawn(move || read_bounded(s, OUTPUT_LIMIT)));
    let stdout = child
        .stdout
        .take()
        .map(|s| read_bounded(s, OUTPUT_LIMIT))
        .unwrap_or_default();
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    let status = child.wait().map_err(spawn_err)?;
    Ok(Finished {
        code: status.code(),
        stdout,
        stderr,
    })
}

/// The error for a git command that failed: its last lines of stderr, credentials removed.
pub(crate) fn failure(operation: &'static str, repo: &str, finished: &Finished) -> Error {
    let lines: Vec<&str> = finished
        .stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(3)..].join("; ");
    let message = match (tail.is_empty(), finished.code) {
        (false, _) => redact(&tail),
        (true, Some(code)) => format!("exit status {code}"),
        (true, None) => "killed by a signal".to_owned(),
    };
    Error::Git {
        operation,
        repo: redact(repo).into(),
        message: strip_controls(&message),
    }
}

/// Removes the user information (`user:token@`) from every URL in `text`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let authority_start = scheme_end + 3;
        out.push_str(&rest[..authority_start]);
        rest = &rest[authority_start..];
        let authority_end = rest
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '\'' || c == '"'
            })
            .unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// Control characters (a remote's ANSI colours, carriage returns) replaced, so errors print as one line.
fn strip_controls(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What `git push --porcelain` reported for one ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PushStatus {
    /// Updated, created, or already there.
    Done,
    /// Refused because the remote ref moved (`non-fast-forward`, `fetch first`): fetch and retry.
    Behind,
    /// Refused for another reason (a hook, a protected branch, `stale info`): the summary and reason.
    Refused(String),
}

/// Finds the status of `remote_ref` in `git push --porcelain`'s standard output.
///
/// Each ref line is `FLAG \t FROM:TO \t SUMMARY [(REASON)]`, where FLAG is ` ` (fast-forward), `+`
/// (forced), `-` (deleted), `*` (new), `=` (up to date) or `!` (rejected or failed).
pub(crate) fn push_status(stdout: &str, remote_ref: &str) -> Option<PushStatus> {
    stdout.lines().find_map(|line| {
        let mut fields = line.splitn(3, '\t');
        let flag = fields.next()?;
        let refs = fields.next()?;
        let summary = fields.next().unwrap_or("").trim();
        if flag.chars().count() != 1 || refs.rsplit(':').next() != Some(remote_ref) {
            return None;
        }
        Some(match flag {
            " " | "+" | "*" | "=" | "-" => PushStatus::Done,
            _ => {
                let reason = summary
                    .strip_prefix("[rejected]")
                    .map(str::trim)
                    .and_then(|r| r.strip_prefix('('))
                    .and_then(|r| r.strip_suffix(')'));
                match reason {
                    Some("non-fast-forward" | "fetch first") => PushStatus::Behind,
                    _ => PushStatus::Refused(strip_controls(summary)),
                }
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_statuses_are_told_apart_by_flag_and_reason() {
        let out = "To /tmp/r.git\n \trefs/heads/main:refs/heads/main\tabc..def\nDone\n";
        assert_eq!(push_status(out, "refs/heads/main"), Some(PushStatus::Done));
        let out = "To /tmp/r.git\n*\trefs/heads/main:refs/heads/review\t[new branch]\nDone\n";
        assert_eq!(
            push_status(out, "refs/heads/review"),
            Some(PushStatus::Done)
        );
        assert_eq!(push_status(out, "refs/heads/main"), None);
        for reason in ["non-fast-forward", "fetch first"] {
            let out =
                format!("To /tmp/r.git\n!\tHEAD:refs/heads/main\t[rejected] ({reason})\nDone\n");
            assert_eq!(
                push_status(&out, "refs/heads/main"),
                Some(PushStatus::Behind)
            );
        }
        let out = "To /tmp/r.git\n!\tHEAD:refs/heads/main\t[remote rejected] (pre-receive hook declined)\nDone\n";
        assert_eq!(
            push_status(out, "refs/heads/main"),
            Some(PushStatus::Refused(
                "[remote rejected] (pre-receive hook declined)".into()
            ))
        );
        let out = "!\tHEAD:refs/heads/main\t[rejected] (stale info)\n";
        assert!(matches!(
            push_status(out, "refs/heads/main"),
            Some(PushStatus::Refused(_))
        ));
    }

    #[test]
    fn failures_keep_the_last_lines_without_credentials_or_control_characters() {
        let finished = Finished {
            code: Some(128),
            stdout: String::new(),
            stderr: "line 1\nremote: \x1b[31mline 2\rline 3\nfatal: unable to access 'https://u:tok@h/r.git/'\n".into(),
        };
        let err = failure("push", "https://u:tok@h/r.git", &finished);
        let text = err.to_string();
        assert_eq!(
            text,
            "git push failed in https://h/r.git: line 1; remote:  [31mline 2 line 3; fatal: unable to access 'https://h/r.git/'"
        );
    }

    #[test]
    fn urls_lose_their_user_information() {
        assert_eq!(
            redact(
                "fatal: unable to access 'https://user:ghp_secret@github.com/acme/deploy.git/': 403"
            ),
            "fatal: unable to access 'https://github.com/acme/deploy.git/': 403"
        );
        assert_eq!(
            redact("ssh://git@host:22/r.git and https://tok@h"),
            "ssh://host:22/r.git and https://h"
        );
        assert_eq!(redact("/srv/git/r.git"), "/srv/git/r.git");
        assert_eq!(redact("file:///tmp/a@b/r.git"), "file:///tmp/a@b/r.git");
    }
}

//! The checkpoint file: what a push has finished, so a push run again after a kill sends only
//! the rest.
//!
//! JSON lines. The first names the push (`{"checkpoint":"artifacts-push","v":1,"target":…}`:
//! ingest URL, ns/type, mode, visibility, source). Before a request is first sent, `{"sent":key}`
//! is written; once it is settled, `{"key":…,"accepted":…,"deduped":…,"rejected":[{"source":…,
//! "reason":…}]}`. Each line is synced before the next step. A request sent but not settled was
//! interrupted: its copy may still be on its way to ingest, so a resumed push sends it last (see
//! `push`). A request's key is derived from its content, and the
//! same input is split into the same requests, so a resumed push skips exactly the requests that
//! finished. A torn last line (a kill mid-write) is ignored; a file for another target is set
//! aside (started over).

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A finished request's outcome as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    /// Lines accepted (deduped included).
    pub accepted: u64,
    /// Lines deduped.
    pub deduped: u64,
    /// Lines rejected: the file(s) and the reason.
    pub rejected: Vec<(String, String)>,
}

/// An open checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    file: File,
    /// Requests finished before this run, by key.
    pub done: HashMap<String, Finished>,
    /// Requests sent but not finished before this run (interrupted).
    pub interrupted: HashSet<String>,
}

/// The header line for a target.
pub fn header(target: &str) -> String {
    json!({ "checkpoint": "artifacts-push", "v": 1, "target": target }).to_string()
}

/// The finished requests recorded in `text` for `target`, and those sent but not finished;
/// `None` when the text is not a checkpoint of that target.
pub fn parse(text: &str, target: &str) -> Option<(HashMap<String, Finished>, HashSet<String>)> {
    let mut lines = text.split('\n');
    if lines.next()? != header(target) {
        return None;
    }
    let mut done = HashMap::new();
    let mut sent = HashSet::new();
    for line in lines {
        // A line that does not parse can only be the last one, cut by a kill: ignore it.
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        if let Some(key) = v.get("sent").and_then(Value::as_str) {
            sent.insert(key.to_string());
            continue;
        }
        let Some(key) = v.get("key").and_then(Value::as_str) else { continue };
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let rejected = v
            .get("rejected")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|r| {
                        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                        (s("source"), s("reason"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        done.insert(key.to_string(), Finished { accepted: n("accepted"), deduped: n("deduped"), rejected });
    }
    sent.retain(|k| !done.contains_key(k));
    Some((done, sent))
}

/// One finished request as a checkpoint line.
pub fn line(key: &str, f: &Finished) -> String {
    let rejected: Vec<Value> = f.rejected.iter().map(|(s, r)| json!({ "source": s, "reason": r })).collect();
    json!({ "key": key, "accepted": f.accepted, "deduped": f.deduped, "rejected": rejected }).to_string()
}

impl Checkpoint {
    /// Opens the checkpoint at `path` for `target`: resumes one written for the same target,
    /// starts a new one otherwise (an existing file for another target is replaced).
    pub fn open(path: &Path, target: &str) -> std::io::Result<Checkpoint> {
        let existing = std::fs::read_to_string(path).ok();
        if let Some((done, interrupted)) = existing.as_deref().and_then(|t| parse(t, target)) {
            let mut file = OpenOptions::new().append(true).open(path)?;
            // A torn last line is ended, so the next line starts on a line of its own.
            if existing.as_deref().is_some_and(|t| !t.ends_with('\n')) {
                file.write_all(b"\n")?;
            }
            return Ok(Checkpoint { path: path.to_path_buf(), file, done, interrupted });
        }
        let mut file = File::create(path)?;
        file.write_all(header(target).as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_data()?;
        Ok(Checkpoint { path: path.to_path_buf(), file, done: HashMap::new(), interrupted: HashSet::new() })
    }

    /// Records a finished request (synced to disk before it returns).
    pub fn record(&mut self, key: &str, f: &Finished) -> std::io::Result<()> {
        self.write_line(line(key, f))
    }

    /// Records that a request is about to be sent for the first time (synced before it returns).
    pub fn sending(&mut self, key: &str) -> std::io::Result<()> {
        self.write_line(json!({ "sent": key }).to_string())
    }

    fn write_line(&mut self, mut l: String) -> std::io::Result<()> {
        l.push('\n');
        self.file.write_all(l.as_bytes())?;
        self.file.sync_data()
    }

    /// The push finished: the checkpoint is removed.
    pub fn remove(self) -> std::io::Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_a_torn_line_is_ignored() {
        let f = Finished { accepted: 3, deduped: 1, rejected: vec![("a b.md".into(), "id: bad \"x\"".into())] };
        let text = format!(
            "{}\n{{\"sent\":\"k1\"}}\n{{\"sent\":\"k4\"}}\n{}\n{}\n{{\"key\":\"k3\",\"acc",
            header("T"),
            line("k1", &f),
            line("k2", &Finished::default())
        );
        let (done, interrupted) = parse(&text, "T").unwrap();
        assert_eq!(interrupted, HashSet::from(["k4".to_string()]), "sent, never finished");
        assert_eq!(done.len(), 2);
        assert_eq!(done.get("k1"), Some(&f));
        assert_eq!(done.get("k2"), Some(&Finished::default()));
        assert_eq!(parse(&text, "other target"), None);
        assert_eq!(parse("", "T"), None);
        assert_eq!(line("k", &Finished::default()), r#"{"accepted":0,"deduped":0,"key":"k","rejected":[]}"#);
    }

    #[test]
    fn open_resumes_the_same_target_and_restarts_another() {
        let path = std::env::temp_dir().join(format!("artifacts-cli-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut c = Checkpoint::open(&path, "T").unwrap();
        assert!(c.done.is_empty());
        c.sending("k1").unwrap();
        c.sending("k2").unwrap();
        c.record("k1", &Finished { accepted: 2, ..Finished::default() }).unwrap();
        drop(c);
        // A kill in the middle of a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"key\":\"k2\"").unwrap();
        drop(f);
        let mut c = Checkpoint::open(&path, "T").unwrap();
        assert_eq!(c.done.keys().collect::<Vec<_>>(), vec!["k1"]);
        assert_eq!(c.interrupted, HashSet::from(["k2".to_string()]));
        c.record("k3", &Finished::default()).unwrap();
        drop(c);
        let c = Checkpoint::open(&path, "T").unwrap();
        let mut keys: Vec<_> = c.done.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, vec!["k1", "k3"]);
        drop(c);
        let c = Checkpoint::open(&path, "U").unwrap();
        assert!(c.done.is_empty(), "another target starts over");
        c.remove().unwrap();
        assert!(!path.exists());
    }
}

//! Progress: a bar (files, bytes, rate, ETA) when stderr is a terminal; plain lines every
//! interval otherwise (CI logs: no control characters, ever); nothing with `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// Text safe for any log: control characters (escape sequences, `\r`, `\t`, …) are written as
/// escapes, so a file name or an answer cannot move a cursor or break a line.
pub fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// Bytes for people: `1.5 MiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {name}")
    }
}

/// One plain progress line.
pub fn plain_line(files: (u64, u64), bytes: (u64, u64), elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = bytes.0 as f64 / secs;
    let eta =
        if bytes.0 == 0 || bytes.1 <= bytes.0 { String::from("-") } else { format!("{:.0} s", (bytes.1 - bytes.0) as f64 / rate.max(1.0)) };
    let pct = files.0.saturating_mul(100).checked_div(files.1).unwrap_or(100);
    format!("push: {}/{} files ({pct}%), {} of {}, {}/s, eta {eta}", files.0, files.1, human(bytes.0), human(bytes.1), human(rate as u64))
}

/// Where progress goes.
pub enum Progress {
    /// A terminal: indicatif's bar (bytes), files done and in all in its message.
    Bar { bar: ProgressBar, files: (u64, u64) },
    /// A log: a line every `every`.
    Plain { started: Instant, last: Instant, every: Duration, files: (u64, u64), bytes: (u64, u64) },
    /// `--quiet`.
    Quiet,
}

impl Progress {
    /// The bar on a terminal, plain lines otherwise, nothing when quiet.
    pub fn new(total_files: u64, total_bytes: u64, tty: bool, quiet: bool, every: Duration) -> Progress {
        if quiet {
            return Progress::Quiet;
        }
        if tty {
            let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{bar:30} {msg} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(format!("0/{total_files} files"));
            return Progress::Bar { bar, files: (0, total_files) };
        }
        let now = Instant::now();
        Progress::Plain { started: now, last: now, every, files: (0, total_files), bytes: (0, total_bytes) }
    }

    /// Files and bytes done so far.
    pub fn advance(&mut self, files: u64, bytes: u64) {
        match self {
            Progress::Bar { bar, files: f } => {
                f.0 += files;
                bar.inc(bytes);
                bar.set_message(format!("{}/{} files", f.0, f.1));
            }
            Progress::Plain { started, last, every, files: f, bytes: b } => {
                f.0 += files;
                b.0 += bytes;
                if last.elapsed() >= *every {
                    *last = Instant::now();
                    eprintln!("{}", plain_line(*f, *b, started.elapsed()));
                }
            }
            Progress::Quiet => {}
        }
    }

    /// A message that is not progress (a wait, a retry): above the bar, as a line, or nothing.
    pub fn note(&self, msg: &str) {
        match self {
            Progress::Bar { bar, .. } => bar.println(clean(msg)),
            Progress::Plain { .. } => eprintln!("{}", clean(msg)),
            Progress::Quiet => {}
        }
    }

    /// Done: the bar is cleared.
    pub fn finish(&self) {
        if let Progress::Bar { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_has_no_control_characters() {
        assert_eq!(clean("a\u{1b}[2Kb\rc\td"), "a\\u{1b}[2Kb\\rc\\td");
        assert_eq!(clean("grüße.md"), "grüße.md");
        let l = plain_line((120, 300), (1 << 20, 3 << 20), Duration::from_secs(2));
        assert_eq!(l, "push: 120/300 files (40%), 1.0 MiB of 3.0 MiB, 512.0 KiB/s, eta 4 s");
        assert!(!l.chars().any(char::is_control));
        assert_eq!(human(512), "512 B");
        assert_eq!(plain_line((0, 0), (0, 0), Duration::ZERO), "push: 0/0 files (100%), 0 B of 0 B, 0 B/s, eta -");
    }
}

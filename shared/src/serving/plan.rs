//! The compactor's pure planner: what to write and what the next root says. No I/O: the
//! compactor crate reads the sources and files, writes what this decides, and commits.
//!
//! - Absorbing: the new source rows → [`newest_per_key`] → [`split_files`] → one L0 run, written
//!   as files `L0-{version}-{n}` ([`file_key`]) → [`apply_run`].
//! - Merging: [`next_merge`] names a bounded key range and its input files; the compactor reads
//!   the L1 inputs and the L0 inputs' rows in the range, [`newest_per_key`] → [`split_files`] →
//!   L1 files → [`apply_merge`]. [`keep_merging`] says whether a run takes another step.
//!
//! The rules (`docs/design/serving-table.md`, "Levels"): a step never cuts an L1 file, holds at
//! most `merge_files` L1 files, takes part of an L0 file only when everything of it below the
//! step's start is merged already, and moves the cursor to its end (wrapping after the last
//! range). So after every step each key's newest row is in the L1 file holding it or in an L0
//! file whose unmerged range holds it ([`super::root::Root::candidates`]).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::order::Order;
use super::root::{FileEntry, Root, SourceState};

/// A row the planner can order: its key and its place in the winner rule.
pub trait Keyed {
    /// `ns 0x00 type 0x00 id`.
    fn key(&self) -> &[u8];
    /// Its place in the winner rule.
    fn order(&self) -> Order;
}

/// The rows sorted by key, one per key: the greatest by [`Order`] (ties keep the first given).
pub fn newest_per_key<T: Keyed>(mut rows: Vec<T>) -> Vec<T> {
    rows.sort_by(|a, b| a.key().cmp(b.key()).then_with(|| b.order().cmp(&a.order())));
    rows.dedup_by(|later, kept| later.key() == kept.key());
    rows
}

/// The compactor's bounds (the design's defaults: [`Limits::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rows in one file at most (`SERVING_FILE_ROWS`, 100,000).
    pub file_rows: usize,
    /// About this many bytes of values in one file (`SERVING_FILE_BYTES`, 32 MiB): a file is
    /// closed once it reaches them.
    pub file_bytes: u64,
    /// L0 runs from which a compactor run merges (`L0_TRIGGER`, 2).
    pub l0_trigger: usize,
    /// L0 runs at which a run keeps merging past `merge_steps` (`L0_MAX`, 8).
    pub l0_max: usize,
    /// L1 files one merge step replaces at most (`MERGE_FILES`, 4).
    pub merge_files: usize,
    /// Merge steps per compactor run below `l0_max` (`MERGE_STEPS`, 8).
    pub merge_steps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { file_rows: 100_000, file_bytes: 32 * 1024 * 1024, l0_trigger: 2, l0_max: 8, merge_files: 4, merge_steps: 8 }
    }
}

/// Sorted unique rows cut into files of at most `file_rows` rows, each closed once its values
/// (`size_of`) reach `file_bytes` (a file holds at least one row). No rows: no files.
pub fn split_files<T>(rows: Vec<T>, limits: &Limits, size_of: impl Fn(&T) -> u64) -> Vec<Vec<T>> {
    let mut files = Vec::new();
    let mut current: Vec<T> = Vec::new();
    let mut bytes = 0u64;
    for row in rows {
        bytes = bytes.saturating_add(size_of(&row));
        current.push(row);
        if current.len() >= limits.file_rows.max(1) || bytes >= limits.file_bytes {
            files.push(core::mem::take(&mut current));
            bytes = 0;
        }
    }
    if !current.is_empty() {
        files.push(current);
    }
    files
}

/// The key of data file `n` of version `version` at `level`: `{table}/data/L{level}-{version}-{n}.parquet`.
/// A compactor run names every file it writes with its own version and a counter, so names are
/// fresh (create-only puts) and the files of one L0 run share `L0-{version}-`.
pub fn file_key(table: &str, level: u8, version: u64, n: usize) -> String {
    format!("{}/data/L{level}-{version}-{n}.parquet", table.trim_end_matches('/'))
}

/// The run a file belongs to: its name up to the last `-` (`L0-{version}` for [`file_key`]'s
/// names, `L0-{version}-{nonce}` when a run adds a nonce); the whole key for other names.
pub fn run_of(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name.rfind('-') {
        Some(at) if name.starts_with('L') => name.get(..at).unwrap_or(name),
        _ => key,
    }
}

/// The number of L0 runs in `root`.
pub fn l0_runs(root: &Root) -> usize {
    let mut runs: Vec<&str> = root.files.iter().filter(|f| f.level == 0).map(|f| run_of(&f.key)).collect();
    runs.sort_unstable();
    runs.dedup();
    runs.len()
}

/// One bounded merge step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeStep {
    /// Inclusive start of the key range (`None`: from the beginning).
    pub start: Option<Vec<u8>>,
    /// Exclusive end (`None`: to the end).
    pub end: Option<Vec<u8>>,
    /// The L1 files in the range (every one wholly inside it), replaced by the step's outputs.
    pub l1_inputs: Vec<String>,
    /// The L0 files whose rows in the range are merged (read only their rows in the range).
    pub l0_inputs: Vec<String>,
}

impl MergeStep {
    /// Whether `key` is in `[start, end)`.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.start.as_deref().is_none_or(|s| key >= s) && self.end.as_deref().is_none_or(|e| key < e)
    }
}

/// Whether a compactor run that has taken `steps_done` merge steps takes another: always while
/// L0 is not empty with `full`; while there are `l0_max` runs or more; otherwise while there are
/// `l0_trigger` runs or more and fewer than `merge_steps` steps were taken.
pub fn keep_merging(root: &Root, limits: &Limits, steps_done: usize, full: bool) -> bool {
    let runs = l0_runs(root);
    runs > 0 && (full || runs >= limits.l0_max || (runs >= limits.l0_trigger && steps_done < limits.merge_steps))
}

/// The next merge step from the root's cursor: `None` when L0 is empty, or (without `full`)
/// when there are fewer than `l0_trigger` (or `l0_max`, if less) L0 runs. The range's end is an L1 file's least key, an
/// L0 file's least key outside every L1 file, or the end; the longest range holding at most
/// `merge_files` L1 files and `merge_files × file_rows` rows (L0 files counted whole), and at
/// least the first boundary.
pub fn next_merge(root: &Root, limits: &Limits, full: bool) -> Option<MergeStep> {
    let runs = l0_runs(root);
    if runs == 0 || (!full && runs < limits.l0_trigger.min(limits.l0_max)) {
        return None;
    }
    let l1 = root.l1();
    // The cursor is always the start of a range; should an L1 file straddle it anyway, the step
    // starts at that file so that it is replaced whole.
    let start =
        root.merge_cursor.as_ref().map(|c| l1.iter().find(|f| f.min < *c && f.max >= *c).map_or_else(|| c.clone(), |f| f.min.clone()));
    let after_start = |k: &[u8]| start.as_deref().is_none_or(|s| k > s);
    let takes_part = |f: &FileEntry| match &start {
        None => true,
        Some(s) => f.min >= *s || f.merged_through.as_ref().is_some_and(|m| m >= s),
    };
    let l0: Vec<&FileEntry> = root.files.iter().filter(|f| f.level == 0 && takes_part(f)).collect();
    let inside_l1 = |k: &[u8]| l1.iter().any(|f| f.min.as_slice() < k && k <= f.max.as_slice());
    let mut bounds: Vec<&[u8]> = l1
        .iter()
        .map(|f| f.min.as_slice())
        .chain(l0.iter().map(|f| f.min.as_slice()).filter(|k| !inside_l1(k)))
        .filter(|k| after_start(k))
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let budget = (limits.merge_files.max(1) as u64).saturating_mul(limits.file_rows.max(1) as u64);
    let ends = bounds.into_iter().map(Some).chain(core::iter::once(None));
    let mut chosen: Option<MergeStep> = None;
    for end in ends {
        let step = MergeStep { start: start.clone(), end: end.map(<[u8]>::to_vec), l1_inputs: Vec::new(), l0_inputs: Vec::new() };
        let overlaps = |f: &FileEntry| {
            step.start.as_deref().is_none_or(|s| f.max.as_slice() >= s) && step.end.as_deref().is_none_or(|e| f.min.as_slice() < e)
        };
        let l1_in: Vec<&&FileEntry> = l1.iter().filter(|f| overlaps(f)).collect();
        let l0_in: Vec<&&FileEntry> = l0.iter().filter(|f| overlaps(f)).collect();
        let rows = l1_in.iter().chain(l0_in.iter()).fold(0u64, |n, f| n.saturating_add(f.rows));
        if chosen.is_some() && (l1_in.len() > limits.merge_files.max(1) || rows > budget) {
            break;
        }
        chosen = Some(MergeStep {
            l1_inputs: l1_in.iter().map(|f| f.key.clone()).collect(),
            l0_inputs: l0_in.iter().map(|f| f.key.clone()).collect(),
            ..step
        });
    }
    chosen
}

/// The root after a run absorbed new source rows: `l0_files` (one run, may be empty) added, the
/// sources (with their new watermarks) replaced, `version` and `metadata` the new ones. The merge
/// cursor is kept.
pub fn apply_run(root: &Root, l0_files: Vec<FileEntry>, sources: Vec<SourceState>, version: u64, metadata: String) -> Root {
    let mut next = root.clone();
    next.version = version;
    next.metadata = metadata;
    next.sources = sources;
    next.files.extend(l0_files.into_iter().map(|f| FileEntry { level: 0, ..f }));
    next
}

/// The root after `step` was merged into `outputs` (the newest row per key of the L1 inputs and
/// of the L0 inputs' rows in the range): the L1 inputs replaced by the outputs, each L0 input's
/// `merged_through` moved to the step's end and the L0 files merged past their max (or to the
/// end) dropped, the cursor moved to the end (`None`: wrapped). Version and metadata are kept
/// (the run's [`apply_run`] set them).
pub fn apply_merge(root: &Root, step: &MergeStep, outputs: Vec<FileEntry>) -> Root {
    let mut next = root.clone();
    next.files.retain(|f| !(f.level == 1 && step.l1_inputs.contains(&f.key)));
    for f in next.files.iter_mut().filter(|f| f.level == 0 && step.l0_inputs.contains(&f.key)) {
        f.merged_through = match (&f.merged_through, &step.end) {
            (Some(m), Some(e)) if m > e => Some(m.clone()),
            (_, e) => e.clone(),
        };
    }
    let end = step.end.as_deref();
    next.files.retain(|f| {
        let merged_to_end = f.level == 0 && end.is_none() && step.l0_inputs.contains(&f.key);
        let merged_past_max = f.level == 0 && f.merged_through.as_ref().is_some_and(|m| *m > f.max);
        !(merged_to_end || merged_past_max)
    });
    let (mut l1, l0): (Vec<FileEntry>, Vec<FileEntry>) = next.files.into_iter().partition(|f| f.level == 1);
    l1.extend(outputs.into_iter().map(|f| FileEntry { level: 1, merged_through: None, bloom: None, ..f }));
    l1.sort_by(|a, b| a.min.cmp(&b.min));
    l1.extend(l0);
    next.files = l1;
    next.merge_cursor = step.end.clone();
    next
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests;

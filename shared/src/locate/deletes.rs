//! Row-level deletes (Iceberg v2, "Row-level Deletes" and "Scan Planning"): the live position and
//! equality delete files of a snapshot, which of them apply to a candidate row, and whether they
//! delete it.
//!
//! The rules, from the spec:
//! - a **position** delete file applies to a data file whose data sequence number is ≤ the delete
//!   file's, and deletes the rows whose `(file_path, pos)` it lists (`pos` counts from 0 over the
//!   whole data file);
//! - an **equality** delete file applies to a data file whose data sequence number is < the delete
//!   file's, in the same partition (same spec id and partition tuple), or anywhere when the delete
//!   file's spec is unpartitioned; it deletes the rows whose values of its `equality_ids` columns
//!   equal one of its rows (a null matches a null).
//!
//! Delete files are read only when a candidate row could be affected, each at most once per scan,
//! with the same bounded readers as data files. Deletion vectors (v3, Puffin) are refused by the
//! manifest reader with a clear [`LocateError::Unsupported`].

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::{
    cell_at, fetch, key_for, manifest_error, manifest_may_contain, parquet_column, read_chunks, read_footer, Cell, Cost, LocateError,
    ObjectStore, Table,
};
use crate::iceberg::manifest::{self, DataContent, EntryStatus, FileFormat, ManifestContent, ManifestFile, PartitionValue};
use crate::parquet::{self, Footer};

/// Field id of `file_path` in a position delete file (spec "Position Delete Files").
pub const POSITION_FILE_PATH_ID: i32 = 2_147_483_546;
/// Field id of `pos` in a position delete file.
pub const POSITION_POS_ID: i32 = 2_147_483_545;

/// What a delete file deletes.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteKind {
    /// Rows by `(file_path, pos)`; `referenced` is the one data file it refers to, when written.
    Position {
        /// `referenced_data_file`.
        referenced: Option<String>,
        /// Lower bound of `file_path`.
        path_lower: Option<Vec<u8>>,
        /// Upper bound of `file_path`.
        path_upper: Option<Vec<u8>>,
    },
    /// Rows by the values of these field ids.
    Equality(Vec<i32>),
}

/// One live delete file of the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteFile {
    /// Bucket key.
    pub key: String,
    /// File size (for the footer's suffix read).
    pub size: u64,
    /// Data sequence number.
    pub sequence_number: i64,
    /// Partition spec id of its manifest.
    pub spec_id: i32,
    /// Whether that spec has no fields.
    pub unpartitioned: bool,
    /// Its partition tuple.
    pub partition: Vec<(String, PartitionValue)>,
    /// What it deletes.
    pub kind: DeleteKind,
}

/// A row that may be the answer, with what the delete rules need to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSite {
    /// The data file's `file_path`, as the manifest has it.
    pub file_path: String,
    /// The data file's data sequence number.
    pub sequence_number: i64,
    /// The data file's partition spec id.
    pub spec_id: i32,
    /// The data file's partition tuple.
    pub partition: Vec<(String, PartitionValue)>,
    /// Position of the row in the data file.
    pub pos: i64,
    /// Values of the columns equality deletes compare, by field id.
    pub values: Vec<(i32, Cell)>,
}

impl RowSite {
    fn value(&self, field_id: i32) -> Option<&Cell> {
        self.values.iter().find(|(id, _)| *id == field_id).map(|(_, c)| c)
    }
}

/// Whether `delete` applies to rows of the data file described by `row` (sequence numbers and
/// partitions; the row's own `file_path`/`pos` or values are checked against the file's rows).
pub fn applies(delete: &DeleteFile, row: &RowSite) -> bool {
    match &delete.kind {
        DeleteKind::Position { referenced, path_lower, path_upper } => {
            row.sequence_number <= delete.sequence_number
                && referenced.as_ref().is_none_or(|r| *r == row.file_path)
                && manifest::may_contain(path_lower.as_deref(), path_upper.as_deref(), row.file_path.as_bytes())
        }
        DeleteKind::Equality(_) => {
            row.sequence_number < delete.sequence_number
                && (delete.unpartitioned || (delete.spec_id == row.spec_id && delete.partition == row.partition))
        }
    }
}

/// The live delete files of a snapshot's manifests that may delete a row with these `ids`
/// (field id, value) — delete manifests are pruned by partition summaries and delete files by
/// their bounds on those fields, as data files are.
pub async fn live_delete_files<S: ObjectStore>(
    store: &S,
    table: &Table<'_>,
    manifests: &[ManifestFile],
    ids: &[(Option<i32>, &[u8])],
    fallback_sequence_number: i64,
    cost: &mut Cost,
) -> Result<Vec<DeleteFile>, LocateError> {
    let mut out = Vec::new();
    for mf in manifests.iter().filter(|m| m.content == ManifestContent::Deletes) {
        if mf.added_files_count == Some(0) && mf.existing_files_count == Some(0) {
            continue;
        }
        if !manifest_may_contain(table, mf, ids) {
            cost.pruned_manifests = cost.pruned_manifests.saturating_add(1);
            continue;
        }
        let key = key_for(&mf.manifest_path, table.location_prefix)?;
        let bytes = fetch(store, cost, &key, None).await?;
        let parsed = manifest::read_manifest(&bytes, mf).map_err(|e| manifest_error(&key, e))?;
        let unpartitioned = table.metadata.partition_spec_by_id(mf.partition_spec_id).is_none_or(|s| s.fields.is_empty());
        for entry in parsed.entries.into_iter().filter(|e| e.status != EntryStatus::Deleted) {
            let df = entry.data_file;
            let in_bounds = ids.iter().all(|(fid, v)| match fid {
                Some(fid) => manifest::may_contain(df.lower_bound(*fid), df.upper_bound(*fid), v),
                None => true,
            });
            if !in_bounds {
                cost.pruned = cost.pruned.saturating_add(1);
                continue;
            }
            if df.file_format != FileFormat::Parquet {
                return Err(LocateError::Unsupported("delete files that are not Parquet"));
            }
            let kind = match df.content {
                DataContent::Data => return Err(super::corrupt(&key, "a delete manifest lists a data file")),
                DataContent::PositionDeletes => DeleteKind::Position {
                    path_lower: df.lower_bound(POSITION_FILE_PATH_ID).map(<[u8]>::to_vec),
                    path_upper: df.upper_bound(POSITION_FILE_PATH_ID).map(<[u8]>::to_vec),
                    referenced: df.referenced_data_file.clone(),
                },
                DataContent::EqualityDeletes if df.equality_ids.is_empty() => {
                    return Err(super::corrupt(&key, "an equality delete file without equality_ids"))
                }
                DataContent::EqualityDeletes => DeleteKind::Equality(df.equality_ids.clone()),
            };
            out.push(DeleteFile {
                key: key_for(&df.file_path, table.location_prefix)?,
                size: u64::try_from(df.file_size_in_bytes).map_err(|_| super::corrupt(&key, "negative file size"))?,
                sequence_number: entry.sequence_number.unwrap_or(fallback_sequence_number),
                spec_id: mf.partition_spec_id,
                unpartitioned,
                partition: df.partition,
                kind,
            });
        }
    }
    Ok(out)
}

/// The columns equality deletes compare, as (field id, name in the current schema), in field id
/// order. A field the current schema lacks cannot be read from data files by name: refused.
pub fn equality_columns<'t>(table: &Table<'t>, deletes: &[DeleteFile]) -> Result<Vec<(i32, &'t str)>, LocateError> {
    let mut ids: Vec<i32> = deletes
        .iter()
        .filter_map(|d| match &d.kind {
            DeleteKind::Equality(ids) => Some(ids.iter().copied()),
            DeleteKind::Position { .. } => None,
        })
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let schema = table.metadata.current_schema();
    ids.into_iter()
        .map(|id| match schema.and_then(|s| s.field_by_id(id)) {
            Some(f) => Ok((id, f.name.as_str())),
            None => Err(LocateError::Unsupported("equality deletes on a column that is not a top-level column of the current schema")),
        })
        .collect()
}

/// Row groups of `footer` whose `column` statistics may hold one of `values`.
fn row_groups_for(footer: &Footer, column: usize, values: &[&[u8]]) -> Vec<usize> {
    let mut groups: Vec<usize> = values.iter().flat_map(|v| parquet::prune_row_groups(footer, column, v)).collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// Which of `rows` the `deletes` delete (same order as `rows`).
pub async fn deleted<S: ObjectStore>(
    store: &S,
    table: &Table<'_>,
    deletes: &[DeleteFile],
    rows: &[RowSite],
    cost: &mut Cost,
) -> Result<Vec<bool>, LocateError> {
    let mut gone = vec![false; rows.len()];
    for delete in deletes {
        let targets: Vec<usize> =
            rows.iter().enumerate().filter(|(i, r)| !gone.get(*i).copied().unwrap_or(true) && applies(delete, r)).map(|(i, _)| i).collect();
        if targets.is_empty() {
            continue;
        }
        let footer = read_footer(store, cost, &delete.key, delete.size).await?.footer;
        match &delete.kind {
            DeleteKind::Position { .. } => {
                let path_col = footer.column_by_field_id(POSITION_FILE_PATH_ID).or_else(|| footer.column_by_name("file_path"));
                let pos_col = footer.column_by_field_id(POSITION_POS_ID).or_else(|| footer.column_by_name("pos"));
                let (Some(path_col), Some(pos_col)) = (path_col, pos_col) else {
                    return Err(super::corrupt(&delete.key, "a position delete file without file_path and pos"));
                };
                let paths: Vec<&[u8]> = targets.iter().filter_map(|i| rows.get(*i)).map(|r| r.file_path.as_bytes()).collect();
                for rg in row_groups_for(&footer, path_col, &paths) {
                    let cols = read_chunks(store, cost, &delete.key, &footer, rg, &[Some(path_col), Some(pos_col)]).await?;
                    let [path, pos] = cols.as_slice() else { return Err(super::corrupt(&delete.key, "column count")) };
                    for n in 0..path.as_ref().map_or(0, parquet::ColumnValues::len) {
                        let (Cell::Text(p), Cell::Long(at)) = (cell_at(path, n), cell_at(pos, n)) else { continue };
                        for i in &targets {
                            if rows.get(*i).is_some_and(|r| r.pos == at && r.file_path == p) {
                                if let Some(g) = gone.get_mut(*i) {
                                    *g = true;
                                }
                            }
                        }
                    }
                }
            }
            DeleteKind::Equality(ids) => {
                let mut cols = Vec::with_capacity(ids.len());
                for id in ids {
                    let name = table.metadata.current_schema().and_then(|s| s.field_by_id(*id)).map(|f| f.name.as_str());
                    let col = footer.column_by_field_id(*id).or_else(|| name.and_then(|n| parquet_column(&footer, table, n)));
                    cols.push(Some(
                        col.ok_or_else(|| super::corrupt(&delete.key, "an equality delete file lacks one of its equality columns"))?,
                    ));
                }
                let groups: Vec<usize> = (0..footer.row_groups.len()).collect();
                for rg in groups {
                    let values = read_chunks(store, cost, &delete.key, &footer, rg, &cols).await?;
                    let n_rows = values.first().and_then(Option::as_ref).map_or(0, parquet::ColumnValues::len);
                    for n in 0..n_rows {
                        let row: Vec<Cell> = values.iter().map(|v| cell_at(v, n)).collect();
                        for i in &targets {
                            let Some(r) = rows.get(*i) else { continue };
                            let equal = ids.iter().zip(&row).all(|(id, cell)| r.value(*id).unwrap_or(&Cell::Null) == cell);
                            if equal {
                                if let Some(g) = gone.get_mut(*i) {
                                    *g = true;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(gone)
}

//! Every column of a data file, decoded: the record's columns (`shared::record::COLUMNS`, in that
//! order, as [`Cell`]s) of each row, with the row's row group and index within it (what the
//! locator's `_pos` counts). Columns are found by the table's field ids, then by name, as the
//! locator finds them; a column the file lacks reads as null.

use shared::iceberg::table_metadata::Schema;
use shared::locate::Cell;
use shared::parquet::{self, ColumnValues, DecodeLimits, Footer, FooterNeeds};
use shared::record::COLUMNS;

/// One decoded row: its cells in `COLUMNS` order and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRow {
    /// Row group index.
    pub row_group: usize,
    /// Row index within its row group.
    pub row: usize,
    /// One cell per entry of `COLUMNS`.
    pub cells: Vec<Cell>,
}

/// The Parquet leaf of column `name`: by its field id in `schema` (a list's leaf by its top-level
/// field's id), then by name.
pub fn leaf(footer: &Footer, schema: Option<&Schema>, name: &str) -> Option<usize> {
    let id = schema.and_then(|s| s.field_id_by_name(name));
    id.and_then(|id| footer.column_by_field_id(id))
        .or_else(|| id.and_then(|id| footer.columns.iter().position(|c| c.top_field_id == Some(id))))
        .or_else(|| footer.column_by_name(name))
}

fn cell(values: &ColumnValues, row: usize) -> Cell {
    let text = |b: &Vec<u8>| String::from_utf8_lossy(b).into_owned();
    match values {
        ColumnValues::ByteArray(v) => v.get(row).and_then(Option::as_ref).map_or(Cell::Null, |b| Cell::Text(text(b))),
        ColumnValues::Int64(v) => v.get(row).copied().flatten().map_or(Cell::Null, Cell::Long),
        ColumnValues::Int32(v) => v.get(row).copied().flatten().map_or(Cell::Null, |n| Cell::Long(i64::from(n))),
        ColumnValues::Boolean(v) => v.get(row).copied().flatten().map_or(Cell::Null, Cell::Bool),
        ColumnValues::ByteArrayList(v) => match v.get(row) {
            Some(Some(items)) => Cell::List(items.iter().map(|i| i.as_ref().map(text)).collect()),
            _ => Cell::Null,
        },
    }
}

/// Parses the footer of a whole file.
pub fn footer(bytes: &[u8]) -> Result<Footer, String> {
    let size = bytes.len() as u64;
    match parquet::parse_footer(bytes, size) {
        Ok(f) => Ok(f),
        Err(FooterNeeds::Invalid(e)) => Err(e.description().to_string()),
        Err(FooterNeeds::More { .. }) => Err("footer outside the file".into()),
    }
}

/// Decodes column `leaf` of row group `rg` of a whole file.
pub fn decode(bytes: &[u8], footer: &Footer, rg: usize, leaf: usize) -> Result<ColumnValues, String> {
    let meta = footer.chunk(rg, leaf).ok_or("column chunk missing from its row group")?;
    let (start, len) = meta.range();
    let chunk = parquet::slice_within(0, bytes, (start, len)).ok_or("column chunk outside the file")?;
    parquet::decode_column_chunk(chunk, meta, DecodeLimits::default()).map_err(|e| e.description().to_string())
}

/// Every row of a whole data file, `columns` named in `COLUMNS` order followed by `extra` names.
pub fn read_all(bytes: &[u8], schema: Option<&Schema>, extra: &[&str]) -> Result<Vec<DecodedRow>, String> {
    let footer = footer(bytes)?;
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).chain(extra.iter().copied()).collect();
    let leaves: Vec<Option<usize>> = names.iter().map(|n| leaf(&footer, schema, n)).collect();
    let mut out = Vec::new();
    for (rg, info) in footer.row_groups.iter().enumerate() {
        let mut cols = Vec::with_capacity(leaves.len());
        for l in &leaves {
            cols.push(match l {
                Some(l) => Some(decode(bytes, &footer, rg, *l)?),
                None => None,
            });
        }
        let rows = usize::try_from(info.num_rows).map_err(|_| "row count")?;
        for row in 0..rows {
            let cells = cols.iter().map(|c| c.as_ref().map_or(Cell::Null, |c| cell(c, row))).collect();
            out.push(DecodedRow { row_group: rg, row, cells });
        }
    }
    Ok(out)
}

//! The edge table (#18, `docs/design/artifact-operations.md`, "Edges";
//! `shared::serving::edges`): written by the same run, into the same version, as the serving
//! table. A run's new edges are one per `inputs`/`supersedes` ref of every row it absorbs (the
//! newest per key of the run; tombstones have none), with that row's order; they become an L0 run
//! of the edge table, which then takes merge steps by the serving table's plan (newest per edge
//! key). The files are serving files named as the run's other files (`data/L{level}-{N}-{nonce}-{n}`)
//! and listed in the root's `edges` member, not in the Iceberg manifest (they are not artifact
//! rows). Stale edges (a source rewritten without the ref, deleted, expired) are left to the
//! readers' validation: a merge meets edges by target, not by source, so it cannot see them.

use std::collections::BTreeSet;

use iceberg_writer::serving::ServingRow;
use shared::locate::Cell;
use shared::record::COLUMNS;
use shared::serving::edges::{edge_root, empty, ref_key, root_json, Edge, Kind};
use shared::serving::entry::Entry;
use shared::serving::key;
use shared::serving::plan;
use shared::serving::root::{root_key, FileEntry, Root};

use crate::source::err;
use crate::table::Writer;
use crate::{rows, CompactError, Config, Store};

fn column(name: &str) -> Option<usize> {
    COLUMNS.iter().position(|c| c.name == name)
}

/// The edge table's row of `edge`: its entry, and as values the key's three parts (`ns` the kind,
/// `type` the escaped target, `id` the escaped source) and `ts`; nothing else.
fn row_of(edge: &Edge) -> Option<ServingRow> {
    let entry = edge.entry()?;
    let (ns, ty, id) = key::split(&entry.key)?;
    let cells = COLUMNS
        .iter()
        .map(|c| match c.name {
            "ns" => Cell::Text(ns.to_string()),
            "type" => Cell::Text(ty.to_string()),
            "id" => Cell::Text(id.to_string()),
            "ts" => Cell::Long(edge.order.ts),
            _ => Cell::Null,
        })
        .collect();
    Some(ServingRow { entry, cells })
}

/// The edges of the rows a run absorbs (its newest per key): one per ref of each row's `inputs`
/// and `supersedes` that is an `ns/type/id` ref, with the row's order. Tombstones have none (a
/// deleted source lists nothing; its older edges are stale from then on).
pub(crate) fn rows_of(rows: &[ServingRow]) -> Vec<ServingRow> {
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| !r.entry.deleted) {
        for kind in Kind::ALL {
            let Some(Cell::List(refs)) = column(kind.column()).and_then(|i| row.cells.get(i)) else { continue };
            for target in refs.iter().flatten().filter_map(|r| ref_key(r)) {
                let edge = Edge { kind, target, source: row.entry.key.clone(), order: row.entry.order };
                out.extend(row_of(&edge));
            }
        }
    }
    out
}

/// The edge table committed with `serving` (empty for none, or a root without edges).
pub(crate) async fn load<S: Store>(store: &S, table: &str, serving: Option<&Root>) -> Result<Root, CompactError> {
    let Some(serving) = serving else { return Ok(Root::empty(String::new(), Vec::new())) };
    let rk = root_key(table, serving.version);
    let bytes = store.get(&rk, None).await.map_err(|e| CompactError::Store(err(&rk, e)))?.bytes;
    edge_root(&bytes, serving).map_err(|e| CompactError::Corrupt(format!("{rk}: {e}")))
}

/// The next edge table: `base` (`None`: a rebuild, start empty) with `new` edges as an L0 run,
/// then merge steps as the serving table takes them (`plan::keep_merging`, `plan::next_merge`,
/// newest per edge key). Written with the run's writer, so names never collide with its other
/// files; L0 files carry no bloom filter (the range reader does not use one, and edges are many).
pub(crate) async fn next<S: Store>(
    store: &S,
    cfg: &Config,
    w: &mut Writer<'_, S>,
    base: Option<&Root>,
    new: Vec<ServingRow>,
    serving: &Root,
) -> Result<Root, CompactError> {
    let base = base.cloned().unwrap_or_else(|| empty(serving));
    let mut l0 = w.files(plan::newest_per_key(new), 0).await?;
    l0.iter_mut().for_each(|f| f.bloom = None);
    let mut root = plan::apply_run(&base, l0, serving.sources.clone(), serving.version, serving.metadata.clone());
    let mut steps = 0usize;
    while plan::keep_merging(&root, &cfg.limits, steps, cfg.full) {
        let Some(step) = plan::next_merge(&root, &cfg.limits, cfg.full) else { break };
        let mut inputs = Vec::new();
        for k in &step.l1_inputs {
            inputs.extend(read(store, k, None).await?);
        }
        for k in &step.l0_inputs {
            inputs.extend(read(store, k, Some(&step)).await?);
        }
        let outputs = w.files(plan::newest_per_key(inputs), 1).await?;
        root = plan::apply_merge(&root, &step, outputs);
        steps = steps.saturating_add(1);
        if steps > 100_000 {
            return Err(CompactError::Write("edge merge steps do not converge".into()));
        }
    }
    Ok(root)
}

/// Every row of an edge file (`within`: those in the step's range).
async fn read<S: Store>(store: &S, key: &str, within: Option<&plan::MergeStep>) -> Result<Vec<ServingRow>, CompactError> {
    let corrupt = |m: &str| CompactError::Corrupt(format!("{key}: {m}"));
    let bytes = store.get(key, None).await.map_err(|e| CompactError::Store(err(key, e)))?.bytes;
    let decoded = rows::read_all(&bytes, None, &["_lookup"]).map_err(|e| corrupt(&e.to_string()))?;
    let mut out = Vec::with_capacity(decoded.len());
    for mut r in decoded {
        let Some(Cell::Text(lookup)) = r.cells.pop() else { return Err(corrupt("a row without _lookup")) };
        let entry = Entry::decode(lookup.as_bytes()).filter(|e| Edge::of_entry(e).is_some()).ok_or_else(|| corrupt("not an edge"))?;
        if within.is_some_and(|s| !s.contains(&entry.key)) {
            continue;
        }
        out.push(ServingRow { entry, cells: r.cells });
    }
    Ok(out)
}

/// The root's bytes: the serving root with the edge table as its `edges` member.
pub(crate) fn root_bytes(serving: &Root, edges: &Root) -> Vec<u8> {
    root_json(serving, edges).into_bytes()
}

/// The data files of a version: the serving table's and the edge table's.
pub(crate) fn keys(serving: &Root, edges: &Root) -> BTreeSet<String> {
    serving.files.iter().chain(&edges.files).map(|f: &FileEntry| f.key.clone()).collect()
}

/// The data files a root's bytes list (both tables); `None` when they do not parse.
pub(crate) fn keys_in(bytes: &[u8]) -> Option<Vec<String>> {
    let serving = Root::parse(bytes).ok()?;
    let edges = edge_root(bytes, &serving).ok()?;
    Some(keys(&serving, &edges).into_iter().collect())
}

//! The edge table (#18) through the compactor: a small build graph written as the stand-in writes
//! source tables, compacted, then read back with `shared::serving::edges` (what serve will call)
//! and judged as a reader does — an edge is valid only while its source's current serving row has
//! its order. Rewrites that drop a ref and deletes leave stale edges that the order shows; merges
//! keep the newest per edge; a split table holds the edges of its own sources; the edge files
//! stay out of the Iceberg manifest (pyiceberg's scan of the serving table sees artifacts only)
//! and are kept and collected by expiry as the serving files are.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use compactor::store::{block_on, MemStore, StoreError};
use compactor::{Config, Store};
use iceberg_writer::commit::{added, append, data_file, schema_json, Append};
use iceberg_writer::{
    new_record_table, summarize, write_manifest, write_manifest_list, write_parquet, ColumnData, WriteCodec, WriteColumn,
};
use shared::iceberg::manifest::{read_manifest_list, DataContent, PartitionSpec};
use shared::iceberg::table_metadata::Operation;
use shared::locate::{Cell, Cost};
use shared::record::{ColumnType, COLUMNS};
use shared::serving::edges::{edge_root, ref_key, sources_of, superseded_in, valid, Edge, Kind};
use shared::serving::entry::Entry;
use shared::serving::key::key;
use shared::serving::lookup::lookup;
use shared::serving::order::Order;
use shared::serving::root::{root_key, Root};
use shared::serving::split;
use support::{read_serving_at, Rng, World, LOC};

const ROOTS: [&str; 2] = ["artifacts/preview", "artifacts/build"];
const TABLE: &str = "serving/artifacts";

/// The valid edges: (kind, target) → (source, order) of each.
type Valid = BTreeMap<(Kind, Vec<u8>), BTreeSet<(Vec<u8>, Order)>>;

/// One record of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    ns: String,
    id: String,
    ts: i64,
    deleted: bool,
    inputs: Vec<String>,
    supersedes: Vec<String>,
}

fn node(id: &str, ts: i64, inputs: &[&str], supersedes: &[&str]) -> Node {
    let refs = |v: &[&str]| v.iter().map(|r| format!("d/t/{r}")).collect();
    Node { ns: "d".into(), id: id.into(), ts, deleted: false, inputs: refs(inputs), supersedes: refs(supersedes) }
}

fn gone(id: &str, ts: i64) -> Node {
    Node { deleted: true, ..node(id, ts, &[], &[]) }
}

fn k(id: &str) -> Vec<u8> {
    key("d", "t", id)
}

/// The sources, the graph committed to them, and the serving table's store.
struct Graph {
    w: World,
    /// Every committed row: (source, seq, pos, node).
    rows: Vec<(u32, i64, u64, Node)>,
}

fn columns(rows: &[Node]) -> Vec<WriteColumn> {
    COLUMNS
        .iter()
        .map(|c| {
            let s = |f: &dyn Fn(&Node) -> Option<String>| ColumnData::Utf8(rows.iter().map(f).collect());
            let list = |f: &dyn Fn(&Node) -> &Vec<String>| {
                ColumnData::Utf8List(rows.iter().map(|r| (!r.deleted).then(|| f(r).iter().cloned().map(Some).collect())).collect())
            };
            let data = match (c.name, c.ty) {
                ("ns", _) => s(&|r| Some(r.ns.clone())),
                ("type", _) => s(&|_| Some("t".into())),
                ("id", _) => s(&|r| Some(r.id.clone())),
                ("ts", _) => ColumnData::TimestampNtzMicros(rows.iter().map(|r| Some(r.ts)).collect()),
                ("visibility", _) => s(&|_| Some("public".into())),
                ("owner_org", _) => s(&|_| Some("acme".into())),
                ("owner_user", _) => s(&|_| Some("alice".into())),
                ("markdown", _) => s(&|r| (!r.deleted).then(|| format!("{} at {}", r.id, r.ts))),
                ("content_hash", _) => s(&|r| Some(format!("h-{}-{}", r.id, r.ts))),
                ("size_bytes", _) => ColumnData::Int64(rows.iter().map(|_| Some(1)).collect()),
                ("deleted", _) => ColumnData::Boolean(rows.iter().map(|r| Some(r.deleted)).collect()),
                ("inputs", _) => list(&|r| &r.inputs),
                ("supersedes", _) => list(&|r| &r.supersedes),
                (_, ColumnType::String) => ColumnData::Utf8(vec![None; rows.len()]),
                (_, ColumnType::TimestampMicros) => ColumnData::TimestampNtzMicros(vec![None; rows.len()]),
                (_, ColumnType::Long) => ColumnData::Int64(vec![None; rows.len()]),
                (_, ColumnType::Boolean) => ColumnData::Boolean(vec![None; rows.len()]),
                (_, ColumnType::StringList { .. }) => ColumnData::Utf8List(vec![None; rows.len()]),
            };
            let element_field_id = match c.ty {
                ColumnType::StringList { element_id } => Some(element_id),
                _ => None,
            };
            WriteColumn { name: c.name.into(), field_id: c.field_id, required: c.required, data, element_field_id }
        })
        .collect()
}

impl Graph {
    fn new() -> Graph {
        Graph { w: World::new(&ROOTS), rows: Vec::new() }
    }

    fn fresh(&self) -> i64 {
        let n = self.w.next_id.get() + 1;
        self.w.next_id.set(n);
        n
    }

    /// Commits `rows` to source `i` as one append snapshot, as the stand-in does (the support's
    /// `World::commit`, with this test's `inputs` and `supersedes`).
    fn commit(&mut self, i: usize, rows: &[Node]) {
        let root = self.w.roots[i].clone();
        let store = &self.w.store;
        let (n, prev) = self.w.current(i).unwrap_or_else(|| (0, new_record_table(format!("uuid-{i}"), format!("{LOC}{root}"), 1)));
        let written = write_parquet(&columns(rows), WriteCodec::Snappy, 3).unwrap();
        let id = self.fresh();
        let data_key = format!("{root}/data/{id}.parquet");
        store.set(&data_key, written.bytes.clone());
        let snapshot_id = 1000 + id;
        let seq = prev.last_sequence_number + 1;
        let entries = added(snapshot_id, vec![data_file(format!("{LOC}{data_key}"), &written, DataContent::Data)]);
        let spec = PartitionSpec::unpartitioned();
        let manifest = write_manifest(&entries, &spec, &schema_json(&prev), 0).unwrap();
        let manifest_key = format!("{root}/metadata/{id}-m0.avro");
        let len = manifest.len() as i64;
        store.set(&manifest_key, manifest);
        let mut files = match prev.current_snapshot() {
            Some(p) => read_manifest_list(&store.bytes(p.manifest_list.strip_prefix(LOC).unwrap()).unwrap()).unwrap(),
            None => Vec::new(),
        };
        files.push(summarize(format!("{LOC}{manifest_key}"), len, &spec, snapshot_id, seq, &entries).unwrap());
        let list = write_manifest_list(&files, snapshot_id, prev.current_snapshot().map(|p| p.snapshot_id), seq).unwrap();
        let list_key = format!("{root}/metadata/snap-{snapshot_id}.avro");
        store.set(&list_key, list);
        let next = append(
            &prev,
            Append {
                snapshot_id,
                manifest_list: format!("{LOC}{list_key}"),
                operation: Operation::Append,
                data_files: 1,
                records: rows.len() as i64,
                file_size: written.bytes.len() as i64,
                properties: BTreeMap::new(),
                now_ms: 2 + id,
                previous_location: None,
            },
        );
        store.set(&format!("{root}/metadata/v{}.metadata.json", n + 1), next.to_json().into_bytes());
        store.set(&format!("{root}/metadata/version-hint.text"), (n + 1).to_string().into_bytes());
        for (r, node) in rows.iter().enumerate() {
            self.rows.push((i as u32, seq, r as u64, node.clone()));
        }
    }

    fn config(&self) -> Config {
        self.w.config()
    }

    fn run(&self, cfg: &Config) -> compactor::Report {
        let r = self.w.run(cfg);
        assert!(r.errors().is_empty(), "{:?}", r.errors());
        r
    }

    /// The naive answer: the valid edges per (kind, target) — every ref of every key's newest
    /// row unless it is a tombstone — with that row's order.
    fn expected(&self) -> Valid {
        let mut newest: BTreeMap<Vec<u8>, (Order, &Node)> = BTreeMap::new();
        for (source, seq, pos, n) in &self.rows {
            let order = Order { ts: n.ts, seq: *seq, source: *source, pos: *pos };
            let sk = key(&n.ns, "t", &n.id);
            if newest.get(&sk).is_some_and(|(o, _)| *o >= order) {
                continue;
            }
            newest.insert(sk, (order, n));
        }
        let mut out = Valid::new();
        for (sk, (order, n)) in newest {
            if n.deleted {
                continue;
            }
            for (kind, refs) in [(Kind::Input, &n.inputs), (Kind::Supersedes, &n.supersedes)] {
                for r in refs {
                    out.entry((kind, ref_key(r).unwrap())).or_default().insert((sk.clone(), order));
                }
            }
        }
        out
    }

    /// Every target ever named.
    fn targets(&self) -> BTreeSet<Vec<u8>> {
        self.rows.iter().flat_map(|(_, _, _, n)| n.inputs.iter().chain(&n.supersedes)).map(|r| ref_key(r).unwrap()).collect()
    }
}

/// The compactor's store as the readers' store.
struct Objects<'a>(&'a MemStore);

impl shared::locate::ObjectStore for Objects<'_> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        Store::get(self.0, key, range).await.map(|o| o.bytes)
    }
}

/// A serving table at its pointer as serve holds it: the root and its edge table (checked as
/// the support checks a version: the manifest lists exactly the root's serving files).
struct Table {
    serving: Root,
    edges: Root,
}

fn table(store: &MemStore, at: &str) -> Table {
    let (serving, _) = read_serving_at(store, at).unwrap();
    let bytes = store.bytes(&root_key(at, serving.version)).unwrap();
    let edges = edge_root(&bytes, &serving).unwrap();
    Table { serving, edges }
}

/// The sources with an edge of `kind` into `target`, each judged: `(source, order, valid)`.
fn judged(store: &MemStore, t: &Table, kind: Kind, target: &[u8]) -> Vec<(Vec<u8>, Order, bool)> {
    let objects = Objects(store);
    let found = block_on(sources_of(&objects, &t.edges, kind, target, 1000, &mut Cost::default())).unwrap();
    found
        .into_iter()
        .map(|(source, order)| {
            let current = block_on(lookup(&objects, &t.serving, &source, &mut Cost::default())).unwrap().map(|h| h.order);
            let ok = valid(order, current);
            (source, order, ok)
        })
        .collect()
}

fn valid_sources(store: &MemStore, t: &Table, kind: Kind, target: &[u8]) -> Vec<Vec<u8>> {
    judged(store, t, kind, target).into_iter().filter(|(_, _, ok)| *ok).map(|(s, _, _)| s).collect()
}

/// Every row of every edge file of `t`, decoded.
fn edge_rows(store: &MemStore, t: &Table) -> Vec<Edge> {
    let mut out = Vec::new();
    for f in &t.edges.files {
        for mut r in compactor::rows::read_all(&store.bytes(&f.key).unwrap(), None, &["_lookup"]).unwrap() {
            let Some(Cell::Text(l)) = r.cells.pop() else { panic!("no _lookup") };
            out.push(Edge::of_entry(&Entry::decode(l.as_bytes()).unwrap()).unwrap());
        }
    }
    out
}

#[test]
fn down_and_successors_of_a_small_build_graph() {
    let mut g = Graph::new();
    g.commit(
        0,
        &[
            node("lib", 1, &[], &[]),
            node("tool", 1, &[], &[]),
            node("app1", 2, &["lib"], &[]),
            node("app2", 2, &["lib", "tool"], &[]),
            node("doc1", 1, &[], &[]),
        ],
    );
    g.commit(1, &[node("doc2", 3, &["app2"], &["doc1"])]);
    let r = g.run(&g.config());
    assert_eq!(r.version, Some(1));
    let t = table(&g.w.store, TABLE);
    assert!(!t.edges.files.is_empty());
    assert_eq!(valid_sources(&g.w.store, &t, Kind::Input, &k("lib")), [k("app1"), k("app2")]);
    assert_eq!(valid_sources(&g.w.store, &t, Kind::Input, &k("tool")), [k("app2")]);
    assert_eq!(valid_sources(&g.w.store, &t, Kind::Input, &k("app2")), [k("doc2")]);
    assert_eq!(valid_sources(&g.w.store, &t, Kind::Supersedes, &k("doc1")), [k("doc2")]);
    assert!(valid_sources(&g.w.store, &t, Kind::Supersedes, &k("lib")).is_empty());
    assert!(valid_sources(&g.w.store, &t, Kind::Input, &k("doc1")).is_empty(), "kinds are apart");
    // Each edge carries its source row's order.
    let lib = judged(&g.w.store, &t, Kind::Input, &k("lib"));
    assert_eq!(lib[0].1, Order { ts: 2, seq: 1, source: 0, pos: 2 });
    // The listing's status filter: the `s` edges of a page's key range.
    let mut hi = key("d", "t", "");
    hi.push(0xff);
    let s = block_on(superseded_in(&Objects(&g.w.store), &t.edges, &key("d", "t", ""), Some(&hi), 8, &mut Cost::default())).unwrap();
    assert_eq!(s.edges.iter().map(|e| (e.target.clone(), e.source.clone())).collect::<Vec<_>>(), [(k("doc1"), k("doc2"))]);

    // app1 rewritten without lib; app2 deleted: their edges into lib are stale, told by the order.
    g.commit(0, &[node("app1", 5, &["tool"], &[]), gone("app2", 5)]);
    g.run(&g.config());
    let t = table(&g.w.store, TABLE);
    let lib = judged(&g.w.store, &t, Kind::Input, &k("lib"));
    assert_eq!(lib.iter().map(|(s, _, ok)| (s.clone(), *ok)).collect::<Vec<_>>(), [(k("app1"), false), (k("app2"), false)]);
    assert_eq!(valid_sources(&g.w.store, &t, Kind::Input, &k("tool")), [k("app1")], "app2 is deleted: its edge into tool is stale");
    // A successor superseding again is still a successor; a rewrite that keeps the ref makes a newer edge.
    g.commit(1, &[node("doc2", 6, &[], &["doc1"])]);
    let mut cfg = g.config();
    cfg.full = true;
    g.run(&cfg);
    let t = table(&g.w.store, TABLE);
    let doc1 = judged(&g.w.store, &t, Kind::Supersedes, &k("doc1"));
    assert_eq!(doc1.len(), 1);
    assert!(doc1[0].2 && doc1[0].1.ts == 6, "{doc1:?}");
    assert!(t.edges.files.iter().all(|f| f.level == 1), "FULL merges the edge table's L0 too");
}

#[test]
fn random_graphs_read_back_as_the_naive_valid_edges() {
    for seed in 1..=6u64 {
        let mut rng = Rng(seed * 0x5851_F42D);
        let mut g = Graph::new();
        let mut stale_seen = 0;
        let mut merged = false;
        for round in 0..10 {
            for _ in 0..1 + rng.below(2) {
                let rows: Vec<Node> = (0..1 + rng.below(6))
                    .map(|_| {
                        let id = format!("n{:02}", rng.below(16));
                        let refs = |rng: &mut Rng, n: u64| (0..rng.below(n)).map(|_| format!("d/t/n{:02}", rng.below(16))).collect();
                        let mut n = Node {
                            ns: "d".into(),
                            id,
                            ts: rng.below(4) as i64,
                            deleted: rng.below(7) == 0,
                            inputs: refs(&mut rng, 4),
                            supersedes: refs(&mut rng, 2),
                        };
                        if n.deleted {
                            n.inputs.clear();
                            n.supersedes.clear();
                        }
                        n
                    })
                    .collect();
                g.commit(rng.below(2) as usize, &rows);
            }
            let mut cfg = g.config();
            cfg.full = rng.below(4) == 0;
            g.run(&cfg);
            let t = table(&g.w.store, TABLE);
            merged |= t.edges.files.iter().any(|f| f.level == 1);
            let want = g.expected();
            for target in g.targets() {
                for kind in Kind::ALL {
                    let all = judged(&g.w.store, &t, kind, &target);
                    stale_seen += all.iter().filter(|(_, _, ok)| !ok).count();
                    let got: BTreeSet<(Vec<u8>, Order)> = all.into_iter().filter(|(_, _, ok)| *ok).map(|(s, o, _)| (s, o)).collect();
                    let expect = want.get(&(kind, target.clone())).cloned().unwrap_or_default();
                    assert_eq!(got, expect, "seed {seed} round {round}: {kind:?} into {}", String::from_utf8_lossy(&target));
                }
            }
            // Newest per edge key within each file; never an edge of a tombstone's own row.
            for e in edge_rows(&g.w.store, &t) {
                assert!(g.rows.iter().any(|(_, _, _, n)| !n.deleted && key(&n.ns, "t", &n.id) == e.source && n.ts == e.order.ts));
            }
        }
        assert!(stale_seen > 0, "seed {seed}: rewrites left no stale edge to judge");
        assert!(merged, "seed {seed}: the edge table was never merged");
    }
}

#[test]
fn a_split_table_holds_the_edges_of_its_own_sources() {
    let splits = split::parse(TABLE, "d/t/n08").unwrap();
    assert_eq!(splits.len(), 2);
    let mut rng = Rng(77);
    let mut g = Graph::new();
    for round in 0..6 {
        let rows: Vec<Node> = (0..6)
            .map(|i| {
                let refs = |rng: &mut Rng| (0..1 + rng.below(3)).map(|_| format!("d/t/n{:02}", rng.below(16))).collect();
                Node {
                    ns: "d".into(),
                    id: format!("n{:02}", rng.below(16)),
                    ts: round * 10 + i,
                    deleted: false,
                    inputs: refs(&mut rng),
                    supersedes: refs(&mut rng),
                }
            })
            .collect();
        g.commit(round as usize % 2, &rows);
        for s in &splits {
            let mut cfg = g.config();
            cfg.serving_root = s.root.clone();
            cfg.range = s.range();
            g.run(&cfg);
        }
    }
    let tables: Vec<Table> = splits.iter().map(|s| table(&g.w.store, &s.root)).collect();
    for (s, t) in splits.iter().zip(&tables) {
        let edges = edge_rows(&g.w.store, t);
        assert!(!edges.is_empty());
        assert!(edges.iter().all(|e| s.contains(&e.source)), "{}: only edges whose source is in its range", s.root);
    }
    // A target's sources are the union over the ranges, each judged by its own range's table.
    let want = g.expected();
    for target in g.targets() {
        for kind in Kind::ALL {
            let mut got = BTreeSet::new();
            for t in &tables {
                for (source, order, ok) in judged(&g.w.store, t, kind, &target) {
                    if ok {
                        got.insert((source, order));
                    }
                }
            }
            assert_eq!(got, want.get(&(kind, target.clone())).cloned().unwrap_or_default());
        }
    }
}

#[test]
fn edge_files_are_kept_while_their_version_is_and_collected_after() {
    let mut g = Graph::new();
    let min = 60_000;
    for n in 0..6 {
        g.commit(n % 2, &[node(&format!("a{n}"), n as i64, &["lib"], &[]), node("b", n as i64, &[&format!("a{n}")], &["old"])]);
        g.run(&g.config());
        g.w.advance(min);
    }
    g.w.advance(compactor::GRACE_MS);
    g.commit(0, &[node("late", 9, &["lib"], &[])]);
    let r = g.run(&g.config());
    assert_eq!(r.version, Some(7));
    assert!(r.deleted_files > 0);
    // What versions 6 and 7 list (both tables) is there; no other data file is.
    let mut listed = BTreeSet::new();
    for v in [6, 7] {
        let bytes = g.w.store.bytes(&root_key(TABLE, v)).unwrap();
        let serving = Root::parse(&bytes).unwrap();
        let edges = edge_root(&bytes, &serving).unwrap();
        assert!(!edges.files.is_empty());
        for f in serving.files.iter().chain(&edges.files) {
            assert!(g.w.store.bytes(&f.key).is_some(), "v{v} lists {}", f.key);
            listed.insert(f.key.clone());
        }
    }
    let data: BTreeSet<String> = g.w.store.keys().into_iter().filter(|k| k.starts_with(&format!("{TABLE}/data/"))).collect();
    assert_eq!(data, listed);
    let t = table(&g.w.store, TABLE);
    let lib: Vec<Vec<u8>> = valid_sources(&g.w.store, &t, Kind::Input, &k("lib"));
    assert_eq!(lib, ["a0", "a1", "a2", "a3", "a4", "a5", "late"].map(k));
    assert_eq!(valid_sources(&g.w.store, &t, Kind::Supersedes, &k("old")), [k("b")]);
    assert_eq!(valid_sources(&g.w.store, &t, Kind::Input, &k("a5")), [k("b")]);
    assert!(valid_sources(&g.w.store, &t, Kind::Input, &k("a4")).is_empty(), "b was rewritten");
}

#[test]
fn a_rebuild_starts_the_edge_table_over() {
    let mut g = Graph::new();
    g.commit(0, &[node("app", 1, &["lib"], &[])]);
    g.run(&g.config());
    g.commit(0, &[node("app", 2, &["tool"], &[])]);
    g.run(&g.config());
    let before = table(&g.w.store, TABLE);
    assert_eq!(edge_rows(&g.w.store, &before).len(), 2, "the stale edge and the new one");
    let mut cfg = g.config();
    cfg.from_scratch = true;
    let r = g.run(&cfg);
    assert!(r.rebuilt);
    let after = table(&g.w.store, TABLE);
    let edges = edge_rows(&g.w.store, &after);
    assert_eq!(edges.len(), 1, "rebuilt from the newest rows only: {edges:?}");
    assert_eq!(edges[0].target, k("tool"));
    assert_eq!(valid_sources(&g.w.store, &after, Kind::Input, &k("tool")), [k("app")]);
}

#[test]
fn a_table_without_refs_keeps_the_roots_shape() {
    let mut g = Graph::new();
    g.commit(0, &[node("a", 1, &[], &[])]);
    g.run(&g.config());
    let text = String::from_utf8(g.w.store.bytes(&root_key(TABLE, 1)).unwrap()).unwrap();
    assert!(!text.contains("\"edges\""), "{text}");
    let t = table(&g.w.store, TABLE);
    assert!(t.edges.files.is_empty());
    assert!(judged(&g.w.store, &t, Kind::Input, &k("a")).is_empty());
}

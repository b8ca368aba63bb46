//! `GET /$.lineage/{ns}/{type}/{id}?direction=up|down&depth=N` (#18): the core's walk
//! (`shared::answer::lineage`) over this request's reads, and the serving tables' edge tables
//! (the `edges` member of each split's current root, parsed once per root per isolate).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use shared::answer::lineage::{Direction, EdgeTables, MAX_DEPTH, MAX_NODES};
use shared::answer::Reads;
use shared::content::{self, Reader, Version};
use shared::locate::{Cost, LocateError, ObjectStore, StoreError};
use shared::problem::Problem;
use shared::serving::root::{root_key, Root};
use worker::{Env, Request, Response, Result};

use crate::glue;
use crate::tables::{self, Config, Tables};
use crate::tenants::Tenants;

thread_local! {
    /// Serving root key → its edge table (roots are create-only).
    static EDGES: RefCell<HashMap<String, Rc<Root>>> = RefCell::new(HashMap::new());
}

/// Edge tables kept parsed.
const MAX_EDGE_ROOTS: usize = 16;

impl EdgeTables for Tables<'_> {
    async fn edge_roots(&self) -> std::result::Result<Vec<Rc<Root>>, LocateError> {
        let Ok(splits) = &self.cfg.serving_splits else { return Ok(Vec::new()) };
        if self.cfg.serving_root.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for split in splits {
            let lo = split.lo.clone().unwrap_or_default();
            let root = match tables::serving_root(self.cfg, self.r2, &lo).await {
                Ok(Some((root, _))) => root,
                Ok(None) => continue,
                // No serving table yet: no edges.
                Err(LocateError::Store { error: StoreError::NotFound, .. }) => continue,
                Err(e) => return Err(e),
            };
            let key = root_key(&split.root, root.version);
            if let Some(edges) = EDGES.with(|e| e.borrow().get(&key).cloned()) {
                out.push(edges);
                continue;
            }
            let bytes = self.r2.get(&key, None).await.map_err(|error| LocateError::Store { key: key.clone(), error })?;
            let edges =
                shared::serving::edges::edge_root(&bytes, &root).map_err(|reason| LocateError::Corrupt { key: key.clone(), reason })?;
            let edges = Rc::new(edges);
            EDGES.with(|e| {
                let mut e = e.borrow_mut();
                if e.len() >= MAX_EDGE_ROOTS {
                    e.clear();
                }
                e.insert(key, edges.clone());
            });
            out.push(edges);
        }
        Ok(out)
    }
}

fn bad_query(detail: String) -> Result<Response> {
    glue::problem(&Problem::new(400, "bad-query", "Bad Request", detail))
}

/// `GET /$.lineage/{rest}`.
pub async fn get(req: &Request, env: &Env, rest: &str) -> Result<Response> {
    let c = match content::parse(&format!("{rest}.json")) {
        Ok(c) => c,
        Err(e) => return glue::problem(&Problem::from(e)),
    };
    if c.version != Version::Latest {
        return glue::problem(&Problem::new(400, "bad-path", "Bad Request", "lineage is of an artifact's newest version: no @version"));
    }
    let claims = match crate::auth::reader(req, env) {
        Ok(c) => c,
        Err(p) => return glue::problem(&p),
    };
    let reader = claims.as_ref().map_or(Reader::Anonymous, Reader::Token);
    let url = req.inner().url();
    let mut direction = Direction::Up;
    let mut depth = 1u32;
    for (k, v) in shared::query::pairs(&url) {
        match k.as_str() {
            "direction" => match Direction::parse(&v) {
                Some(d) => direction = d,
                None => return bad_query(format!("direction {v:?} is not up or down")),
            },
            "depth" => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_DEPTH).contains(&n) => depth = n,
                _ => return bad_query(format!("depth {v:?}: 1 to {MAX_DEPTH}")),
            },
            other => return bad_query(format!("unknown parameter {other:?}: lineage takes direction and depth")),
        }
    }
    let cfg = Config::from_env(env);
    let r2 = crate::store::r2(env.bucket("WAREHOUSE")?);
    let tenants = Tenants::new(env);
    let catalog = Tables { cfg: &cfg, r2: &r2, tenants: &tenants };
    let reads = Reads { store: &r2, catalog: &catalog, policy: &cfg.policy, html: &crate::html::Rewriter };
    let mut cost = Cost::default();
    let lineage = match reads.lineage(&c, reader, direction, depth, MAX_NODES, &mut cost).await {
        Ok(Some(l)) => l,
        Ok(None) => return glue::problem(&shared::answer::not_found(&c)),
        Err(p) => return glue::problem(&p),
    };
    r2.keep_reads();
    let nodes: Vec<serde_json::Value> = lineage
        .nodes
        .iter()
        .map(|n| {
            serde_json::json!({
                "ref": n.reference,
                "ts": shared::time::format_micros(n.ts),
                "status": n.status.as_str(),
                "visibility": n.visibility.as_str(),
            })
        })
        .collect();
    let edges: Vec<serde_json::Value> = lineage.edges.iter().map(|(f, t)| serde_json::json!({ "from": f, "to": t })).collect();
    let body = serde_json::json!({ "nodes": nodes, "edges": edges, "truncated": lineage.truncated });
    let mut res = glue::json(200, &body.to_string())?;
    res.headers_mut().set("cache-control", "private, no-cache")?;
    res.headers_mut().set("vary", "authorization")?;
    res.headers_mut().set("server-timing", &format!("r2-reads;desc=\"{}\", r2-bytes;desc=\"{}\"", r2.reads(), r2.bytes()))?;
    Ok(res)
}

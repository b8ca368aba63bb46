//! `GET`/`HEAD /$.content/{ns}/{type}/{id}[@version].{ext}`: locate the newest version across the
//! configured tables, check visibility, and answer with the representation asked for.

use serde_json::{Map, Value};
use shared::content::{self, ContentRef, Reader, Representation, RowOrder, Version};
use shared::locate::{self, At, Cell, Cost, Found, LocateError, Table, Wanted};
use shared::problem::Problem;
use shared::record::{Content, Visibility, COLUMNS};
use worker::{Bucket, Date, Env, Request, Response, Result};

use crate::glue;
use crate::store::R2;
use crate::tables::{self, Config};

/// The one answer for "missing", "tombstoned" and "not yours": nothing may tell them apart.
fn not_found(c: &ContentRef) -> Problem {
    Problem::new(404, "not-found", "Not Found", format!("no artifact {}/{}/{}", c.ns, c.ty, c.id))
}

fn upstream(e: &LocateError) -> Problem {
    let p = Problem::new(502, "bad-upstream-object", "Bad Gateway", e.to_string());
    match e {
        LocateError::Store { key, .. } | LocateError::Corrupt { key, .. } => p.with("key", key.as_str()),
        LocateError::OutsideWarehouse(l) => p.with("location", l.as_str()),
        LocateError::Unsupported(what) => p.with("feature", *what),
    }
}

/// Handles a content request; `rest` is the path after `/$.content/`.
pub async fn get(req: &Request, env: &Env, rest: &str, head: bool) -> Result<Response> {
    let c = match content::parse(rest) {
        Ok(c) => c,
        Err(content::RouteError::UnknownExtension) => {
            return glue::problem(&Problem::new(404, "unknown-extension", "Not Found", content::RouteError::UnknownExtension.description()))
        }
        Err(e) => return glue::problem(&Problem::new(400, "bad-path", "Bad Request", e.description())),
    };
    let claims = match crate::auth::reader(req, env) {
        Ok(c) => c,
        Err(p) => return glue::problem(&p),
    };
    let reader = claims.as_ref().map_or(Reader::Anonymous, Reader::Token);
    let cfg = Config::from_env(env);
    let bucket: Bucket = env.bucket("WAREHOUSE")?;
    let r2 = R2::new(bucket);
    let mut cost = Cost::default();
    let started = Date::now().as_millis();
    let outcome = answer(&c, reader, &cfg, &r2, &mut cost).await;
    if outcome.is_ok() {
        r2.keep_reads();
    }
    match outcome {
        Ok(Answer::Body { status, content_type, body, etag, private }) => {
            let timing = format!(
                "r2-reads;desc=\"{}\", r2-bytes;desc=\"{}\", files;desc=\"considered {}, pruned {}, manifests pruned {}\", total;dur={}",
                cost.reads,
                cost.bytes,
                cost.files,
                cost.pruned,
                cost.pruned_manifests,
                Date::now().as_millis().saturating_sub(started)
            );
            let if_none_match = req.headers().get("if-none-match").ok().flatten();
            let cache_control = if private { "private, no-cache" } else { "public, max-age=60" };
            let matches = if_none_match.as_deref().is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
            let (status, body) = if matches { (304, String::new()) } else { (status, body) };
            let mut res = if head || status == 304 { Response::empty()? } else { Response::ok(body)? }.with_status(status);
            let h = res.headers_mut();
            if status != 304 {
                h.set("content-type", content_type)?;
            }
            h.set("etag", &etag)?;
            h.set("cache-control", cache_control)?;
            h.set("server-timing", &timing)?;
            Ok(res)
        }
        Ok(Answer::Problem(p)) | Err(p) => glue::problem(&p),
    }
}

enum Answer {
    Body { status: u16, content_type: &'static str, body: String, etag: String, private: bool },
    Problem(Problem),
}

fn at(version: Version) -> At {
    match version {
        Version::Latest => At::Current,
        Version::Snapshot(id) => At::Snapshot(id),
        Version::AsOf(us) => At::Time(us),
    }
}

async fn answer(c: &ContentRef, reader: Reader<'_>, cfg: &Config, r2: &R2, cost: &mut Cost) -> std::result::Result<Answer, Problem> {
    let keys = tables::current_metadata_keys(cfg, r2).await.map_err(|e| upstream(&e))?;
    let wanted = Wanted { ns: &c.ns, ty: &c.ty, id: &c.id };
    let mut best: Option<(Found, std::rc::Rc<shared::iceberg::table_metadata::TableMetadata>)> = None;
    for key in keys {
        let metadata = tables::metadata(cfg, r2, &key).await.map_err(|e| upstream(&e))?;
        let table = Table { metadata: &metadata, location_prefix: &cfg.location_prefix };
        let found = locate::locate(r2, &table, wanted, &at(c.version), cost).await.map_err(|e| upstream(&e))?;
        if let Some(f) = found {
            // Across tables: greatest ts, then greater data sequence number (row positions are
            // per table and do not order across tables).
            let order = |o: RowOrder| (o.ts, o.sequence_number);
            if best.as_ref().is_none_or(|(b, _)| order(f.order) > order(b.order)) {
                best = Some((f, metadata.clone()));
            }
        }
    }
    let Some((found, metadata)) = best else { return Ok(Answer::Problem(not_found(c))) };
    // Our tables always carry visibility (a required column); a row without one comes from a
    // table another tool wrote and the operator listed, and gets UNOWNED_VISIBILITY. A value that
    // is present but unknown is treated as the strictest, `user`.
    let visibility = match found.visibility.as_deref() {
        None => cfg.unowned_visibility,
        Some(v) => Visibility::parse(v).unwrap_or(Visibility::User),
    };
    let may = content::may_read(visibility, found.owner_org.as_deref().unwrap_or(""), found.owner_user.as_deref().unwrap_or(""), reader);
    if found.deleted || !may {
        return Ok(Answer::Problem(not_found(c)));
    }
    let private = !matches!(visibility, Visibility::Public | Visibility::Unlisted);
    let table = Table { metadata: &metadata, location_prefix: &cfg.location_prefix };
    // The body of `.json` also carries ts and visibility, so the tag covers the version, not
    // only the content.
    let hash = found.content_hash.as_deref().unwrap_or("none");
    let etag = format!("\"{hash}-{}-{}.{}\"", found.ts, visibility.as_str(), c.ext);
    let single = match c.representation {
        Representation::Text { column, content_type } => Some((column, content_type)),
        Representation::Json { column } => Some((column, "application/json")),
        Representation::Record => None,
    };
    match single {
        Some((column, content_type)) => {
            let value = locate::read_value(r2, &table, &found, column, cost).await.map_err(|e| upstream(&e))?;
            match value {
                Some(body) => Ok(Answer::Body { status: 200, content_type, body, etag, private }),
                None => Ok(Answer::Problem(Problem::new(
                    404,
                    "field-missing",
                    "Not Found",
                    format!("{}/{}/{} has no {column}", c.ns, c.ty, c.id),
                ).with("field", column))),
            }
        }
        None => {
            let names: Vec<&str> = COLUMNS.iter().map(|col| col.name).collect();
            let cells = locate::read_row(r2, &table, &found, &names, cost).await.map_err(|e| upstream(&e))?;
            let mut obj = Map::new();
            for (col, cell) in COLUMNS.iter().zip(cells) {
                let v = match (col.name, col.content, cell) {
                    (_, _, Cell::Null) => Value::Null,
                    ("ts", _, Cell::Long(us)) => Value::String(shared::time::format_micros(us)),
                    (_, Content::Json, Cell::Text(t)) => serde_json::from_str(&t).unwrap_or(Value::String(t)),
                    (_, _, Cell::Text(t)) => Value::String(t),
                    (_, _, Cell::Long(n)) => Value::from(n),
                    (_, _, Cell::Bool(b)) => Value::Bool(b),
                    (_, _, Cell::List(items)) => Value::Array(items.into_iter().map(|i| i.map_or(Value::Null, Value::String)).collect()),
                };
                obj.insert(col.name.into(), v);
            }
            Ok(Answer::Body { status: 200, content_type: "application/json", body: Value::Object(obj).to_string(), etag, private })
        }
    }
}

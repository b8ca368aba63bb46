//! `loadTable` on the REST catalog (R2 Data Catalog): the current `metadata-location` of each
//! catalog table, as a bucket key — what serve resolves for its reads, and what the compactor is
//! given for `catalog:<table>` sources before a run.

use shared::locate::key_for;

use crate::settings::{Catalog, Settings};

/// The current metadata key of a catalog table.
pub async fn metadata_key(cat: &Catalog, settings: &Settings, table: &str) -> Result<String, String> {
    let url = format!("{}/v1/{}/namespaces/{}/tables/{table}", cat.url, cat.warehouse, cat.namespace);
    let fail = |why: String| format!("loadTable {url}: {why}");
    let mut init = worker::RequestInit::new();
    let headers = worker::Headers::new();
    if let Some(token) = &cat.token {
        headers.set("authorization", &format!("Bearer {token}")).map_err(|e| fail(e.to_string()))?;
    }
    init.with_headers(headers);
    let req = worker::Request::new_with_init(&url, &init).map_err(|e| fail(e.to_string()))?;
    let mut res = worker::Fetch::Request(req).send().await.map_err(|e| fail(e.to_string()))?;
    if res.status_code() != 200 {
        return Err(fail(format!("the catalog answered {}", res.status_code())));
    }
    let body: serde_json::Value = res.json().await.map_err(|e| fail(e.to_string()))?;
    let location = body.get("metadata-location").and_then(|v| v.as_str()).ok_or_else(|| fail("no metadata-location".into()))?;
    let prefixes = settings.source_prefixes();
    let prefix = prefixes.iter().find(|p| location.starts_with(p.as_str())).or(prefixes.first()).map_or("", String::as_str);
    key_for(location, prefix).map_err(|e| fail(format!("{e:?}")))
}

/// `(catalog:<table>, metadata key)` for every catalog table, in order.
pub async fn resolve(settings: &Settings) -> Result<Vec<(String, String)>, String> {
    let Some(cat) = &settings.catalog else { return Ok(Vec::new()) };
    let mut out = Vec::with_capacity(cat.tables.len());
    for t in &cat.tables {
        out.push((format!("catalog:{t}"), metadata_key(cat, settings, t).await?));
    }
    Ok(out)
}

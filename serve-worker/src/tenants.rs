//! Tenant settings (`tenant:<org>` in `ARTIFACT_STATE`) as one request reads them: each org's
//! value is read once (KV `cacheTtl` 60 s) and kept for the request, whatever asks for it —
//! retention for every row a listing or lineage judges (#18), cache windows, CORS.

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

/// One request's tenant settings.
pub struct Tenants {
    env: Env,
    /// org → its settings' JSON text (`None`: none, or KV failed: the defaults).
    memo: RefCell<Vec<(String, Option<Rc<str>>)>>,
}

/// Orgs one request remembers (a listing page holds at most 1,000 rows, of a few orgs).
const MAX_ORGS: usize = 64;

impl Tenants {
    /// Settings read through `env`'s `ARTIFACT_STATE`.
    pub fn new(env: &Env) -> Tenants {
        Tenants { env: env.clone(), memo: RefCell::new(Vec::new()) }
    }

    /// `org`'s settings text.
    pub async fn text(&self, org: &str) -> Option<Rc<str>> {
        if let Some((_, t)) = self.memo.borrow().iter().find(|(o, _)| o == org) {
            return t.clone();
        }
        let text = match self.env.kv("ARTIFACT_STATE") {
            Ok(kv) => kv.get(&shared::tenant::key(org)).cache_ttl(60).text().await.ok().flatten().map(Rc::from),
            Err(_) => None,
        };
        let mut memo = self.memo.borrow_mut();
        if memo.len() < MAX_ORGS {
            memo.push((org.to_string(), text.clone()));
        }
        text
    }

    /// `org`'s retention policy (`shared::retention`).
    pub async fn retention(&self, org: &str) -> shared::retention::Retention {
        self.text(org).await.map(|t| shared::retention::Retention::parse(&t)).unwrap_or_default()
    }
}

//! The ledger (#17, `docs/design/ledger.md`, "Serve") as serve calls it: on a cache miss one
//! `lookup` to the key's shard (`LEDGER`, `LEDGER_SHARDS`), bounded by `LEDGER_TIMEOUT_MS`
//! (default 200); and the colo hint ingest leaves in this colo's cache. What the answers mean is
//! `shared::answer::pending`'s.

use std::pin::pin;

use futures_util::future::{select, Either};
use shared::answer::pending::{self, Ledger, Lookup};
use shared::content::ContentRef;
use shared::ledger::shard;
use shared::state::State;
use wasm_bindgen::JsValue;
use worker::{Cache, Delay, Env, Method, Request, RequestInit};

/// How long a lookup may take before the tables answer alone (`LEDGER_TIMEOUT_MS`), ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 200;

fn timeout_ms(env: &Env) -> u64 {
    env.var("LEDGER_TIMEOUT_MS").ok().and_then(|v| v.to_string().trim().parse().ok()).unwrap_or(DEFAULT_TIMEOUT_MS)
}

/// The key's `lookup`: [`Ledger::Off`] when no ledger is bound, [`Ledger::Unavailable`] when the
/// call fails, answers anything but a `lookup` answer, or takes longer than the timeout.
pub async fn lookup(env: &Env, c: &ContentRef) -> Ledger {
    let Ok(namespace) = env.durable_object("LEDGER") else { return Ledger::Off };
    let key = format!("{}/{}/{}", c.ns, c.ty, c.id);
    let shards = shard::parse_shards(env.var("LEDGER_SHARDS").ok().map(|v| v.to_string()).as_deref());
    let name = shard::object_name(shard::shard_of(&key, shards));
    let body = serde_json::json!({ "k": key }).to_string();
    let call = async move {
        let stub = namespace.id_from_name(&name)?.get_stub()?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
        let mut res = stub.fetch_with_request(Request::new_with_init("https://ledger/lookup", &init)?).await?;
        if res.status_code() != 200 {
            return Ok(None);
        }
        Ok::<_, worker::Error>(Lookup::parse(&res.text().await?))
    };
    let timeout = Delay::from(std::time::Duration::from_millis(timeout_ms(env)));
    match select(pin!(call), pin!(timeout)).await {
        Either::Left((Ok(Some(l)), _)) => Ledger::Answered(l),
        Either::Left((Ok(None) | Err(_), _)) | Either::Right(_) => Ledger::Unavailable,
    }
}

/// The colo hint for `c`'s key (`{"g","h"}` under [`pending::hint_key`] in this colo's cache),
/// when there is one.
pub async fn hint(c: &ContentRef) -> Option<State> {
    let mut res = Cache::default().get(pending::hint_key(&c.ns, &c.ty, &c.id), false).await.ok()??;
    State::parse(&res.text().await.ok()?)
}

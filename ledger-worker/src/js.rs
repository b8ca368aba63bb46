//! The JS platform in miniature (as ingest's `js.rs`): raw `extern` declarations for what the
//! ledger calls — a Durable Object's SQL storage and alarm, Workers KV, the queue consumer's
//! batch, the `LEDGER` namespace and its stubs — then the small safe API the rest uses.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Response, ResponseInit};

#[wasm_bindgen]
extern "C" {
    /// A Durable Object's `ctx` (`DurableObjectState`).
    pub type ObjectState;
    #[wasm_bindgen(method, getter)]
    pub fn storage(this: &ObjectState) -> Storage;
    #[wasm_bindgen(method, getter)]
    fn id(this: &ObjectState) -> ObjectId;

    /// A `DurableObjectId`.
    pub type ObjectId;
    #[wasm_bindgen(method, js_name = toString)]
    fn text(this: &ObjectId) -> String;

    /// `ctx.storage` of a SQLite-backed object.
    pub type Storage;
    #[wasm_bindgen(method, getter)]
    fn sql(this: &Storage) -> SqlStorage;
    /// `transactionSync(fn)`: runs `fn` in one SQLite transaction, rolled back when it throws.
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(this: &Storage, f: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getAlarm)]
    fn get_alarm(this: &Storage) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = setAlarm)]
    fn set_alarm(this: &Storage, at_ms: f64) -> Result<Promise, JsValue>;

    /// `ctx.storage.sql`.
    #[derive(Clone)]
    type SqlStorage;
    /// `exec(query, ...bindings)` → a cursor; the statement runs as the cursor is read.
    #[wasm_bindgen(method, catch, variadic)]
    fn exec(this: &SqlStorage, query: &str, bindings: &Array) -> Result<Cursor, JsValue>;

    /// A `SqlStorageCursor`.
    type Cursor;
    /// The rows as arrays (`raw()`), an iterator with `toArray()`.
    #[wasm_bindgen(method, catch)]
    fn raw(this: &Cursor) -> Result<RawRows, JsValue>;
    /// Rows this statement wrote (what Durable Objects bill), once the cursor is read.
    #[wasm_bindgen(method, getter, js_name = rowsWritten)]
    fn rows_written(this: &Cursor) -> f64;

    type RawRows;
    #[wasm_bindgen(method, catch, js_name = toArray)]
    fn to_array(this: &RawRows) -> Result<Array, JsValue>;

    /// A Workers KV namespace binding.
    pub type KvNamespace;
    /// `put(key, value)`.
    #[wasm_bindgen(method, catch)]
    fn put(this: &KvNamespace, key: &str, value: &str) -> Result<Promise, JsValue>;

    /// The queue consumer's batch (`queue(batch, env, ctx)`).
    pub type MessageBatch;
    #[wasm_bindgen(method, getter)]
    pub fn messages(this: &MessageBatch) -> Array;

    /// One message of a batch.
    pub type Message;
    /// Its body: the text the producer sent (or a structured value).
    #[wasm_bindgen(method, getter)]
    fn body(this: &Message) -> JsValue;
    #[wasm_bindgen(method)]
    pub fn ack(this: &Message);
    /// Deliver it again later (up to `max_retries`, then the dead-letter queue).
    #[wasm_bindgen(method)]
    pub fn retry(this: &Message);

    /// A Durable Object namespace binding (`LEDGER`).
    type Namespace;
    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &Namespace, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &Namespace, id: &JsValue) -> Result<Stub, JsValue>;

    /// A Durable Object stub.
    type Stub;
    #[wasm_bindgen(method, catch)]
    fn fetch(this: &Stub, url: &str, init: &JsValue) -> Result<Promise, JsValue>;

    /// `console.error(text)`.
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(text: &str);
}

/// Milliseconds since the epoch (`Date.now()`).
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Error text of a JS exception or rejection.
pub fn describe(err: &JsValue) -> String {
    if let Some(e) = err.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    err.as_string().unwrap_or_else(|| "JavaScript error".into())
}

/// Awaits a promise, the rejection as its text.
async fn settle(p: Result<Promise, JsValue>) -> Result<JsValue, String> {
    JsFuture::from(p.map_err(|e| describe(&e))?).await.map_err(|e| describe(&e))
}

/// A binding from the environment by name.
pub fn binding(env: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(env, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// A string var from the environment.
pub fn var(env: &JsValue, name: &str) -> Option<String> {
    binding(env, name).and_then(|v| v.as_string())
}

/// The path of a request URL (`https://ledger/confirm?x` → `/confirm`).
pub fn path(url: &str) -> &str {
    let after_scheme = url.find("://").and_then(|i| url.get(i + 3..)).unwrap_or(url);
    let path = after_scheme.find('/').and_then(|i| after_scheme.get(i..)).unwrap_or("/");
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
}

/// A response with a status, content type, body and extra headers.
pub fn respond(status: u16, content_type: &str, body: &str, extra: &[(&str, &str)]) -> Result<Response, JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", content_type)?;
    for (k, v) in extra {
        headers.set(k, v)?;
    }
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(body), &init)
}

/// The request body as text.
pub async fn body_text(req: &web_sys::Request) -> Result<String, String> {
    settle(req.text()).await.map(|v| v.as_string().unwrap_or_default())
}

/// Bytes of this instance's wasm linear memory (its peak).
pub fn memory_bytes() -> u64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    Reflect::get(&memory.buffer(), &"byteLength".into()).ok().and_then(|v| v.as_f64()).map_or(0, |f| f as u64)
}

/// How many times the entry shim reinitialised the wasm instance after a trap.
pub fn instance_resets() -> u32 {
    Reflect::get(&js_sys::global(), &"__wasmResets".into()).ok().and_then(|v| v.as_f64()).map_or(0, |f| f as u32)
}

/// A value bound to a SQL statement.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    /// Integers travel as JS numbers: exact up to 2^53 (µs timestamps are ~2^51).
    Int(i64),
}

/// One row of a result, columns by position.
pub struct Row(Array);

impl Row {
    /// A TEXT column (`None` for NULL or another type).
    pub fn text(&self, i: u32) -> Option<String> {
        self.0.get(i).as_string()
    }

    /// An INTEGER column (`None` for NULL).
    pub fn int(&self, i: u32) -> Option<i64> {
        self.0.get(i).as_f64().map(|f| f as i64)
    }
}

/// The object's SQL database, counting the rows its statements write.
#[derive(Clone)]
pub struct Db {
    sql: SqlStorage,
    written: std::rc::Rc<std::cell::Cell<u64>>,
}

impl Db {
    /// The database of `storage`.
    pub fn of(storage: &Storage) -> Db {
        Db { sql: storage.sql(), written: Default::default() }
    }

    /// Runs one statement and reads every row.
    pub fn run(&self, query: &str, args: &[Arg]) -> Result<Vec<Row>, String> {
        let bindings: Array = args
            .iter()
            .map(|a| match a {
                Arg::Text(s) => JsValue::from_str(s),
                Arg::Int(n) => JsValue::from_f64(*n as f64),
            })
            .collect();
        let fail = |e: JsValue| format!("{}: {}", query.split_whitespace().take(3).collect::<Vec<_>>().join(" "), describe(&e));
        let cursor = self.sql.exec(query, &bindings).map_err(fail)?;
        let rows = cursor.raw().and_then(|r| r.to_array()).map_err(fail)?;
        self.written.set(self.written.get() + cursor.rows_written() as u64);
        Ok(rows.iter().map(|r| Row(r.unchecked_into())).collect())
    }

    /// Rows written by this handle's statements so far.
    pub fn rows_written(&self) -> u64 {
        self.written.get()
    }
}

/// Runs `f` in one SQLite transaction (`transactionSync`): an `Err` throws inside it, so every
/// statement `f` ran is rolled back.
pub fn transaction<T: 'static>(storage: &Storage, f: impl FnOnce() -> Result<T, String> + 'static) -> Result<T, String> {
    let out: std::rc::Rc<std::cell::RefCell<Option<Result<T, String>>>> = Default::default();
    let slot = out.clone();
    let body = Closure::once_into_js(move || -> Result<(), JsValue> {
        let result = f();
        let failed = result.as_ref().err().map(|e| JsValue::from_str(e));
        *slot.borrow_mut() = Some(result);
        failed.map_or(Ok(()), Err)
    });
    let ran = storage.transaction_sync(&body);
    let result = out.borrow_mut().take();
    match (ran, result) {
        (_, Some(Err(e))) => Err(e),
        (Ok(_), Some(Ok(v))) => Ok(v),
        (Err(e), _) => Err(describe(&e)),
        (Ok(_), None) => Err("transaction did not run".into()),
    }
}

/// Makes sure the object's alarm fires no later than `at_ms` (an earlier one stays).
pub async fn alarm_by(storage: &Storage, at_ms: i64) -> Result<(), String> {
    let set = settle(storage.get_alarm()).await?.as_f64();
    if set.is_none_or(|s| s > at_ms as f64) {
        settle(storage.set_alarm(at_ms as f64)).await?;
    }
    Ok(())
}

/// The object's id as text (the key of its counters).
pub fn object_id(state: &ObjectState) -> String {
    state.id().text()
}

impl KvNamespace {
    /// The KV binding `name`.
    pub fn from_env(env: &JsValue, name: &str) -> Option<KvNamespace> {
        binding(env, name).map(JsCast::unchecked_into)
    }

    /// Starts `put(key, value)`; the promise resolves when KV took it.
    pub fn put_started(&self, key: &str, value: &str) -> JsFuture {
        JsFuture::from(self.put(key, value).unwrap_or_else(|e| Promise::reject(&e)))
    }
}

impl Message {
    /// The body as text: a string body as is, anything else as its JSON.
    pub fn text(&self) -> Option<String> {
        let body = self.body();
        body.as_string().or_else(|| js_sys::JSON::stringify(&body).ok().and_then(|s| s.as_string()))
    }
}

/// `POST https://ledger/<method>` with `body` to the object `name` of the namespace binding
/// `binding`: the answer's status and text.
pub async fn call_object(env: &JsValue, binding_name: &str, name: &str, method: &str, body: &str) -> Result<(u16, String), String> {
    let ns: Namespace = binding(env, binding_name).ok_or_else(|| format!("no binding {binding_name}"))?.unchecked_into();
    let id = ns.id_from_name(name).map_err(|e| describe(&e))?;
    let stub = ns.get(&id).map_err(|e| describe(&e))?;
    let init = Object::new();
    let _ = Reflect::set(&init, &"method".into(), &"POST".into());
    let _ = Reflect::set(&init, &"body".into(), &JsValue::from_str(body));
    let res: Response = settle(stub.fetch(&format!("https://ledger/{method}"), &init)).await?.unchecked_into();
    let text = settle(res.text()).await?.as_string().unwrap_or_default();
    Ok((res.status(), text))
}

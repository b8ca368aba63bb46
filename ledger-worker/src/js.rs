//! The JS platform in miniature (as ingest's `js.rs`): raw `extern` declarations for what the
//! ledger calls synchronously — a Durable Object's SQL storage — then the small safe API the rest
//! uses. What must be awaited (KV, queues, stubs, alarms) the entry does (`entry.mjs`).

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// A Durable Object's `ctx` (`DurableObjectState`).
    pub type ObjectState;
    #[wasm_bindgen(method, getter)]
    pub fn storage(this: &ObjectState) -> Storage;

    /// `ctx.storage` of a SQLite-backed object.
    pub type Storage;
    #[wasm_bindgen(method, getter)]
    fn sql(this: &Storage) -> SqlStorage;

    /// `ctx.storage.sql`.
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

/// A binding from the environment by name.
pub fn binding(env: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(env, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// A string var from the environment.
pub fn var(env: &JsValue, name: &str) -> Option<String> {
    binding(env, name).and_then(|v| v.as_string())
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
pub struct Db {
    sql: SqlStorage,
    written: core::cell::Cell<u64>,
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
        let fail = |e: JsValue| format!("{}: {}", query.get(..40).unwrap_or(query), describe(&e));
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

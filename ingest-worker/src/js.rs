//! Thin raw-JS glue for the few binding calls where the `worker` crate's typed wrappers pull in
//! serde_wasm_bindgen and float formatting (KV puts, bulk reads, the rate limiter, outbound fetch).
//! Measured: these wrappers cost the ingest worker several KB of gzip in a 96 KiB budget.

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Error text of a JS exception or rejection.
pub fn describe(err: &JsValue) -> String {
    if let Some(e) = err.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    err.as_string().unwrap_or_else(|| "JavaScript error".into())
}

/// A string var or secret from the environment (both are plain strings at run time).
pub fn var(env: &JsValue, name: &str) -> Option<String> {
    binding(env, name).and_then(|v| v.as_string())
}

/// A request header.
pub fn header(req: &web_sys::Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// The path of a request URL (`https://host/a/b?q` → `/a/b`), still percent-encoded.
pub fn path(url: &str) -> &str {
    let scheme_end = url.as_bytes().windows(3).position(|w| w == b"://");
    let after_scheme = scheme_end.and_then(|i| url.get(i + 3..)).unwrap_or(url);
    let path = after_scheme.find('/').and_then(|i| after_scheme.get(i..)).unwrap_or("/");
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
}

/// A binding from the environment by name.
pub fn binding(env: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(env, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// `obj.method(...args)`, not awaited.
pub fn call_now(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let f: Function = Reflect::get(obj, &JsValue::from_str(method))
        .map_err(|e| describe(&e))?
        .dyn_into()
        .map_err(|_| format!("{method} is not a function"))?;
    let array: Array = args.iter().collect();
    f.apply(obj, &array).map_err(|e| describe(&e))
}

/// Awaits every started call at once (`Promise.all`); the first failure is the error.
pub async fn all(started: impl Iterator<Item = Result<JsValue, String>>) -> Result<(), String> {
    let array = Array::new();
    for p in started {
        array.push(&p?);
    }
    JsFuture::from(Promise::all(&array)).await.map(|_| ()).map_err(|e| describe(&e))
}

/// `obj.method(...args)`, awaited if it returns a promise.
pub async fn call(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let out = call_now(obj, method, args)?;
    match out.dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await.map_err(|e| describe(&e)),
        Err(v) => Ok(v),
    }
}

/// A plain object from key/value pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// Why [`Reader::read`] gave no piece.
pub enum ReadError {
    /// No piece came within the idle time, or the deadline passed.
    Timeout,
    /// The stream failed (a broken gzip body, a dropped connection).
    Failed,
}

/// A `ReadableStream` read piece by piece, bounded in time: each piece must come within `idle`
/// ms of the one before (or of the start), and none after `deadline` (ms since the epoch). Each
/// read races a `scheduler.wait` that is aborted once the read wins, so no timer outlives its
/// read (workerd allows 10,000 active timeouts, and a timer kept across reads would keep every
/// piece read meanwhile alive through its reactions). Cheaper in bytes than `worker::ByteStream`
/// plus a `Delay`.
pub struct Reader {
    reader: JsValue,
    idle: f64,
    deadline: f64,
}

impl Reader {
    /// A reader of `stream` (`getReader()`).
    pub fn new(stream: &JsValue, idle_ms: u64, deadline: u64) -> Result<Reader, String> {
        let reader = call_now(stream, "getReader", &[])?;
        Ok(Reader { reader, idle: idle_ms as f64, deadline: deadline as f64 })
    }

    /// The next piece (`None` at the end of the stream).
    pub async fn read(&self) -> Result<Option<Vec<u8>>, ReadError> {
        let wait = self.idle.min(self.deadline - js_sys::Date::now());
        if wait <= 0.0 {
            return Err(ReadError::Timeout);
        }
        let fail = |_| ReadError::Failed;
        let read = call_now(&self.reader, "read", &[]).map_err(fail)?;
        let global = js_sys::global();
        let abort =
            Reflect::construct(&binding(&global, "AbortController").unwrap_or_default().unchecked_into::<Function>(), &Array::new())
                .map_err(|_| ReadError::Failed)?;
        let signal = Reflect::get(&abort, &JsValue::from_str("signal")).map_err(|_| ReadError::Failed)?;
        let scheduler = binding(&global, "scheduler").unwrap_or_default();
        let timer = call_now(&scheduler, "wait", &[JsValue::from_f64(wait), object(&[("signal", signal)])]).map_err(fail)?;
        let got = JsFuture::from(Promise::race(&Array::of2(&read, &timer))).await;
        let _ = call_now(&abort, "abort", &[]);
        let got = got.map_err(|_| ReadError::Failed)?;
        // The timer resolves to undefined, a read to `{done, value}`.
        if got.is_undefined() {
            return Err(ReadError::Timeout);
        }
        if Reflect::get(&got, &JsValue::from_str("done")).ok().and_then(|d| d.as_bool()).unwrap_or(true) {
            return Ok(None);
        }
        let value = Reflect::get(&got, &JsValue::from_str("value")).map_err(|_| ReadError::Failed)?;
        Ok(Some(js_sys::Uint8Array::new(&value).to_vec()))
    }
}

/// Workers KV with string values.
#[derive(Clone)]
pub struct Kv(JsValue);

impl Kv {
    /// The KV binding `name`.
    pub fn from_env(env: &JsValue, name: &str) -> Option<Kv> {
        binding(env, name).map(Kv)
    }

    /// The text value of `key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let v = call(&self.0, "get", &[JsValue::from_str(key)]).await?;
        Ok(v.as_string())
    }

    /// Text values of up to 100 keys in one call (KV bulk read); falls back to one read per key
    /// where the runtime has no bulk reads. Missing keys are absent from the result.
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for batch in keys.chunks(100) {
            let array: Array = batch.iter().map(|k| JsValue::from_str(k)).collect();
            match call(&self.0, "get", &[array.into(), JsValue::from_str("text")]).await {
                Ok(map) if map.is_instance_of::<js_sys::Map>() => {
                    let map: js_sys::Map = map.unchecked_into();
                    for k in batch {
                        if let Some(v) = map.get(&JsValue::from_str(k)).as_string() {
                            out.push((k.clone(), v));
                        }
                    }
                }
                _ => {
                    for k in batch {
                        if let Some(v) = self.get(k).await? {
                            out.push((k.clone(), v));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Stores `value` under `key`, expiring after `ttl_secs` when given (KV's minimum is 60).
    pub async fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>) -> Result<(), String> {
        let mut args = vec![JsValue::from_str(key), JsValue::from_str(value)];
        if let Some(ttl) = ttl_secs {
            args.push(object(&[("expirationTtl", JsValue::from_f64(ttl as f64))]));
        }
        call(&self.0, "put", &args).await.map(|_| ())
    }

    /// Starts storing `value` under `key` (for [`all`]).
    pub fn put_started(&self, key: &str, value: &str) -> Result<JsValue, String> {
        call_now(&self.0, "put", &[JsValue::from_str(key), JsValue::from_str(value)])
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &str) -> Result<(), String> {
        call(&self.0, "delete", &[JsValue::from_str(key)]).await.map(|_| ())
    }
}

/// `fetch(url, {method: "POST", headers, body})` → status code.
pub async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> Result<u16, String> {
    let h = Object::new();
    for (k, v) in headers {
        let _ = Reflect::set(&h, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    let init = object(&[("method", "POST".into()), ("headers", h.into()), ("body", JsValue::from_str(body))]);
    let res = call(&js_sys::global(), "fetch", &[JsValue::from_str(url), init]).await?;
    let status = Reflect::get(&res, &JsValue::from_str("status")).map_err(|e| describe(&e))?;
    // Drain the body so the connection is released.
    let _ = call(&res, "text", &[]).await;
    Ok(status.as_f64().map_or(0, |s| s as u16))
}

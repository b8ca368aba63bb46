//! The JS platform in miniature, as workers-rs splits it into `worker-sys` and `worker`: raw
//! `extern` declarations for the bindings and runtime objects ingest calls (KV reads, the rate limiter,
//! `DecompressionStream`), then the small safe API the routes use. The `worker` crate's own
//! wrappers pull in serde_wasm_bindgen and float formatting; measured, they cost the ingest worker
//! several KB of gzip in a 96 KiB budget.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// A Workers KV namespace binding.
    #[derive(Clone)]
    pub type KvNamespace;

    /// `get(key)`: the text value, or null.
    #[wasm_bindgen(method, catch)]
    fn get(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;

    /// A rate-limiting binding (`[[unsafe.bindings]] type = "ratelimit"`).
    pub type RateLimiter;

    /// `limit({key})` → `{success}`.
    #[wasm_bindgen(method, catch)]
    fn limit(this: &RateLimiter, options: &JsValue) -> Result<Promise, JsValue>;

    type LimitOutcome;

    #[wasm_bindgen(method, getter)]
    fn success(this: &LimitOutcome) -> Option<bool>;

    /// The runtime's gzip/deflate inflater (a `TransformStream`).
    type DecompressionStream;

    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, JsValue>;

    /// A `ReadableStream`, as far as piping it goes (web_sys's `pipeThrough` does not catch).
    type Piped;

    #[wasm_bindgen(method, catch, js_name = pipeThrough)]
    fn pipe_through(this: &Piped, transform: &DecompressionStream) -> Result<web_sys::ReadableStream, JsValue>;

    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader(this: &Piped) -> Result<StreamReader, JsValue>;

    /// A `ReadableStreamDefaultReader`.
    type StreamReader;

    /// `read()` → `{done, value}`.
    #[wasm_bindgen(method, catch)]
    fn read(this: &StreamReader) -> Result<Promise, JsValue>;

    type ReadResult;

    #[wasm_bindgen(method, getter)]
    fn done(this: &ReadResult) -> Option<bool>;

    #[wasm_bindgen(method, getter)]
    fn value(this: &ReadResult) -> JsValue;

    type AbortController;

    #[wasm_bindgen(constructor, catch)]
    fn new() -> Result<AbortController, JsValue>;

    #[wasm_bindgen(method, getter)]
    fn signal(this: &AbortController) -> JsValue;

    #[wasm_bindgen(method)]
    fn abort(this: &AbortController);

    /// `scheduler.wait(ms, {signal})`: workerd's timer as a promise.
    #[wasm_bindgen(catch, js_namespace = scheduler, js_name = wait)]
    fn scheduler_wait(ms: f64, options: &JsValue) -> Result<Promise, JsValue>;

    /// The global `fetch(url, init)`.
    #[wasm_bindgen(catch, js_name = fetch)]
    fn fetch_with(url: &str, init: &JsValue) -> Result<Promise, JsValue>;

    /// `console.error(text)`.
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(text: &str);
}

/// The worker's environment (bindings, vars and secrets), as the runtime passes it to `fetch`.
/// A plain object read with [`binding`] and [`var`]: the `worker` crate's `Env` would link that
/// whole crate (its `#[wasm_bindgen]` exports and start hook, unused here, cost ~12 KB of gzip; see
/// DEVELOPING.md).
pub type Env = JsValue;

/// Milliseconds since the epoch (`Date.now()`).
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// A timer future: `scheduler.wait(ms)`, aborted when dropped, so a timer that lost a race does
/// not stay active (as `worker::Delay` clears its timeout on drop).
pub struct Sleep {
    wait: JsFuture,
    abort: Option<AbortController>,
}

/// Resolves after `ms` milliseconds; a timer the runtime refuses resolves at once.
pub fn sleep(ms: u64) -> Sleep {
    let abort = AbortController::new().ok();
    let signal = abort.as_ref().map_or(JsValue::UNDEFINED, |a| object(&[("signal", a.signal())]));
    let wait = scheduler_wait(ms as f64, &signal).unwrap_or_else(|_| Promise::resolve(&JsValue::UNDEFINED));
    Sleep { wait: JsFuture::from(wait), abort }
}

impl core::future::Future for Sleep {
    type Output = ();

    fn poll(mut self: core::pin::Pin<&mut Self>, cx: &mut core::task::Context<'_>) -> core::task::Poll<()> {
        core::pin::Pin::new(&mut self.wait).poll(cx).map(|_| ())
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(a) = self.abort.take() {
            a.abort();
        }
    }
}

/// Awaits a promise, the rejection as its text.
pub async fn settle(p: Result<Promise, JsValue>) -> Result<JsValue, String> {
    JsFuture::from(p.map_err(|e| describe(&e))?).await.map_err(|e| describe(&e))
}

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
    reader: StreamReader,
    idle: f64,
    deadline: f64,
}

impl Reader {
    /// A reader of `stream` (`getReader()`).
    pub fn new(stream: &web_sys::ReadableStream, idle_ms: u64, deadline: u64) -> Result<Reader, JsValue> {
        let reader = stream.unchecked_ref::<Piped>().get_reader()?;
        Ok(Reader { reader, idle: idle_ms as f64, deadline: deadline as f64 })
    }

    /// The next piece (`None` at the end of the stream).
    pub async fn read(&self) -> Result<Option<Vec<u8>>, ReadError> {
        let wait = self.idle.min(self.deadline - js_sys::Date::now());
        if wait <= 0.0 {
            return Err(ReadError::Timeout);
        }
        let fail = |_| ReadError::Failed;
        let read = self.reader.read().map_err(fail)?;
        let abort = AbortController::new().map_err(fail)?;
        let timer = scheduler_wait(wait, &object(&[("signal", abort.signal())])).map_err(fail)?;
        let got = JsFuture::from(Promise::race(&Array::of2(&read, &timer))).await;
        abort.abort();
        let got = got.map_err(fail)?;
        // The timer resolves to undefined, a read to `{done, value}`.
        if got.is_undefined() {
            return Err(ReadError::Timeout);
        }
        let got: ReadResult = got.unchecked_into();
        if got.done().unwrap_or(true) {
            return Ok(None);
        }
        Ok(Some(js_sys::Uint8Array::new(&got.value()).to_vec()))
    }
}

/// Workers KV with string values.
#[derive(Clone)]
pub struct Kv(KvNamespace);

impl Kv {
    /// The KV binding `name`.
    pub fn from_env(env: &JsValue, name: &str) -> Option<Kv> {
        binding(env, name).map(|b| Kv(b.unchecked_into()))
    }

    /// The text value of `key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(settle(self.0.get(key)).await?.as_string())
    }
}

impl RateLimiter {
    /// The rate-limiting binding `name`.
    pub fn from_env(env: &JsValue, name: &str) -> Option<RateLimiter> {
        binding(env, name).map(JsCast::unchecked_into)
    }

    /// Whether `key` may make another request (`limit({key})`); a missing `success` allows it.
    pub async fn allows(&self, key: &str) -> Result<bool, String> {
        let outcome: LimitOutcome = settle(self.limit(&object(&[("key", JsValue::from_str(key))]))).await?.unchecked_into();
        Ok(outcome.success() != Some(false))
    }
}

/// `body` inflated by the runtime's `DecompressionStream("gzip")`.
pub fn gunzip(body: &web_sys::ReadableStream) -> Result<web_sys::ReadableStream, JsValue> {
    body.unchecked_ref::<Piped>().pipe_through(&DecompressionStream::new("gzip")?)
}

/// `fetch(url, {method: "POST", headers, body})` → status code.
pub async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> Result<u16, String> {
    let h = Object::new();
    for (k, v) in headers {
        let _ = Reflect::set(&h, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    let init = object(&[("method", "POST".into()), ("headers", h.into()), ("body", JsValue::from_str(body))]);
    let res: web_sys::Response = settle(fetch_with(url, &init)).await?.unchecked_into();
    // Drain the body so the connection is released.
    let _ = settle(res.text()).await;
    Ok(res.status())
}

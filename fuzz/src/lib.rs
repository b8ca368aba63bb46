//! Helpers shared by the fuzz targets: how an input is cut into a chunk plan and a body.
//!
//! Every chunked target reads a small header from the front of its input, so the fuzzer controls
//! limits and chunk boundaries as well as the body, and seeds stay readable: the header is
//! [`HEADER_BYTES`] bytes, the body is everything after it.

/// Bytes at the front of a chunked target's input that are not body.
pub const HEADER_BYTES: usize = 4;

/// Limits and chunk sizes decoded from the input's header.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// A limit byte (each target scales it).
    pub limit: u8,
    /// Chunk sizes, used in turn (each 1..=64).
    pub sizes: [usize; 3],
}

/// Splits `data` into its plan and body; `None` when the header is incomplete.
pub fn plan(data: &[u8]) -> Option<(Plan, &[u8])> {
    let (head, body) = data.split_at_checked(HEADER_BYTES)?;
    let [limit, a, b, c] = <[u8; 4]>::try_from(head).ok()?;
    let size = |x: u8| usize::from(x % 64) + 1;
    Some((Plan { limit, sizes: [size(a), size(b), size(c)] }, body))
}

impl Plan {
    /// `body` cut into chunks of the planned sizes, in turn.
    pub fn chunks<'a>(&self, body: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut turn = 0;
        while !rest.is_empty() {
            let n = self.sizes[turn % 3].min(rest.len());
            let (head, tail) = rest.split_at(n);
            out.push(head);
            rest = tail;
            turn += 1;
        }
        out
    }
}

/// The three ways every chunked target feeds the same body: whole, planned, byte by byte.
pub fn feedings<'a>(plan: &Plan, body: &'a [u8]) -> [Vec<&'a [u8]>; 3] {
    let whole = if body.is_empty() { Vec::new() } else { vec![body] };
    [whole, plan.chunks(body), body.chunks(1).collect()]
}

/// A seed: the header bytes followed by `body`.
pub fn seed(limit: u8, sizes: [u8; 3], body: &[u8]) -> Vec<u8> {
    let mut v = vec![limit, sizes[0], sizes[1], sizes[2]];
    v.extend_from_slice(body);
    v
}

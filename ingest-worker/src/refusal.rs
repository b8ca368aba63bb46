//! [`Refusal`]: a request-level failure, shared by the routes and the checks they run (its own
//! module so `limits` and `artifacts` do not import each other).

use shared::problem::Problem;

/// A request-level failure: a problem plus headers to send with it.
pub struct Refusal(pub Problem, pub Vec<(&'static str, String)>);

impl From<Problem> for Refusal {
    fn from(p: Problem) -> Self {
        Refusal(p, Vec::new())
    }
}

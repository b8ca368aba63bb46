//! Serve's lookup in the serving table: candidates from the root, each file's index region, the
//! `_lookup` page holding the key, the winner by [`super::order::Order`], then the value page.

//! The compactor's pure planner: newest row per key, file splitting, merge steps and the next
//! root. No I/O: the compactor crate reads and writes what this decides.

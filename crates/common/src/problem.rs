//! What could not be done to one path, said in a sentence.

use serde::Serialize;
use ts_rs::TS;

/// A path (a local file, or a key in a Space) that was not acted on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

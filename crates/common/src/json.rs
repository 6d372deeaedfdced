//! Settings written whole, by a version that may not understand all of them.

use serde::Serialize;
use serde_json::Value;

/// Puts back into `new` the fields of `old` (what was stored before) that this version does not
/// know: those that don't survive reading `old` as `T` and writing it again. A newer version's
/// settings are never dropped by an older one writing.
pub fn keep_unknown<T: Serialize + serde::de::DeserializeOwned>(old: &Value, new: &mut Value) {
    let Ok(known) = serde_json::from_value::<T>(old.clone()).and_then(serde_json::to_value) else {
        return;
    };
    if let (Value::Object(old), Value::Object(known), Value::Object(new)) = (old, &known, new) {
        for (k, v) in old.iter().filter(|(k, _)| !known.contains_key(*k)) {
            new.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

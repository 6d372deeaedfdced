//! The app's settings live in the store plugin's file; the domain reads and writes them through
//! [`crate::core::settings::Store`].

use std::sync::Arc;

use tauri::Runtime;
use tauri_plugin_store::Store;

use crate::core::settings;
use crate::core::{Error, Result};

/// The store plugin's file of saved connections and key names.
pub const STORE_FILE: &str = "connections.json";

pub struct PluginStore<R: Runtime>(pub Arc<Store<R>>);

impl<R: Runtime> settings::Store for PluginStore<R> {
    fn get(&self, field: &str) -> Option<serde_json::Value> {
        self.0.get(field)
    }

    fn set(&self, field: &str, value: serde_json::Value) -> Result<()> {
        self.0.set(field, value);
        self.0
            .save()
            .map_err(|e| Error::settings(format!("“{STORE_FILE}” can't be saved"), Some(e.into())))
    }
}

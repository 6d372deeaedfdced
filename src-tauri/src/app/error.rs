//! The app layer's error: the domain's errors plus what only the app can get wrong.

use serde::Serialize;

use crate::core::{self, ErrorKind, ErrorPayload};

pub type Result<T> = std::result::Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Core(#[from] core::Error),
    /// A command that needs a connection was called without one.
    #[error("Not connected. Choose a connection first.")]
    NotConnected,
    /// The file of saved connections could not be read or written.
    #[error("Saved connections could not be read or written: {0}")]
    Store(String),
}

impl AppError {
    pub fn payload(&self) -> ErrorPayload {
        match self {
            AppError::Core(e) => e.payload(),
            AppError::NotConnected => ErrorPayload {
                kind: ErrorKind::NotConnected,
                message: self.to_string(),
            },
            AppError::Store(_) => ErrorPayload {
                kind: ErrorKind::Store,
                message: self.to_string(),
            },
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.payload().serialize(s)
    }
}

impl From<tauri_plugin_store::Error> for AppError {
    fn from(e: tauri_plugin_store::Error) -> Self {
        AppError::Store(e.to_string())
    }
}

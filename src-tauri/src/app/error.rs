//! The app layer's error: the domain's errors plus what only the window's plugins can get wrong.
//! Both cross IPC as `{kind, message}`; the kinds are the domain's and [`AppErrorKind`]'s.

use serde::Serialize;
use ts_rs::TS;

use crate::core::{self, ErrorKind};

pub type Result<T> = std::result::Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Core(#[from] core::Error),
    /// The system's file or folder dialog failed to open.
    #[error("The dialog could not be opened: {0}")]
    Dialog(String),
    /// The system would not start dragging files out of the window.
    #[error("The files can't be dragged out: {0}")]
    Drag(String),
    /// The system clipboard refused the text.
    #[error("The clipboard refused the text: {source}")]
    Clipboard {
        #[source]
        source: tauri_plugin_clipboard_manager::Error,
    },
}

/// The kinds only the app has (the match in [`AppError::kind`] keeps them to the variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum AppErrorKind {
    Dialog,
    Drag,
    Clipboard,
}

/// A kind the page can branch on: the domain's, or one of the app's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(untagged)]
#[ts(export)]
pub enum Kind {
    Core(ErrorKind),
    App(AppErrorKind),
}

/// The shape every error of a command takes across IPC.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ErrorPayload {
    pub kind: Kind,
    pub message: String,
}

impl AppError {
    pub fn kind(&self) -> Kind {
        match self {
            AppError::Core(e) => Kind::Core(e.kind()),
            AppError::Dialog(_) => Kind::App(AppErrorKind::Dialog),
            AppError::Drag(_) => Kind::App(AppErrorKind::Drag),
            AppError::Clipboard { .. } => Kind::App(AppErrorKind::Clipboard),
        }
    }

    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload {
            kind: self.kind(),
            message: self.to_string(),
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.payload().serialize(s)
    }
}

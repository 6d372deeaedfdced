//! The domain's one error type. Every variant's message is a sentence a person can act on;
//! the UI branches on [`ErrorKind`], never on message text.

use serde::Serialize;
use ts_rs::TS;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that was checked before any request was sent.
    #[error("{0}")]
    InvalidInput(String),
    /// No answer from the endpoint: refused, DNS, TLS or timeout.
    #[error("Can't reach {endpoint}: {reason}.")]
    Unreachable { endpoint: String, reason: String },
    /// InvalidAccessKeyId.
    #[error("The server doesn't know this access key. Check that it was copied whole and that the key still exists.")]
    UnknownAccessKey,
    /// SignatureDoesNotMatch: almost always a wrong or truncated secret.
    #[error("The secret doesn't match this access key. Paste the secret again; it is shown only once, when the key is created.")]
    WrongSecret,
    /// RequestTimeTooSkewed.
    #[error("This computer's clock is too far from the server's for requests to be accepted. Turn on automatic date and time, then try again.")]
    ClockSkew,
    /// AccessDenied and other 403s.
    #[error("{0}")]
    AccessDenied(String),
    /// NoSuchBucket / 404 on a Space.
    #[error("There is no Space named “{0}” at this endpoint.")]
    NoSuchSpace(String),
    /// BucketAlreadyExists: names are unique among all users.
    #[error("The name “{0}” is taken by another user: Space names are unique among all users. Pick another.")]
    SpaceTaken(String),
    /// Creating a Space this key's owner already has.
    #[error("You already have a Space named “{0}”.")]
    SpaceExists(String),
    /// TooManyBuckets.
    #[error("This account has as many Spaces as it may have (100 on DigitalOcean). Destroy one, or ask for a higher limit.")]
    TooManySpaces,
    /// The Space was created but its file-listing ACL could not be set.
    #[error("The Space “{space}” was created, but its file listing is still Restricted: {reason} You can set it again from the Space's settings.")]
    ListingNotApplied { space: String, reason: String },
    /// Destroying a Space that still holds files, without asking to delete them.
    #[error("The Space “{0}” still holds files. Choose to delete every file first, or delete them yourself.")]
    SpaceNotEmpty(String),
    /// DigitalOcean's keys are managed through its API, which needs a personal access token.
    #[error("To manage DigitalOcean keys here, paste a personal access token with the spaces_key scopes (create_credentials, read, update, delete). It is kept in your system keychain.")]
    ApiTokenNeeded,
    /// The user cancelled a long operation.
    #[error("Cancelled. {0}")]
    Cancelled(String),
    /// 503 SlowDown after the client's own retries.
    #[error("The server is busy and asked to slow down. Try again in a moment.")]
    SlowDown,
    /// A service error with a code this app has no sentence for: the server's own words.
    #[error("The server refused the request: {code}{}", if message.is_empty() { String::new() } else { format!(" — {message}") })]
    Server { code: String, message: String },
    /// The OS keychain (Secret Service) is missing, locked or failed.
    #[error("{0}")]
    Keychain(String),
    /// The Ceph programs the local sandbox runs are not installed.
    #[error("The local sandbox needs Ceph, which is not installed (missing: {}). On Debian or Ubuntu install the packages: {}.", missing.join(", "), packages.join(" "))]
    SandboxMissing {
        missing: Vec<String>,
        packages: Vec<String>,
    },
    /// The sandbox's data folder is in use by another running Spacedock.
    #[error("Another Spacedock window is already running the local sandbox. Close it first, or connect to another service.")]
    SandboxBusy,
    /// A sandbox daemon did not start or stopped.
    #[error("{0}")]
    Sandbox(String),
    /// The user's disk has no room left for a download.
    #[error("{0}")]
    DiskFull(String),
    /// A server answered something no S3 server should: it is refused, never trusted.
    #[error("The server sent an answer that can't be right ({0}); nothing was done with it.")]
    BadAnswer(String),
    #[error("{0}")]
    Io(String),
}

/// What the UI can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum ErrorKind {
    InvalidInput,
    Unreachable,
    UnknownAccessKey,
    WrongSecret,
    ClockSkew,
    AccessDenied,
    NoSuchSpace,
    SlowDown,
    SpaceTaken,
    SpaceExists,
    TooManySpaces,
    ListingNotApplied,
    SpaceNotEmpty,
    ApiTokenNeeded,
    Cancelled,
    Server,
    Keychain,
    SandboxMissing,
    SandboxBusy,
    Sandbox,
    DiskFull,
    BadAnswer,
    Io,
    NotConnected,
    Store,
}

/// The shape every error takes across IPC.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ErrorPayload {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Unreachable { .. } => ErrorKind::Unreachable,
            Error::UnknownAccessKey => ErrorKind::UnknownAccessKey,
            Error::WrongSecret => ErrorKind::WrongSecret,
            Error::ClockSkew => ErrorKind::ClockSkew,
            Error::AccessDenied(_) => ErrorKind::AccessDenied,
            Error::NoSuchSpace(_) => ErrorKind::NoSuchSpace,
            Error::SlowDown => ErrorKind::SlowDown,
            Error::SpaceTaken(_) => ErrorKind::SpaceTaken,
            Error::SpaceExists(_) => ErrorKind::SpaceExists,
            Error::TooManySpaces => ErrorKind::TooManySpaces,
            Error::ListingNotApplied { .. } => ErrorKind::ListingNotApplied,
            Error::SpaceNotEmpty(_) => ErrorKind::SpaceNotEmpty,
            Error::ApiTokenNeeded => ErrorKind::ApiTokenNeeded,
            Error::Cancelled(_) => ErrorKind::Cancelled,
            Error::Server { .. } => ErrorKind::Server,
            Error::Keychain(_) => ErrorKind::Keychain,
            Error::SandboxMissing { .. } => ErrorKind::SandboxMissing,
            Error::SandboxBusy => ErrorKind::SandboxBusy,
            Error::Sandbox(_) => ErrorKind::Sandbox,
            Error::DiskFull(_) => ErrorKind::DiskFull,
            Error::BadAnswer(_) => ErrorKind::BadAnswer,
            Error::Io(_) => ErrorKind::Io,
        }
    }

    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload {
            kind: self.kind(),
            message: self.to_string(),
        }
    }
}

impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.payload().serialize(s)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

//! The domain's one error type. Every variant's message is a sentence a person can act on;
//! the UI branches on [`ErrorKind`], never on message text. [`ErrorKind`] is derived from the
//! variants by `errors!`, so a new variant is a new kind with nothing else to keep in step.

use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An S3 error code, mapped once from the server's text: the domain matches on these, never
/// on strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Code {
    PreconditionFailed,
    NoSuchKey,
    NoSuchUpload,
    NoSuchVersion,
    InvalidRange,
    NoSuchBucket,
    NoSuchBucketPolicy,
    NoSuchCORSConfiguration,
    NoSuchLifecycleConfiguration,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    TooManyBuckets,
    InvalidBucketName,
    AccessDenied,
    AllAccessDisabled,
    InvalidAccessKeyId,
    SignatureDoesNotMatch,
    RequestTimeTooSkewed,
    SlowDown,
    BadDigest,
    InvalidDigest,
    NotImplemented,
    MethodNotAllowed,
    /// A code with no meaning of its own here (or one this app gives): kept as the server said it.
    Other(String),
}

impl S3Code {
    pub fn parse(code: &str) -> S3Code {
        match code {
            "PreconditionFailed" => S3Code::PreconditionFailed,
            "NoSuchKey" => S3Code::NoSuchKey,
            "NoSuchUpload" => S3Code::NoSuchUpload,
            "NoSuchVersion" => S3Code::NoSuchVersion,
            "InvalidRange" => S3Code::InvalidRange,
            "NoSuchBucket" => S3Code::NoSuchBucket,
            "NoSuchBucketPolicy" => S3Code::NoSuchBucketPolicy,
            "NoSuchCORSConfiguration" => S3Code::NoSuchCORSConfiguration,
            "NoSuchLifecycleConfiguration" => S3Code::NoSuchLifecycleConfiguration,
            "BucketAlreadyExists" => S3Code::BucketAlreadyExists,
            "BucketAlreadyOwnedByYou" => S3Code::BucketAlreadyOwnedByYou,
            "BucketNotEmpty" => S3Code::BucketNotEmpty,
            "TooManyBuckets" => S3Code::TooManyBuckets,
            "InvalidBucketName" => S3Code::InvalidBucketName,
            "AccessDenied" => S3Code::AccessDenied,
            "AllAccessDisabled" => S3Code::AllAccessDisabled,
            "InvalidAccessKeyId" => S3Code::InvalidAccessKeyId,
            "SignatureDoesNotMatch" => S3Code::SignatureDoesNotMatch,
            "RequestTimeTooSkewed" => S3Code::RequestTimeTooSkewed,
            "SlowDown" => S3Code::SlowDown,
            "BadDigest" => S3Code::BadDigest,
            "InvalidDigest" => S3Code::InvalidDigest,
            "NotImplemented" => S3Code::NotImplemented,
            "MethodNotAllowed" => S3Code::MethodNotAllowed,
            other => S3Code::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            S3Code::PreconditionFailed => "PreconditionFailed",
            S3Code::NoSuchKey => "NoSuchKey",
            S3Code::NoSuchUpload => "NoSuchUpload",
            S3Code::NoSuchVersion => "NoSuchVersion",
            S3Code::InvalidRange => "InvalidRange",
            S3Code::NoSuchBucket => "NoSuchBucket",
            S3Code::NoSuchBucketPolicy => "NoSuchBucketPolicy",
            S3Code::NoSuchCORSConfiguration => "NoSuchCORSConfiguration",
            S3Code::NoSuchLifecycleConfiguration => "NoSuchLifecycleConfiguration",
            S3Code::BucketAlreadyExists => "BucketAlreadyExists",
            S3Code::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            S3Code::BucketNotEmpty => "BucketNotEmpty",
            S3Code::TooManyBuckets => "TooManyBuckets",
            S3Code::InvalidBucketName => "InvalidBucketName",
            S3Code::AccessDenied => "AccessDenied",
            S3Code::AllAccessDisabled => "AllAccessDisabled",
            S3Code::InvalidAccessKeyId => "InvalidAccessKeyId",
            S3Code::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            S3Code::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            S3Code::SlowDown => "SlowDown",
            S3Code::BadDigest => "BadDigest",
            S3Code::InvalidDigest => "InvalidDigest",
            S3Code::NotImplemented => "NotImplemented",
            S3Code::MethodNotAllowed => "MethodNotAllowed",
            S3Code::Other(code) => code,
        }
    }
}

impl std::fmt::Display for S3Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for S3Code {
    fn from(code: &str) -> S3Code {
        S3Code::parse(code)
    }
}

impl From<String> for S3Code {
    fn from(code: String) -> S3Code {
        S3Code::parse(&code)
    }
}

/// Any error this crate wraps, kept as the cause of the sentence shown.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Declares an error enum and, from the same list of variants, its kind enum and `kind()`.
macro_rules! errors {
    (
        $(#[$meta:meta])*
        pub enum $name:ident / $kind:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $( ( $($tuple:tt)* ) )? $( { $($fields:tt)* } )?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$vmeta])* $variant $( ( $($tuple)* ) )? $( { $($fields)* } )? ),*
        }

        /// What the UI can branch on: one kind per variant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
        #[serde(rename_all = "camelCase")]
        #[ts(export)]
        pub enum $kind { $( $variant ),* }

        impl $name {
            pub fn kind(&self) -> $kind {
                match self { $( $name::$variant { .. } => $kind::$variant ),* }
            }
        }
    };
}

errors! {
    #[derive(Debug, thiserror::Error)]
    pub enum Error / ErrorKind {
        /// Input that was checked before any request was sent.
        #[error("{0}")]
        InvalidInput(String),
        /// No answer from the endpoint: refused, DNS, TLS or timeout.
        #[error("Can't reach {endpoint}: {reason}.")]
        Unreachable {
            endpoint: String,
            reason: String,
            #[source]
            source: Option<Cause>,
        },
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
        /// A 301/307: the Space answers at another region's endpoint.
        #[error("The Space “{0}” is in another region than this connection's endpoint.")]
        WrongRegion(String),
        /// A file, key, connection or queued batch the request names is not there (any more).
        #[error("{0}")]
        Gone(String),
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
        /// The Space was created, but DigitalOcean did not put it in the project chosen.
        #[error("The Space “{space}” was created, but it could not be put in the project “{project}”: {reason} It is in the account's default project; try again, or move it in the Control Panel.")]
        ProjectNotAssigned {
            space: String,
            project: String,
            reason: String,
        },
        /// Destroying a Space that still holds files, without asking to delete them.
        #[error("The Space “{0}” still holds files. Choose to delete every file first, or delete them yourself.")]
        SpaceNotEmpty(String),
        /// DigitalOcean's keys are managed through its API, which needs a personal access token.
        #[error("To manage DigitalOcean keys here, paste a personal access token with the spaces_key scopes (create_credentials, read, update, delete). It is kept in your system keychain.")]
        ApiTokenNeeded,
        /// DigitalOcean refused the personal access token (401): wrong, expired or revoked.
        #[error("DigitalOcean refused the API token: it is wrong, expired or revoked. Paste a new personal access token.")]
        ApiTokenRefused,
        /// A personal access token of another account (or team) than the connection's key.
        #[error("{0}")]
        ApiTokenOtherAccount(String),
        /// A Space with a bucket policy of its own can't also hold limited keys' statements.
        #[error("The Space “{0}” has a bucket policy of its own. A Space can't have both its own policy and keys limited to it: remove that policy first.")]
        SpaceHasPolicy(String),
        /// Revoking the key the connection itself signs with.
        #[error("This connection signs with that key. Connect with another key before revoking it.")]
        KeyInUse,
        /// A full-access key of a user with admin caps would be an admin key.
        #[error("This connection's user has RGW admin caps, so a full-access key made for it could read every other key's secret. Connect as a user without admin caps to make full-access keys, or make a limited key.")]
        AdminFullKey,
        /// A key that belongs to another account.
        #[error("That key is not one of this account's keys, so it can't be revoked here.")]
        NotOwnKey,
        /// An act that would destroy a version of a file for good (versioning is suspended):
        /// done only once the user says so.
        #[error("{0}")]
        ReplacesForGood(String),
        /// The user cancelled a long operation.
        #[error("Cancelled. {0}")]
        Cancelled(String),
        /// A feature this service does not offer (it refused the call as unknown or not allowed).
        #[error("{0}")]
        NotOffered(String),
        /// 503 SlowDown after the client's own retries.
        #[error("The server is busy and asked to slow down. Try again in a moment.")]
        SlowDown,
        /// A service error with a code this app has no sentence for: the server's own words.
        #[error("The server refused the request: {code}{}", if message.is_empty() { String::new() } else { format!(" — {message}") })]
        Server { code: S3Code, message: String },
        /// The OS keychain (Secret Service) is missing, locked or failed.
        #[error("{message}")]
        Keychain {
            message: String,
            #[source]
            source: Option<Cause>,
        },
        /// A key's secret is not in the keychain, so it can't sign.
        #[error("{0}")]
        SecretMissing(String),
        /// The app's saved settings (connections, key names) could not be read or written.
        #[error("Saved connections could not be read or written: {what}{}", source.as_ref().map(|s| format!(": {s}")).unwrap_or_default())]
        Settings {
            what: String,
            #[source]
            source: Option<Cause>,
        },
        /// A command that needs a connection was called without one.
        #[error("Not connected. Choose a connection first.")]
        NotConnected,
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
        /// A local file or folder could not be read or written.
        #[error("{what}: {source}.")]
        LocalFile {
            what: String,
            #[source]
            source: std::io::Error,
        },
        /// A file changed or vanished while it was being uploaded.
        #[error("{0}")]
        FileChanged(String),
        /// The user's disk has no room left for a download.
        #[error("{0}")]
        DiskFull(String),
        /// A server answered something no S3 server should: it is refused, never trusted.
        #[error("The server sent an answer that can't be right ({0}); nothing was done with it.")]
        BadAnswer(String),
        /// Something inside the app failed that no input can cause (a request that could not be
        /// built or signed, a task that stopped): a bug to report.
        #[error("Something failed inside Spacedock: {0}")]
        Internal(String),
    }
}

impl Error {
    pub fn unreachable(endpoint: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Unreachable {
            endpoint: endpoint.into(),
            reason: reason.into(),
            source: None,
        }
    }

    pub fn settings(
        what: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Settings {
            what: what.into(),
            source,
        }
    }

    pub fn local_file(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::LocalFile {
            what: what.into(),
            source,
        }
    }

    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload {
            kind: self.kind(),
            message: self.to_string(),
        }
    }
}

/// Names what a failed file operation was doing, keeping the io error as its cause.
pub trait IoContext<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::result::Result<T, std::io::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::local_file(what(), e))
    }
}

/// The shape every error takes when serialized (the app adds its own kinds to it for IPC).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorPayload {
    pub kind: ErrorKind,
    pub message: String,
}

impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.payload().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn each_variant_is_its_own_kind_and_keeps_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = Error::local_file("“a.txt” can't be read", io);
        assert_eq!(e.kind(), ErrorKind::LocalFile);
        assert_eq!(e.to_string(), "“a.txt” can't be read: denied.");
        assert!(e.source().is_some(), "the io error is kept as the cause");
        assert_eq!(Error::KeyInUse.kind(), ErrorKind::KeyInUse);
        let json = serde_json::to_value(Error::NotConnected).expect("json");
        assert_eq!(json["kind"], "notConnected");
    }
}

//! The bottom layer: what every other crate speaks. The one error type (its kinds derived from
//! its variants), secrets that can't be printed, access keys' shapes, small files written whole,
//! addresses from the environment, the one HTTP client and percent-encoder, and how a writer
//! keeps what it does not understand. No I/O policy, no S3, no window.

pub mod disk;
pub mod env;
pub mod error;
pub mod http;
pub mod json;
pub mod keys;
pub mod problem;
pub mod secret;
pub mod sync;

pub use error::{Error, ErrorKind, ErrorPayload, Result, S3Code};
pub use problem::Problem;

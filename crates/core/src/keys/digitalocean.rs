//! DigitalOcean's own access keys: the DigitalOcean API crate's client.

pub use spacedock_do_api::{api_base, DoApi, API_BASE};

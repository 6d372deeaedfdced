//! Secrets in the OS keychain (Secret Service on Linux), namespaced by the app identifier.

use super::error::{Error, Result};
use super::secret::Secret;

/// One service name in the keychain; each secret is an account under it.
#[derive(Debug, Clone)]
pub struct Keychain {
    service: String,
}

impl Keychain {
    pub fn new(service: impl Into<String>) -> Self {
        Keychain {
            service: service.into(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, account).map_err(map_error)
    }

    pub fn set(&self, account: &str, secret: &Secret) -> Result<()> {
        self.entry(account)?
            .set_password(secret.expose())
            .map_err(map_error)
    }

    /// `None` when there is no such entry.
    pub fn get(&self, account: &str) -> Result<Option<Secret>> {
        match self.entry(account)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    /// Deleting an entry that isn't there is not an error.
    pub fn delete(&self, account: &str) -> Result<()> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e)),
        }
    }
}

fn map_error(e: keyring::Error) -> Error {
    // keyring's messages never contain the secret itself, but keep to fixed sentences anyway.
    let message = match &e {
        keyring::Error::NoStorageAccess(_) => {
            "The system keychain is locked or not running. Unlock it (Secret Service, e.g. GNOME Keyring) and try again.".into()
        }
        keyring::Error::PlatformFailure(inner) => {
            format!("The system keychain failed: {inner}. Is a Secret Service (e.g. GNOME Keyring) running?")
        }
        keyring::Error::TooLong(what, max) => format!("The keychain can't hold a {what} longer than {max} characters."),
        keyring::Error::Invalid(what, why) => format!("The keychain refused the {what}: {why}."),
        other => format!("The system keychain failed: {other}."),
    };
    Error::Keychain {
        message,
        source: Some(Box::new(e)),
    }
}

//! About Spacedock, and a check of what it needs from this computer: the keychain for secrets,
//! and Ceph's programs for the local sandbox. (The window adds the WebKit it runs on.)

use serde::Serialize;
use ts_rs::TS;

use crate::sandbox;
use crate::services::Services;

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct About {
    pub version: String,
    pub licence: String,
    pub description: String,
    /// Where the app keeps its settings, records and sandbox.
    pub data_folder: Option<String>,
    pub log_file: Option<String>,
}

pub fn about(services: &Services) -> About {
    About {
        version: env!("CARGO_PKG_VERSION").to_string(),
        licence: env!("CARGO_PKG_LICENSE").to_string(),
        description: "A desktop app for DigitalOcean Spaces and other S3-compatible storage."
            .into(),
        data_folder: services
            .sandbox_dir()
            .parent()
            .map(|p| p.display().to_string()),
        log_file: services.log().path().map(|p| p.display().to_string()),
    }
}

/// One thing the app needs, and whether this computer has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Requirement {
    pub name: String,
    pub ok: bool,
    /// What was found, or what is missing and how to get it.
    pub detail: String,
    /// What it is needed for.
    pub needed_for: String,
}

/// Checks the keychain (reached, nothing written) and the sandbox's programs.
pub fn check(services: &Services) -> Vec<Requirement> {
    // Asking for an entry that isn't there reaches the keychain without storing anything.
    let keychain = match services.keychain().get("spacedock-requirements-check") {
        Ok(_) => (
            true,
            "The Secret Service answered (e.g. GNOME Keyring).".to_string(),
        ),
        Err(e) => (false, e.to_string()),
    };
    let (missing, packages) = sandbox::missing_programs();
    vec![
        Requirement {
            name: "Keychain".into(),
            ok: keychain.0,
            detail: keychain.1,
            needed_for: "keeping secret keys (nothing else stores them)".into(),
        },
        ceph(&missing, &packages),
    ]
}

/// Ceph's programs for the sandbox: there, or which are missing and what installs them.
fn ceph(missing: &[String], packages: &[String]) -> Requirement {
    let detail = match missing.is_empty() {
        true => "Ceph's programs for the sandbox are installed.".to_string(),
        false => format!(
            "Missing: {}. Install them with: sudo apt install {}",
            missing.join(", "),
            packages.join(" ")
        ),
    };
    Requirement {
        name: "Ceph".into(),
        ok: missing.is_empty(),
        detail,
        needed_for: "the local sandbox (connections to Spaces work without it)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_are_named_with_what_installs_them() {
        let missing = ["radosgw".to_string(), "ceph-osd".to_string()];
        let packages = ["radosgw".to_string(), "ceph-osd".to_string()];
        let r = ceph(&missing, &packages);
        assert!(!r.ok);
        assert_eq!(
            r.detail,
            "Missing: radosgw, ceph-osd. Install them with: sudo apt install radosgw ceph-osd"
        );
        assert!(ceph(&[], &[]).ok);
    }
}

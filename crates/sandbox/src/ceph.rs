//! Recipes for the Ceph daemons of the sandbox: the monitor, the OSD and their cephx keys.

use std::path::Path;
use std::time::Duration;

use super::config::{self, Layout};
use super::process::run_tool;
use super::CLI_DEADLINE;
use super::SANDBOX_FILES;
use crate::error::{Error, IoContext, Result};

/// The sandbox's data is this user's alone: other local users can't read it.
pub(super) fn private_folder(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .context(|| SANDBOX_FILES.into())?;
    Ok(())
}

pub(super) fn private_file(file: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
        .context(|| SANDBOX_FILES.into())?;
    Ok(())
}

/// Makes `name`'s cephx key with `caps` and writes it to `keyring` (0600), unless it is there.
/// Signed with the monitor's own key, which may make any other.
pub(super) fn ensure_key(
    layout: &Layout,
    conf: &str,
    name: &str,
    caps: &[&str],
    keyring: &Path,
) -> Result<()> {
    if keyring.exists() {
        return private_file(keyring);
    }
    let mon_keyring = layout.mon_keyring().to_string_lossy().to_string();
    let mut args = vec![
        "-c",
        conf,
        "-n",
        "mon.",
        "-k",
        &mon_keyring,
        "--connect-timeout",
        "20",
        "auth",
        "get-or-create",
        name,
    ];
    args.extend_from_slice(caps);
    let out = run_tool("ceph", &args, CLI_DEADLINE)?;
    if !out.contains("key =") {
        return Err(Error::Sandbox(format!(
            "The monitor made no key for {name}."
        )));
    }
    // Written private from the first byte: the file never exists readable by others.
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(keyring)
        .context(|| SANDBOX_FILES.into())?;
    file.write_all(out.as_bytes())
        .context(|| SANDBOX_FILES.into())?;
    file.sync_all().context(|| SANDBOX_FILES.into())?;
    Ok(())
}

/// The OSD's own key (also made for an OSD from before the sandbox used keys).
pub(super) fn ensure_osd_key(layout: &Layout, conf: &str, id: u32) -> Result<()> {
    ensure_key(
        layout,
        conf,
        &format!("osd.{id}"),
        &[
            "mon",
            "allow profile osd",
            "osd",
            "allow *",
            "mgr",
            "allow profile osd",
        ],
        &layout.osd_keyring(id),
    )
}

pub(super) fn make_monitor(layout: &Layout, fsid: &str, mon_port: u16) -> Result<()> {
    let keyring = layout.keyring().to_string_lossy().to_string();
    let monmap = layout.root.join("monmap").to_string_lossy().to_string();
    let conf = layout.conf().to_string_lossy().to_string();
    run_tool(
        "ceph-authtool",
        &[
            "--create-keyring",
            &keyring,
            "--gen-key",
            "-n",
            "mon.",
            "--cap",
            "mon",
            "allow *",
        ],
        CLI_DEADLINE,
    )?;
    private_file(&layout.keyring())?;
    run_tool(
        "monmaptool",
        &[
            "--create",
            "--fsid",
            fsid,
            "--addv",
            "a",
            &config::mon_addrs(mon_port),
            &monmap,
        ],
        CLI_DEADLINE,
    )?;
    run_tool(
        "ceph-mon",
        &[
            "-c",
            &conf,
            "--mkfs",
            "-i",
            "a",
            "--monmap",
            &monmap,
            "--keyring",
            &keyring,
        ],
        CLI_DEADLINE,
    )?;
    Ok(())
}

/// The monitor's address lives in its monmap: moving it to a new port means rewriting the map.
pub(super) fn move_monitor(layout: &Layout, mon_port: u16) -> Result<()> {
    let monmap = layout.root.join("monmap").to_string_lossy().to_string();
    let conf = layout.conf().to_string_lossy().to_string();
    run_tool(
        "ceph-mon",
        &["-c", &conf, "-i", "a", "--extract-monmap", &monmap],
        CLI_DEADLINE,
    )?;
    run_tool("monmaptool", &["--rm", "a", &monmap], CLI_DEADLINE)?;
    run_tool(
        "monmaptool",
        &["--addv", "a", &config::mon_addrs(mon_port), &monmap],
        CLI_DEADLINE,
    )?;
    run_tool(
        "ceph-mon",
        &["-c", &conf, "-i", "a", "--inject-monmap", &monmap],
        CLI_DEADLINE,
    )?;
    Ok(())
}

pub(super) fn make_osd(layout: &Layout, conf: &str) -> Result<u32> {
    let uuid = uuid::Uuid::new_v4().to_string();
    let out = run_tool(
        "ceph",
        &["-c", conf, "--connect-timeout", "20", "osd", "new", &uuid],
        CLI_DEADLINE,
    )?;
    let id: u32 = out.trim().parse().map_err(|_| {
        Error::Sandbox(format!(
            "Unexpected answer from “ceph osd new”: {}",
            out.trim()
        ))
    })?;
    std::fs::create_dir_all(layout.osd_dir(id)).context(|| SANDBOX_FILES.into())?;
    ensure_osd_key(layout, conf, id)?;
    run_tool(
        "ceph-osd",
        &[
            "-c",
            conf,
            "-i",
            &id.to_string(),
            "--mkfs",
            "--osd-uuid",
            &uuid,
        ],
        Duration::from_secs(120),
    )?;
    Ok(id)
}

/// True once something answers HTTP on 127.0.0.1:port.
pub(super) fn http_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(
        &(std::net::Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(300),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

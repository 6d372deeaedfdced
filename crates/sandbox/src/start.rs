//! Starting the sandbox: the cluster is made on first use, then each later start reuses it,
//! choosing free ports, bringing up the monitor, the OSD and the gateway in order, and checking
//! its users.

use super::*;

/// Starts the sandbox in `opts.root`, creating the cluster on first use. Blocking: run it off the UI thread.
///
/// A gateway port another program took between being chosen and being bound (programs start all
/// the time) is not the user's to fix: the start is made again, with another port, twice at most.
pub fn start(opts: &StartOptions, mut progress: impl FnMut(Progress)) -> Result<Sandbox> {
    again_if_port_taken(|port_taken| start_once(opts, &mut progress, port_taken))
}

/// How many times a start is made again after its gateway's port was taken.
const PORT_TAKEN_TRIES: usize = 2;

/// Runs `once` until it succeeds, fails for another reason, or its port was taken more than
/// `PORT_TAKEN_TRIES` times over.
fn again_if_port_taken<T>(mut once: impl FnMut(&mut bool) -> Result<T>) -> Result<T> {
    let mut tries = 0;
    loop {
        let mut port_taken = false;
        match once(&mut port_taken) {
            Err(_) if port_taken && tries < PORT_TAKEN_TRIES => tries += 1,
            done => return done,
        }
    }
}

fn start_once(
    opts: &StartOptions,
    progress: &mut impl FnMut(Progress),
    port_taken: &mut bool,
) -> Result<Sandbox> {
    let t0 = Instant::now();
    let (missing, packages) = missing_programs();
    if !missing.is_empty() {
        return Err(Error::SandboxMissing { missing, packages });
    }
    let layout = Layout::new(&opts.root);
    std::fs::create_dir_all(&layout.root).context(|| SANDBOX_FILES.into())?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(layout.lock())
        .context(|| SANDBOX_FILES.into())?;
    // One cluster, one owner: a second app instance must never run daemons on the same data.
    if let Err(e) = lock.try_lock() {
        return Err(match e {
            std::fs::TryLockError::WouldBlock => Error::SandboxBusy,
            std::fs::TryLockError::Error(e) => Error::local_file(SANDBOX_FILES, e),
        });
    }
    process::stop_leftovers(&layout.pids(), &layout.conf(), GRACE);

    let facts = match config::read_facts(&layout.facts()) {
        Facts::Found(facts) => Some(facts),
        // Never delete data because a file about it can't be read: read the facts back from
        // the cluster itself, or say what is wrong and leave everything as it is.
        Facts::Damaged(why) => Some(config::rebuild_facts(&layout).ok_or_else(|| {
            Error::Sandbox(format!(
                "The sandbox's record of its cluster ({}) can't be read: {why}, and it can't be read back from the cluster's data. Nothing was deleted. Restore that file, or move the folder {} away to start a new, empty sandbox.",
                layout.facts().display(),
                layout.root.display()
            ))
        })?),
        Facts::Missing => match config::rebuild_facts(&layout) {
            Some(facts) => Some(facts),
            None if config::osd_was_made(&layout) => {
                return Err(Error::Sandbox(format!(
                    "The sandbox in {} has stored data but no monitor to reach it. Nothing was deleted. Move that folder away to start a new, empty sandbox.",
                    layout.root.display()
                )))
            }
            None => None,
        },
    };
    let first_start = facts.is_none();
    let mut report = |step, done| {
        progress(Progress {
            step,
            done,
            elapsed_ms: u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
            first_start,
        })
    };
    report(Step::Prepare, false);
    if first_start {
        // No OSD holds data here (none was made, or its making failed half way): begin again.
        for dir in layout.data_dirs() {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).context(|| SANDBOX_FILES.into())?;
            }
        }
        for file in [
            layout.keyring(),
            layout.admin_keyring(),
            layout.rgw_keyring(),
            layout.root.join("monmap"),
        ] {
            let _ = std::fs::remove_file(file);
        }
    }
    private_folder(&layout.root)?;
    for dir in layout.all_dirs() {
        std::fs::create_dir_all(&dir).context(|| SANDBOX_FILES.into())?;
        private_folder(&dir)?;
    }
    let sandbox_ports = choose_ports(facts.as_ref())?;
    let fsid = facts
        .as_ref()
        .map(|f| f.fsid.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    std::fs::write(
        layout.conf(),
        config::render(&config::ConfInput {
            layout: &layout,
            fsid: &fsid,
            mon_port: sandbox_ports.mon,
            rgw_port: sandbox_ports.rgw,
            store_bytes: opts.store_bytes,
            lifecycle_day_seconds: opts.lifecycle_day_seconds,
        }),
    )
    .context(|| SANDBOX_FILES.into())?;
    let conf = layout.conf().to_string_lossy().to_string();
    let mut timings = Vec::new();
    let mut mark = Instant::now();
    report(Step::Prepare, true);

    let mut sandbox = Sandbox {
        layout: layout.clone(),
        rgw_port: sandbox_ports.rgw,
        first_start,
        daemons: Vec::new(),
        keeper: Some(Keeper::start()?),
        _lock: lock,
        owner: OwnerKey {
            access_key: String::new(),
            secret: Secret::new(""),
        },
        admin_key: OwnerKey {
            access_key: String::new(),
            secret: Secret::new(""),
        },
        timings: Vec::new(),
    };

    // Monitor
    report(Step::Monitor, false);
    match &facts {
        None => make_monitor(&layout, &fsid, sandbox_ports.mon)?,
        Some(f) if f.mon_port != sandbox_ports.mon => move_monitor(&layout, sandbox_ports.mon)?,
        Some(_) => {}
    }
    // A monitor made before the sandbox used keys kept its key beside the data only.
    if !layout.mon_keyring().exists() && layout.keyring().exists() {
        std::fs::copy(layout.keyring(), layout.mon_keyring()).context(|| SANDBOX_FILES.into())?;
        private_file(&layout.mon_keyring())?;
    }
    sandbox.spawn("mon", "ceph-mon", &["-c", &conf, "-i", "a", "-f"])?;
    sandbox.wait_until("the monitor", Duration::from_secs(30), || {
        Ok(process::port_open(sandbox_ports.mon))
    })?;
    // Every other daemon's key is made with the monitor's own (also for a cluster made before
    // the sandbox used keys).
    ensure_key(
        &layout,
        &conf,
        "client.admin",
        &["mon", "allow *", "osd", "allow *", "mgr", "allow *"],
        &layout.admin_keyring(),
    )?;
    timings.push((Step::Monitor, mark.elapsed()));
    report(Step::Monitor, true);

    // Storage (OSD)
    mark = Instant::now();
    report(Step::Storage, false);
    let osd_id = match &facts {
        Some(f) => f.osd_id,
        None => make_osd(&layout, &conf)?,
    };
    ensure_osd_key(&layout, &conf, osd_id)?;
    let osd_id_text = osd_id.to_string();
    sandbox.spawn("osd", "ceph-osd", &["-c", &conf, "-i", &osd_id_text, "-f"])?;
    let asok = layout.root.join("run").join(format!("osd.{osd_id}.asok"));
    let asok = asok.to_string_lossy().to_string();
    sandbox.wait_until("the storage daemon (OSD)", Duration::from_secs(120), || {
        Ok(
            run_tool("ceph", &["--admin-daemon", &asok, "status"], CLI_DEADLINE)
                .map(|out| out.contains("\"active\""))
                .unwrap_or(false),
        )
    })?;
    // From here on a later start can reuse the cluster.
    let mut facts_now = ClusterFacts {
        fsid: fsid.clone(),
        osd_id,
        mon_port: sandbox_ports.mon,
        rgw_port: sandbox_ports.rgw,
        owner_access_key: opts
            .owner_access_key
            .clone()
            .or_else(|| facts.as_ref().and_then(|f| f.owner_access_key.clone())),
    };
    save_facts(&layout, &facts_now)?;
    timings.push((Step::Storage, mark.elapsed()));
    report(Step::Storage, true);

    // Gateway
    mark = Instant::now();
    report(Step::Gateway, false);
    ensure_key(
        &layout,
        &conf,
        RGW_NAME,
        &["mon", "allow rw", "osd", "allow rwx"],
        &layout.rgw_keyring(),
    )?;
    sandbox.spawn("rgw", "radosgw", &["-c", &conf, "-n", RGW_NAME, "-f"])?;
    let rgw_port = sandbox_ports.rgw;
    let rgw_pid = sandbox.pid_of("rgw").unwrap_or_default();
    let taken = std::cell::Cell::new(false);
    let gateway = sandbox.wait_until("the gateway (radosgw)", Duration::from_secs(180), || {
        if !http_answers(rgw_port) {
            return Ok(false);
        }
        // Something answers on the port: it must be this sandbox's own radosgw. Another
        // program there (another user's, say) would be sent every upload and could answer
        // for the Spaces.
        match process::listener_held_by(rgw_port, rgw_pid) {
            true => Ok(true),
            false => Err({
                taken.set(true);
                Error::Sandbox(format!(
                "Another program is listening on the sandbox gateway's port {rgw_port}, not this sandbox's radosgw; nothing was sent to it, and the sandbox was stopped. Start it again: it picks another port."
                ))
            }),
        }
    });
    *port_taken = taken.get();
    gateway?;
    timings.push((Step::Gateway, mark.elapsed()));
    report(Step::Gateway, true);

    // Owner
    mark = Instant::now();
    report(Step::Owner, false);
    sandbox.owner = sandbox.ensure_owner(facts_now.owner_access_key.as_deref())?;
    sandbox.admin_key = sandbox.ensure_admin()?;
    if facts_now.owner_access_key.as_deref() != Some(sandbox.owner.access_key.as_str()) {
        facts_now.owner_access_key = Some(sandbox.owner.access_key.clone());
        save_facts(&layout, &facts_now)?;
    }
    timings.push((Step::Owner, mark.elapsed()));
    report(Step::Owner, true);

    sandbox.timings = timings;
    report(Step::Ready, true);
    Ok(sandbox)
}

struct Ports {
    mon: u16,
    rgw: u16,
}

/// Keeps last time's ports when they are free; a port in use is never shared (a second mon on
/// the same port would silently join the other cluster).
fn choose_ports(facts: Option<&ClusterFacts>) -> Result<Ports> {
    let mon = match facts {
        Some(f)
            if f.mon_port != 0
                && process::port_free(f.mon_port)
                && process::port_free(f.mon_port + 1) =>
        {
            f.mon_port
        }
        _ => process::free_port_pair()?,
    };
    let rgw = match facts {
        Some(f)
            if f.rgw_port != 0
                && process::port_free(f.rgw_port)
                && f.rgw_port != mon
                && f.rgw_port != mon + 1 =>
        {
            f.rgw_port
        }
        _ => loop {
            let p = process::free_port()?;
            if p != mon && p != mon + 1 {
                break p;
            }
        },
    };
    Ok(Ports { mon, rgw })
}

fn save_facts(layout: &Layout, facts: &ClusterFacts) -> Result<()> {
    let text = serde_json::to_string_pretty(facts)
        .map_err(|e| Error::Internal(format!("the sandbox's facts can't be written: {e}")))?;
    crate::disk::write_atomic(&layout.facts(), text.as_bytes())?;
    private_file(&layout.facts())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_whose_port_was_taken_is_made_again_twice_at_most_and_no_other_failure_is() {
        let taken = || Error::Sandbox("port taken".into());
        // Taken twice, then through.
        let mut calls = 0;
        let got = again_if_port_taken(|port_taken| {
            calls += 1;
            if calls <= 2 {
                *port_taken = true;
                Err(taken())
            } else {
                Ok(calls)
            }
        });
        assert_eq!(got.ok(), Some(3));
        // Taken every time: the third failure is said.
        let mut calls = 0;
        let got: Result<()> = again_if_port_taken(|port_taken| {
            calls += 1;
            *port_taken = true;
            Err(taken())
        });
        assert!(got.is_err());
        assert_eq!(calls, 1 + PORT_TAKEN_TRIES);
        // Any other failure at once.
        let mut calls = 0;
        let got: Result<()> = again_if_port_taken(|_| {
            calls += 1;
            Err(Error::Sandbox("the disk is full".into()))
        });
        assert!(got.is_err());
        assert_eq!(calls, 1);
    }
}

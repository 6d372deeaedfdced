//! Child processes of the sandbox: daemons that die with the app, tools with a deadline.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::SANDBOX_FILES;
use crate::error::{Error, IoContext, Result};

/// A thread that lives as long as the sandbox and forks its daemons.
///
/// Linux delivers the parent-death signal when the *thread* that forked a child ends, so daemons
/// are forked here rather than on a pool thread that may retire early. If the app dies without
/// stopping the sandbox, the thread dies with it and the daemons are told to stop.
pub struct Keeper {
    tx: Option<mpsc::Sender<(Command, mpsc::Sender<std::io::Result<Child>>)>>,
    thread: Option<JoinHandle<()>>,
}

impl Keeper {
    pub fn start() -> Result<Keeper> {
        let (tx, rx) = mpsc::channel::<(Command, mpsc::Sender<std::io::Result<Child>>)>();
        let thread = std::thread::Builder::new()
            .name("sandbox-keeper".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .context(|| SANDBOX_FILES.into())?;
        Ok(Keeper {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Starts a daemon; its output goes to `log`. If the app dies, the daemon gets `death_signal`.
    pub fn spawn(
        &self,
        program: &str,
        args: &[&str],
        log: &Path,
        death_signal: i32,
    ) -> Result<Child> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .context(|| SANDBOX_FILES.into())?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env_remove("CEPH_CONF")
            .env_remove("CEPH_ARGS")
            .stdin(Stdio::null())
            .stdout(out.try_clone().context(|| SANDBOX_FILES.into())?)
            .stderr(out);
        // SAFETY: setpgid, prctl and getppid are async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // A group of its own: Ctrl+C in the app's terminal reaches the app, which then
                // stops the daemons in order, instead of hitting them all at once.
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl: then there is nobody to stop us later.
                if libc::getppid() == 1 {
                    return Err(std::io::Error::other("parent exited"));
                }
                Ok(())
            });
        }
        let (reply_tx, reply_rx) = mpsc::channel();
        self.tx
            .as_ref()
            .ok_or_else(|| Error::Sandbox("The sandbox is stopping.".into()))?
            .send((command, reply_tx))
            .map_err(|_| Error::Sandbox("The sandbox keeper thread has stopped.".into()))?;
        let child = reply_rx
            .recv()
            .map_err(|_| Error::Sandbox("The sandbox keeper thread has stopped.".into()))?
            .map_err(|e| Error::Sandbox(format!("Could not start {program}: {e}")))?;
        Ok(child)
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs a Ceph tool to completion within `deadline`. Only stderr is ever put in an error:
/// stdout of radosgw-admin carries secret keys.
pub fn run_tool(program: &str, args: &[&str], deadline: Duration) -> Result<String> {
    let mut child = Command::new(program)
        .args(args)
        .env_remove("CEPH_CONF")
        .env_remove("CEPH_ARGS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Sandbox(format!("Could not run {program}: {e}")))?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().context(|| SANDBOX_FILES.into())? {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Sandbox(format!(
                "{program} {} did not finish within {} s.",
                args.first().copied().unwrap_or_default(),
                deadline.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let out = out_thread.join().unwrap_or_default();
    let err = err_thread.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        Err(Error::Sandbox(format!(
            "{program} {} failed: {}",
            args.first().copied().unwrap_or_default(),
            failure_words(&err, 3)
        )))
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// What a Ceph program's output says of why it failed: its last `n` lines; but when it crashed,
/// Ceph ends with a backtrace, and the line that says why (a failed assert, a RocksDB or other
/// error) comes before it, so that line and the signal are given instead.
pub fn failure_words(text: &str, n: usize) -> String {
    let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(signal) = lines().find(|l| l.contains("Caught signal")) else {
        return last_lines(text, n);
    };
    let causes = [
        "ceph_assert",
        "ceph_abort",
        "rocksdb:",
        "what():",
        "error",
        "Error",
    ];
    match lines().find(|l| causes.iter().any(|c| l.contains(c))) {
        Some(cause) => format!("it crashed ({}): {cause}", signal.trim_matches('*').trim()),
        None => format!("it crashed ({})", signal.trim_matches('*').trim()),
    }
}

/// True when nothing accepts connections on 127.0.0.1:port and we may bind it.
pub fn port_free(port: u16) -> bool {
    port != 0 && TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Whether the socket listening on `port` (on loopback or every address) is held by process
/// `pid`: read from the kernel's table of TCP sockets and the process's open files, so a port
/// that another program (another user's, even) took first is never taken for the sandbox's.
pub fn listener_held_by(port: u16, pid: u32) -> bool {
    let inodes = listening_inodes(port);
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        let link = std::fs::read_link(fd.path()).unwrap_or_default();
        let link = link.to_string_lossy();
        (link.strip_prefix("socket:["))
            .and_then(|l| l.strip_suffix(']'))
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| inodes.contains(&n))
    })
}

/// The inodes of the sockets listening on `port`, from /proc/net/tcp and tcp6.
fn listening_inodes(port: u16) -> Vec<u64> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local address "IP:PORT" in hex, state 0A is LISTEN, the inode is the tenth column.
            let (Some(local), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
            else {
                continue;
            };
            let listens_here = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                == Some(port);
            if listens_here && *state == "0A" {
                inodes.extend(inode.parse::<u64>().ok());
            }
        }
    }
    inodes
}

pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &(std::net::Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A free port whose successor is free too (the mon listens on two).
pub fn free_port_pair() -> Result<u16> {
    for _ in 0..200 {
        let port = any_port()?;
        if port < u16::MAX && port_free(port) && port_free(port + 1) {
            return Ok(port);
        }
    }
    Err(Error::Sandbox(
        "No two free neighbouring ports on 127.0.0.1.".into(),
    ))
}

fn any_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0));
    let port = listener.and_then(|l| l.local_addr()).map(|a| a.port());
    port.map_err(|e| Error::Sandbox(format!("No free port on 127.0.0.1: {e}")))
}

pub fn free_port() -> Result<u16> {
    any_port()
}

/// Sends TERM, then KILL after `grace`.
pub fn stop_child(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let started = Instant::now();
    while started.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Stops daemons a crashed earlier run left behind, by the pids it recorded. A pid is only
/// signalled if its command line still names this sandbox's config, so a reused pid is left alone.
pub fn stop_leftovers(pids_file: &Path, conf: &Path, grace: Duration) {
    let Ok(text) = std::fs::read_to_string(pids_file) else {
        return;
    };
    let conf = conf.to_string_lossy().to_string();
    for pid in text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<i32>().ok())
    {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains(&conf) {
            continue;
        }
        // SAFETY: kill(2) on a pid verified above to be one of our daemons.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let started = Instant::now();
        while started.elapsed() < grace && Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(Duration::from_millis(100));
        }
        let still_ours = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(&conf))
            .unwrap_or(false);
        if still_ours {
            // SAFETY: as above, re-checked.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let _ = std::fs::remove_file(pids_file);
}

/// Resident memory of a process in bytes, from /proc.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Where a program is on PATH, if anywhere.
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_is_told_from_another_processs() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert!(listener_held_by(port, std::process::id()));
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("another process");
        assert!(!listener_held_by(port, other.id()), "not the other's");
        let _ = other.kill();
        let _ = other.wait();
        drop(listener);
        assert!(!listener_held_by(port, std::process::id()), "closed");
    }

    /// The shape of a Ceph tool's crash: the reason, then a long backtrace.
    const CRASH: &str = "2026-11-29T06:10:01.123+0000 7f3 -1 rocksdb: IO error: While lock file: store.db/LOCK: Resource temporarily unavailable
/build/ceph/src/mon/MonitorDBStore.h: In function 'int MonitorDBStore::open(std::ostream&)'
/build/ceph/src/mon/MonitorDBStore.h: 355: ceph_abort_msg(\"failed to open the store\")
 ceph version 16.2.11 (3cf40e2dca667f68c6ce3ff5cd94f01e711af894) pacific (stable)
 1: (ceph::__ceph_abort(char const*, int, char const*, std::string const&)+0xd7) [0x7fa63bd0a4e2]
*** Caught signal (Aborted) **
 in thread 7fa63b3c9540 thread_name:ceph-mon
 6: /lib/x86_64-linux-gnu/libc.so.6(+0x891f5) [0x7fa63baa71f5]
 7: /lib/x86_64-linux-gnu/libc.so.6(+0x1098ec) [0x7fa63bb278ec]
 NOTE: a copy of the executable, or `objdump -rdS <executable>` is needed to interpret this.
";

    #[test]
    fn a_crash_is_told_by_its_reason_not_the_end_of_its_backtrace() {
        let words = failure_words(CRASH, 3);
        assert!(
            words.starts_with("it crashed (Caught signal (Aborted)): "),
            "{words}"
        );
        assert!(
            words.contains("rocksdb: IO error: While lock file"),
            "{words}"
        );
        assert!(!words.contains("objdump"), "{words}");
    }

    #[test]
    fn a_crash_without_a_reason_still_says_it_crashed() {
        let text =
            "*** Caught signal (Segmentation fault) **\n in thread 7f thread_name:ceph-mon\n";
        assert_eq!(
            failure_words(text, 3),
            "it crashed (Caught signal (Segmentation fault))"
        );
    }

    #[test]
    fn a_plain_failure_keeps_its_last_lines() {
        let text = "first\n\nsecond\nthird\nerror: the monitor address is in use\n";
        assert_eq!(
            failure_words(text, 2),
            "third | error: the monitor address is in use"
        );
    }
}

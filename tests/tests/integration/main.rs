//! Integration tests against the real Ceph RGW sandbox and the real Secret Service keychain.
//! Run inside `dbus-run-session` with an unlocked gnome-keyring (the test command does this).

mod about;
mod batches;
mod browse;
mod busy;
mod cdn;
mod ci_env;
mod connect;
mod copy_guards;
mod create;
mod destroy;
mod do_keys;
mod downloads;
mod faults;
mod files;
mod guarded_keys;
mod hostile;
mod housekeeping;
mod integrity;
mod ipc;
mod keychain;
mod keys;
mod kit;
mod lifecycle;
mod limits;
mod moves;
mod preview;
mod resume;
mod rules;
mod safety;
mod search;
mod services;
mod slow;
mod upload;
mod versions;

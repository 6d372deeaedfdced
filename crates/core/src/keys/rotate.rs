//! Rotating a key. Neither DigitalOcean nor RGW can give a key a new secret, so a rotation makes
//! a new key with the same grants, tries it on every Space that opens with the old one, moves
//! every saved connection and remembered Space onto it, and only then revokes the old key.
//!
//! Each step is written down before it is taken ([`Journal`], in the settings), so a quit or a
//! crash at any point is finished or undone the next time the connection that began it opens:
//! before the move, the new key is revoked and everything stays on the old one; from the move
//! on, the new key has been tried, so the move is finished and the old key revoked.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::manager::{space_names, Manager};
use super::service::{secret_of, write_and_delete};
use super::{AccessKey, Permission, Scope};
use crate::connection::active::Active;
use crate::connection::service::secret_account;
use crate::connection::{key_account, same_endpoint, ConnectionProfile, Provider};
use crate::error::{Error, Result};
use crate::s3;
use crate::secret::Secret;
use crate::services::Services;
use crate::CancellationToken;

/// A new DigitalOcean key may take a moment to be accepted everywhere: a Space that refuses it
/// is tried again for this long before the rotation is given up. RGW's keys work at once.
const SETTLE: Duration = Duration::from_secs(30);

/// What a rotation did, for the keys page to say. Its `Debug` leaves the secret out.
#[derive(Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RotatedKey {
    pub old_access_key: String,
    /// The new key, named as the old one was.
    pub key: AccessKey,
    /// The saved connections that now sign with the new key, by name.
    pub connections: Vec<String>,
    /// The Spaces that remembered the old key and now open with the new one.
    pub spaces: Vec<String>,
    /// Where the new key was tried before anything was moved: Space names, or "the Spaces list".
    pub tried: Vec<String>,
    /// The old key was revoked. `left` says what is left to do, if anything.
    pub old_revoked: bool,
    pub left: Option<String>,
    /// The new key's secret, shown once (as a generated key's is) for programs outside the app
    /// that used the old key; it is in the keychain.
    pub secret: String,
}

impl std::fmt::Debug for RotatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatedKey")
            .field("old_access_key", &self.old_access_key)
            .field("key", &self.key)
            .field("connections", &self.connections)
            .field("spaces", &self.spaces)
            .field("tried", &self.tried)
            .field("old_revoked", &self.old_revoked)
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

/// A rotation in progress, written before each step.
/// Unknown fields (a newer version's) make it unreadable, so it is never rewritten without them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Journal {
    /// The connection that began it: its key manager finishes or undoes it.
    pub connection: String,
    pub old: String,
    /// The old key's name, which the new one takes at the end.
    pub name: String,
    /// The name the new key is made under until then, so a key made just before a crash (whose
    /// access key was never written down) is still found.
    pub made_as: String,
    pub new: Option<String>,
    pub step: Step,
    /// The service the keys are of: only its connections move (another service may have a key
    /// of the same name).
    pub service: Provider,
    /// The account's keys before the new one was made: a key made just before a crash whose
    /// name the server does not keep (RGW's full keys) is the one that was not there.
    pub before: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    /// Making and trying the new key: undone after a crash.
    Making,
    /// Moving connections and Spaces to the tried key: finished after a crash.
    Moving,
}

/// One place the new key is tried: a Space (in a region) with what it must be able to do, or
/// the Spaces list for a full-access key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Trial {
    Space {
        space: String,
        region: String,
        write: bool,
    },
    SpacesList,
}

/// What moves: the connections that sign with the old key, and the Spaces that remember it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    connections: Vec<(String, String)>,
    spaces: BTreeSet<String>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.connections.is_empty() && self.spaces.is_empty()
    }

    /// What the page is told: names.
    fn shown(self) -> RotationPlan {
        RotationPlan {
            connections: self.connections.into_iter().map(|(_, n)| n).collect(),
            spaces: self.spaces.into_iter().collect(),
        }
    }
}

/// Whether two connections reach the same service, so one key id means one key: DigitalOcean's
/// keys are the account's in every region; a gateway's are its own.
pub fn same_service(a: &Provider, b: &Provider) -> bool {
    match (a, b) {
        (Provider::DigitalOcean { .. }, Provider::DigitalOcean { .. }) => true,
        (Provider::Sandbox, Provider::Sandbox) => true,
        (Provider::Custom { endpoint: x, .. }, Provider::Custom { endpoint: y, .. }) => {
            same_endpoint(x, y)
        }
        _ => false,
    }
}

fn plan(profiles: &[ConnectionProfile], service: &Provider, old: &str) -> Plan {
    let mut plan = Plan::default();
    for p in profiles
        .iter()
        .filter(|p| same_service(&p.provider, service))
    {
        if p.access_key == old {
            plan.connections.push((p.id.clone(), p.name.clone()));
        }
        for (space, key) in &p.space_keys {
            if key.access_key == old {
                plan.spaces.insert(space.clone());
            }
        }
    }
    plan
}

/// Where the new key must work before anything moves onto it: every Space that opens with the
/// old key (a limited connection's own Space, the Spaces that remember it), with the permission
/// its grant gives; a full-access key also lists Spaces, as its connections do. A limited key in
/// use nowhere is tried on each Space it is granted.
fn trials(
    profiles: &[ConnectionProfile],
    service: &Provider,
    old: &str,
    scope: &Scope,
) -> Vec<Trial> {
    let own_region = service.region_label();
    let write_in = |space: &str| match scope {
        Scope::Full => true,
        Scope::Limited { grants } => grants
            .iter()
            .any(|g| g.space == space && g.permission != Permission::Read),
    };
    let mut trials = BTreeSet::new();
    for p in profiles
        .iter()
        .filter(|p| same_service(&p.provider, service))
    {
        if p.access_key == old {
            match &p.space {
                Some(space) => trials.insert(Trial::Space {
                    space: space.clone(),
                    region: p.provider.region_label(),
                    write: write_in(space),
                }),
                None => trials.insert(Trial::SpacesList),
            };
        }
        for (space, key) in &p.space_keys {
            if key.access_key == old {
                trials.insert(Trial::Space {
                    space: space.clone(),
                    region: key.region.clone(),
                    write: write_in(space),
                });
            }
        }
    }
    if trials.is_empty() {
        match scope {
            Scope::Full => {
                trials.insert(Trial::SpacesList);
            }
            Scope::Limited { grants } => {
                for g in grants {
                    trials.insert(Trial::Space {
                        space: g.space.clone(),
                        region: own_region.clone(),
                        write: g.permission != Permission::Read,
                    });
                }
            }
        }
    }
    trials.into_iter().collect()
}

fn journal_of(services: &Services) -> Result<Option<Journal>> {
    match services.settings().key_rotation() {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| Error::settings("the unfinished key rotation is damaged", Some(e.into()))),
    }
}

fn write_journal(services: &Services, journal: Option<&Journal>) -> Result<()> {
    let value = match journal {
        Some(j) => serde_json::to_value(j)
            .map_err(|e| Error::settings("the key rotation as JSON", Some(e.into())))?,
        None => serde_json::Value::Null,
    };
    services.settings().set_key_rotation(value)
}

/// Rotates `access_key`: a new key with the same grants takes its place everywhere, tried first;
/// then the old key is revoked. Until the move begins, the page may stop it (request `request`),
/// and any failure leaves everything as it was.
pub async fn rotate(
    services: &Services,
    access_key: &str,
    request: Option<u32>,
) -> Result<RotatedKey> {
    let _one_at_a_time = services.key_rotation_lock().lock().await;
    services
        .requests()
        .run_stoppable(request, |stop| {
            Box::pin(rotate_until(services, access_key, stop))
        })
        .await
}

async fn rotate_until(
    services: &Services,
    access_key: &str,
    stop: CancellationToken,
) -> Result<RotatedKey> {
    if let Some(j) = journal_of(services)? {
        return Err(Error::InvalidInput(format!(
            "The rotation of {} is not finished yet: it is finished when the connection that began it opens again.",
            j.old
        )));
    }
    let active = services.active().await?;
    if active.profile.provider == Provider::Sandbox && access_key == active.profile.access_key {
        return Err(Error::InvalidInput(
            "The sandbox's own key belongs to the sandbox. Rotate a key made on this page.".into(),
        ));
    }
    let manager = Manager::of(services, &active).await?;
    let listed = listed_keys(&manager, &active).await?;
    let old = listed
        .iter()
        .find(|k| k.access_key == access_key)
        .cloned()
        .ok_or_else(|| Error::Gone("That key is not among this account's keys.".into()))?;
    if let Manager::DigitalOcean(api) = &manager {
        // A grant this app does not understand would be missing from the new key.
        api.get_whole(access_key).await?;
    }
    let name = match services.settings().key_names().remove(access_key) {
        Some(given) => given,
        None if !old.name.is_empty() => old.name.clone(),
        None => "Rotated key".to_string(),
    };
    let service = active.profile.provider.clone();
    let profiles = services.settings().profiles()?;
    let trials = trials(&profiles, &service, access_key, &old.scope);
    if stop.is_cancelled() {
        return Err(Error::Cancelled("Nothing was changed.".into()));
    }

    let mut journal = Journal {
        connection: active.profile.id.clone(),
        old: access_key.to_string(),
        name: name.clone(),
        made_as: format!(
            "{name} (new, {})",
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        ),
        new: None,
        step: Step::Making,
        service: service.clone(),
        before: listed.iter().map(|k| k.access_key.clone()).collect(),
    };
    write_journal(services, Some(&journal))?;
    let made = manager
        .generate(&active, &journal.made_as, &old.scope)
        .await;
    let (mut key, secret) = match made {
        Ok(made) => made,
        Err(e) => {
            // The server may have made it before its answer was lost: what it made under the
            // rotation's name is revoked; if that can't be known yet, the journal stays for later.
            if forget_made_as(services, &manager, &active, &journal)
                .await
                .is_ok()
            {
                write_journal(services, None)?;
            }
            return Err(e);
        }
    };
    journal.new = Some(key.access_key.clone());
    write_journal(services, Some(&journal))?;
    services.log().write(format!(
        "rotating the access key {access_key}: made {} to replace it",
        key.access_key
    ));

    let settle = match manager {
        Manager::DigitalOcean(_) => SETTLE,
        Manager::Rgw(_) => Duration::ZERO,
    };
    let tried = tokio::select! {
        tried = keep_and_try(services, &active, (&key, &secret), &trials, settle) => tried,
        () = stop.cancelled() => Err(Error::Cancelled("Stopped before anything moved.".into())),
    };
    let tried = match tried {
        Ok(tried) => tried,
        Err(e) => {
            let undone = undo(services, &manager, &active, &journal, &key.access_key).await;
            let undone = match undone {
                Ok(()) => "The new key was revoked; nothing else changed.".to_string(),
                Err(u) => format!("The new key could not be revoked ({u}); it is revoked the next time this connection opens."),
            };
            return Err(match e {
                Error::Cancelled(_) => {
                    Error::Cancelled(format!("The key was not rotated. {undone}"))
                }
                e => Error::InvalidInput(format!("The key was not rotated: {e} {undone}")),
            });
        }
    };

    // From here on the rotation only goes forward: a stop is not taken.
    journal.step = Step::Moving;
    write_journal(services, Some(&journal))?;
    let moved = plan(&profiles, &service, access_key).shown();
    move_onto(services, &journal, &key.access_key, &secret).await?;

    // The old key opens nothing from here on, and the new one takes its name: done by the
    // connection that began it (another may have been opened meanwhile; then it is done when
    // that one opens again).
    let ended = match services.active().await {
        Ok(now) if now.profile.id == journal.connection => {
            match Manager::of(services, &now).await {
                Ok(manager) => finish(services, &manager, &now, &journal, &key.access_key).await,
                Err(e) => Ended::NotRevoked(e),
            }
        }
        _ => Ended::NotRevoked(Error::InvalidInput(
            "another connection was opened meanwhile.".into(),
        )),
    };
    let (old_revoked, left) = match ended {
        Ended::Done => (true, None),
        Ended::NotRevoked(e) => (false, Some(format!(
            "Everything now uses the new key, but the old key {access_key} was not revoked: {e} It is tried again the next time this connection opens; you can also revoke it yourself."
        ))),
        Ended::Revoked(e) => (true, Some(format!(
            "The old key is revoked, but what Spacedock remembers of it was not all tidied: {e} It is tried again the next time this connection opens."
        ))),
    };
    key.name = name;
    Ok(RotatedKey {
        old_access_key: access_key.to_string(),
        key,
        connections: moved.connections,
        spaces: moved.spaces,
        tried,
        old_revoked,
        left,
        secret: secret.expose().to_string(),
    })
}

/// Every key of the account the manager keeps.
async fn listed_keys(manager: &Manager, active: &Active) -> Result<Vec<AccessKey>> {
    let spaces = match manager {
        Manager::Rgw(_) => space_names(active).await?,
        Manager::DigitalOcean(_) => Vec::new(),
    };
    manager.list(active, &spaces).await
}

/// Puts the new key's secret in the keychain under its name, then tries it everywhere it must
/// work. The names of what was tried come back.
async fn keep_and_try(
    services: &Services,
    active: &Active,
    (key, secret): (&AccessKey, &Secret),
    trials: &[Trial],
    settle: Duration,
) -> Result<Vec<String>> {
    services
        .keychain()
        .set(&key_account(&key.access_key), secret)?;
    let mut tried = Vec::new();
    for trial in trials {
        let started = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(500);
        loop {
            match try_once(active, &key.access_key, secret, trial).await {
                Ok(()) => break,
                Err(e) if !settles(&e) || started.elapsed() + wait > settle => {
                    return Err(Error::AccessDenied(match trial {
                        Trial::Space { space, .. } => {
                            format!("the new key does not work in “{space}”: {e}")
                        }
                        Trial::SpacesList => format!("the new key can't list the Spaces: {e}"),
                    }))
                }
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(8));
                }
            }
        }
        tried.push(match trial {
            Trial::Space { space, .. } => space.clone(),
            Trial::SpacesList => "the Spaces list".to_string(),
        });
    }
    Ok(tried)
}

/// A refusal a key that is not yet known everywhere gets.
fn settles(e: &Error) -> bool {
    matches!(
        e,
        Error::UnknownAccessKey | Error::WrongSecret | Error::AccessDenied(_)
    )
}

async fn try_once(active: &Active, access_key: &str, secret: &Secret, trial: &Trial) -> Result<()> {
    match trial {
        Trial::SpacesList => {
            let client = s3::client(&active.endpoint, access_key, secret);
            client.list_buckets().send().await.map_err(|e| {
                s3::map_error(
                    e,
                    s3::Context {
                        endpoint: &active.endpoint.url,
                        space: None,
                    },
                )
            })?;
            Ok(())
        }
        Trial::Space {
            space,
            region,
            write,
        } => {
            let (_, endpoint) = active.client_for_region(region)?;
            let client = s3::client(&endpoint, access_key, secret);
            let listed = client
                .list_objects_v2()
                .bucket(space)
                .max_keys(1)
                .send()
                .await;
            listed.map_err(|e| s3::map_error(e, s3::Context::space(&endpoint.url, space)))?;
            if *write && !write_and_delete(&client, &active.client, space).await {
                return Err(Error::AccessDenied(
                    "it can't write there as the old one could.".into(),
                ));
            }
            Ok(())
        }
    }
}

/// Every saved connection and remembered Space of the journal's service that used the old key
/// now uses the new one, the connection in use too. Doing it twice is doing it once (a crash may
/// repeat it).
async fn move_onto(
    services: &Services,
    journal: &Journal,
    new: &str,
    secret: &Secret,
) -> Result<()> {
    let old = journal.old.as_str();
    let mut profiles = services.settings().profiles()?;
    for p in profiles
        .iter_mut()
        .filter(|p| same_service(&p.provider, &journal.service))
    {
        if p.access_key == old {
            services.keychain().set(&secret_account(p), secret)?;
            p.access_key = new.to_string();
        }
        for key in p.space_keys.values_mut() {
            if key.access_key == old {
                key.access_key = new.to_string();
            }
        }
    }
    services.settings().save_profiles(&profiles)?;
    services
        .change_active(|active| {
            let Some(active) = active.as_mut() else {
                return;
            };
            if !same_service(&active.profile.provider, &journal.service) {
                return;
            }
            if active.profile.access_key == old {
                active.profile.access_key = new.to_string();
                active.secret = secret.clone();
                active.client = s3::client(&active.endpoint, new, secret);
            }
            let mut remembered = false;
            for key in active.profile.space_keys.values_mut() {
                if key.access_key == old {
                    key.access_key = new.to_string();
                    remembered = true;
                }
            }
            if remembered {
                active.space_secrets.insert(new.to_string(), secret.clone());
            }
            active.space_secrets.remove(old);
        })
        .await;
    services.log().write(format!(
        "moved every connection and Space that used the access key {old} to {new}"
    ));
    Ok(())
}

/// How the end of a rotation went.
enum Ended {
    Done,
    /// The old key may still open Spaces.
    NotRevoked(Error),
    /// The old key is revoked; tidying what the app remembers of it failed.
    Revoked(Error),
}

/// After the move: the old key is revoked (unless the account no longer has it) and forgotten,
/// the new one named as it was; then the journal is cleared.
async fn finish(
    services: &Services,
    manager: &Manager,
    active: &Active,
    journal: &Journal,
    new: &str,
) -> Ended {
    let listed = match listed_keys(manager, active).await {
        Ok(keys) => keys,
        Err(e) => return Ended::NotRevoked(e),
    };
    // The new key among this account's keys is what shows this is the rotation's account.
    if !listed.iter().any(|k| k.access_key == new) {
        return Ended::NotRevoked(Error::Gone(format!(
            "this connection's account does not list the new key {new}."
        )));
    }
    // Nothing may still use the old key when it goes: a move a crash or a race left short is
    // made again first.
    let still_used = match services.settings().profiles() {
        Ok(profiles) => !plan(&profiles, &journal.service, &journal.old).is_empty(),
        Err(e) => return Ended::NotRevoked(e),
    };
    if still_used {
        let moved = match secret_of(services, new) {
            Ok(secret) => move_onto(services, journal, new, &secret).await,
            Err(e) => Err(e),
        };
        if let Err(e) = moved {
            return Ended::NotRevoked(e);
        }
    }
    let still_there = listed.iter().any(|k| k.access_key == journal.old);
    if still_there {
        if let Err(e) = manager.revoke(active, &journal.old).await {
            return Ended::NotRevoked(e);
        }
    }
    let tidied = async {
        if let Manager::DigitalOcean(api) = manager {
            api.rename(new, &journal.name).await?;
        }
        services.keychain().delete(&key_account(&journal.old))?;
        let dates = services.settings().key_dates();
        services.settings().forget_key(&journal.old)?;
        services.settings().set_key_name(new, Some(&journal.name))?;
        if !dates.contains_key(new) {
            let now = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .ok();
            services.settings().set_key_date(new, now.as_deref())?;
        }
        write_journal(services, None)
    };
    if let Err(e) = tidied.await {
        return Ended::Revoked(e);
    }
    services.log().write(format!(
        "rotated the access key {} to {new}: the old key is revoked",
        journal.old
    ));
    Ended::Done
}

/// Before the move: the new key is revoked (unless the account no longer has it) and forgotten;
/// nothing else had changed.
async fn undo(
    services: &Services,
    manager: &Manager,
    active: &Active,
    journal: &Journal,
    new: &str,
) -> Result<()> {
    if new == journal.old {
        return Err(Error::Internal(
            "a rotation never revokes the key it replaces".into(),
        ));
    }
    if listed_keys(manager, active)
        .await?
        .iter()
        .any(|k| k.access_key == new)
    {
        manager.revoke(active, new).await?;
    }
    services.keychain().delete(&key_account(new))?;
    services.settings().forget_key(new)?;
    write_journal(services, None)?;
    services.log().write(format!(
        "the rotation of the access key {} was undone: the new key {new} is revoked",
        journal.old
    ));
    Ok(())
}

/// Revokes what was made under the rotation's name (an answer lost after the server made it).
async fn forget_made_as(
    services: &Services,
    manager: &Manager,
    active: &Active,
    journal: &Journal,
) -> Result<()> {
    let listed = listed_keys(manager, active).await?;
    for k in listed
        .iter()
        .filter(|k| k.access_key != journal.old && k.name == journal.made_as)
    {
        undo(services, manager, active, journal, &k.access_key).await?;
    }
    Ok(())
}

/// Before any connection opens: a move a quit or a crash interrupted is finished, so no saved
/// connection is left signing with a key whose secret was already replaced. Skipped while a
/// rotation runs in this app (it finishes its own).
pub async fn finish_interrupted_move(services: &Services) -> Result<()> {
    let Ok(_one_at_a_time) = services.key_rotation_lock().try_lock() else {
        return Ok(());
    };
    let Some(journal) = journal_of(services)? else {
        return Ok(());
    };
    if journal.step == Step::Moving {
        let new = journal
            .new
            .clone()
            .ok_or_else(|| Error::settings("the unfinished key rotation names no new key", None))?;
        move_onto(services, &journal, &new, &secret_of(services, &new)?).await?;
    }
    Ok(())
}

/// Once a connection of the rotation's service is open: before the move, the new key is revoked;
/// after it, the old one is. The connection that began it does this; so does any other of the
/// same service once that one is gone. Says what it did, or nothing when there was nothing to do.
pub async fn finish_interrupted(services: &Services) -> Result<Option<String>> {
    let Ok(_one_at_a_time) = services.key_rotation_lock().try_lock() else {
        return Ok(None);
    };
    let Some(journal) = journal_of(services)? else {
        return Ok(None);
    };
    let active = services.active().await?;
    let began_it = active.profile.id == journal.connection;
    let orphaned = services.settings().profile(&journal.connection)?.is_none()
        && same_service(&active.profile.provider, &journal.service);
    if !began_it && !orphaned {
        return Ok(None);
    }
    let manager = Manager::of(services, &active).await?;
    let listed = listed_keys(&manager, &active).await?;
    // Another connection of the service acts only for the same account: one whose keys include
    // the rotation's own (another account's, or another gateway user's, are never touched).
    let lists = |key: &str| listed.iter().any(|k| k.access_key == key);
    if !began_it && !lists(&journal.old) && !journal.new.as_deref().is_some_and(lists) {
        return Ok(None);
    }
    match journal.step {
        Step::Making => {
            let made: Vec<String> = match &journal.new {
                Some(new) => vec![new.clone()],
                // Made just before the crash, its access key never written down: the key named
                // as it was made, else the one key that was not there before (RGW keeps no
                // name for full keys). Anything less sure is left alone, and said.
                None => {
                    let named: Vec<String> = (listed.iter())
                        .filter(|k| k.access_key != journal.old && k.name == journal.made_as)
                        .map(|k| k.access_key.clone())
                        .collect();
                    // Only the connection that began it knows its `before` is its account's.
                    let unnamed_new: Vec<String> = (listed.iter())
                        .filter(|_| began_it)
                        .filter(|k| k.access_key != journal.old && k.name.is_empty())
                        .filter(|k| !journal.before.contains(&k.access_key))
                        .map(|k| k.access_key.clone())
                        .collect();
                    // A guess is never acted on: an unnamed key that was not there before may
                    // be one made since by hand. It is named, for the user to judge.
                    if named.is_empty() && !unnamed_new.is_empty() {
                        write_journal(services, None)?;
                        return Ok(Some(format!(
                            "An interrupted rotation of the key {} was undone. It may have made one of these unnamed keys before it stopped: {}. None was revoked; revoke it on the Access keys page if nothing uses it.",
                            journal.old,
                            unnamed_new.join(", ")
                        )));
                    }
                    named
                }
            };
            for new in &made {
                undo(services, &manager, &active, &journal, new).await?;
            }
            write_journal(services, None)?;
            Ok(Some(format!(
                "An interrupted rotation of the key {} was undone: everything still uses it.",
                journal.old
            )))
        }
        Step::Moving => {
            let new = journal.new.clone().ok_or_else(|| {
                Error::settings("the unfinished key rotation names no new key", None)
            })?;
            match finish(services, &manager, &active, &journal, &new).await {
                Ended::Done => Ok(Some(format!(
                    "An interrupted rotation of the key {} was finished: everything uses {new}, and the old key is revoked.",
                    journal.old
                ))),
                Ended::NotRevoked(e) | Ended::Revoked(e) => Err(e),
            }
        }
    }
}

/// What a rotation of a key would move, for the question asked before it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RotationPlan {
    /// Saved connections that sign with the key, by name.
    pub connections: Vec<String>,
    /// Spaces that remember the key.
    pub spaces: Vec<String>,
}

pub async fn would_move(services: &Services, access_key: &str) -> Result<RotationPlan> {
    let service = services.active().await?.profile.provider;
    Ok(plan(&services.settings().profiles()?, &service, access_key).shown())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::SpaceKey;
    use crate::keys::Grant;

    fn profile(
        id: &str,
        key: &str,
        space: Option<&str>,
        remembers: &[(&str, &str)],
    ) -> ConnectionProfile {
        ConnectionProfile {
            id: id.into(),
            name: format!("conn {id}"),
            provider: Provider::DigitalOcean {
                region: "ams3".into(),
            },
            access_key: key.into(),
            space: space.map(str::to_string),
            space_keys: remembers
                .iter()
                .map(|(s, k)| {
                    (
                        s.to_string(),
                        SpaceKey {
                            access_key: k.to_string(),
                            region: "fra1".into(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_new_key_is_tried_where_the_old_one_is_used_with_what_its_grant_allows() {
        let scope = Scope::Limited {
            grants: vec![
                Grant {
                    space: "a".into(),
                    permission: Permission::ReadWrite,
                },
                Grant {
                    space: "b".into(),
                    permission: Permission::Read,
                },
                Grant {
                    space: "c".into(),
                    permission: Permission::Read,
                },
            ],
        };
        let ams3 = Provider::DigitalOcean {
            region: "ams3".into(),
        };
        let profiles = [
            profile("1", "OLD", Some("a"), &[]),
            profile("2", "OWNER", None, &[("b", "OLD"), ("x", "OTHER")]),
        ];
        let got = trials(&profiles, &ams3, "OLD", &scope);
        assert_eq!(
            got,
            vec![
                Trial::Space {
                    space: "a".into(),
                    region: "ams3".into(),
                    write: true
                },
                Trial::Space {
                    space: "b".into(),
                    region: "fra1".into(),
                    write: false
                },
            ]
        );
        let moved = plan(&profiles, &ams3, "OLD");
        assert_eq!(moved.connections, vec![("1".into(), "conn 1".into())]);
        assert_eq!(moved.spaces, BTreeSet::from(["b".to_string()]));
        // Used nowhere: each granted Space, in the connection's region.
        let nyc3 = Provider::DigitalOcean {
            region: "nyc3".into(),
        };
        let got = trials(&[], &nyc3, "OLD", &scope);
        assert_eq!(got.len(), 3);
        assert!(got
            .iter()
            .all(|t| matches!(t, Trial::Space { region, .. } if region == "nyc3")));
        // A full key used by a connection without a Space lists Spaces.
        let full = trials(
            &[profile("3", "OLD", None, &[])],
            &nyc3,
            "OLD",
            &Scope::Full,
        );
        assert_eq!(full, vec![Trial::SpacesList]);
        assert_eq!(
            trials(&[], &nyc3, "OLD", &Scope::Full),
            vec![Trial::SpacesList]
        );
    }

    #[test]
    fn only_connections_of_the_same_service_move() {
        let gateway = |url: &str| Provider::Custom {
            endpoint: url.into(),
            signing_region: "us-east-1".into(),
            path_style: true,
        };
        let mut here = profile("1", "admin", None, &[("a", "admin")]);
        here.provider = gateway("https://s3.example.com/");
        let mut there = profile("2", "admin", None, &[("b", "admin")]);
        there.provider = gateway("https://s3.other.example");
        let moved = plan(&[here, there], &gateway("https://S3.example.com"), "admin");
        assert_eq!(moved.connections, vec![("1".into(), "conn 1".into())]);
        assert_eq!(moved.spaces, BTreeSet::from(["a".to_string()]));
        // DigitalOcean's keys are the account's in every region.
        assert!(same_service(
            &Provider::DigitalOcean {
                region: "ams3".into()
            },
            &Provider::DigitalOcean {
                region: "nyc3".into()
            }
        ));
        assert!(!same_service(
            &Provider::Sandbox,
            &gateway("http://127.0.0.1:1")
        ));
    }
}

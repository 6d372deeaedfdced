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
use crate::connection::{key_account, ConnectionProfile, Provider};
use crate::error::{Error, Result};
use crate::s3;
use crate::secret::Secret;
use crate::services::Services;

/// A new DigitalOcean key may take a moment to be accepted everywhere: a Space that refuses it
/// is tried again for this long before the rotation is given up. RGW's keys work at once.
const SETTLE: Duration = Duration::from_secs(30);

/// What a rotation did, for the keys page to say.
#[derive(Debug, Clone, Serialize, TS)]
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
    /// The old key was revoked. When not, `left` says why and what to do.
    pub old_revoked: bool,
    pub left: Option<String>,
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

fn plan(profiles: &[ConnectionProfile], old: &str) -> Plan {
    let mut plan = Plan::default();
    for p in profiles {
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
    old: &str,
    scope: &Scope,
    own_region: &str,
) -> Vec<Trial> {
    let write_in = |space: &str| match scope {
        Scope::Full => true,
        Scope::Limited { grants } => grants
            .iter()
            .any(|g| g.space == space && g.permission != Permission::Read),
    };
    let mut trials = BTreeSet::new();
    for p in profiles {
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
                        region: own_region.to_string(),
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
/// then the old key is revoked. Any failure before the move leaves everything as it was.
pub async fn rotate(services: &Services, access_key: &str) -> Result<RotatedKey> {
    let _one_at_a_time = services.key_rotation_lock().lock().await;
    if let Some(j) = journal_of(services)? {
        return Err(Error::InvalidInput(format!(
            "The rotation of {} is not finished yet. Open the connection that began it to finish it.",
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
    let spaces = match &manager {
        Manager::Rgw(_) => space_names(&active).await?,
        Manager::DigitalOcean(_) => Vec::new(),
    };
    let old = manager
        .list(&active, &spaces)
        .await?
        .into_iter()
        .find(|k| k.access_key == access_key)
        .ok_or_else(|| Error::Gone("That key is not among this account's keys.".into()))?;
    let name = match services.settings().key_names().remove(access_key) {
        Some(given) => given,
        None if !old.name.is_empty() => old.name.clone(),
        None => "Rotated key".to_string(),
    };
    let profiles = services.settings().profiles()?;
    let own_region = active.profile.provider.region_label();
    let trials = trials(&profiles, access_key, &old.scope, &own_region);

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
    };
    write_journal(services, Some(&journal))?;
    let made = manager
        .generate(&active, &journal.made_as, &old.scope)
        .await;
    let (mut key, secret) = match made {
        Ok(made) => made,
        Err(e) => {
            write_journal(services, None)?;
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
    let tried = match keep_and_try(services, &active, (&key, &secret), &trials, settle).await {
        Ok(tried) => tried,
        Err(e) => {
            let undone = undo(services, &manager, &active, &journal, &key.access_key).await;
            let undone = match undone {
                Ok(()) => "The new key was revoked; nothing else changed.".to_string(),
                Err(u) => format!("The new key could not be revoked ({u}); it is revoked the next time this connection opens."),
            };
            return Err(Error::InvalidInput(format!(
                "The key was not rotated: {e} {undone}"
            )));
        }
    };

    journal.step = Step::Moving;
    write_journal(services, Some(&journal))?;
    let plan = plan(&profiles, access_key);
    move_onto(services, access_key, &key.access_key, &secret).await?;

    // The old key opens nothing from here on, and the new one takes its name.
    let active = services.active().await?;
    let (old_revoked, left) = match Manager::of(services, &active).await {
        Ok(manager) => match finish(services, &manager, &active, &journal, &key.access_key).await {
            Ok(()) => (true, None),
            Err(e) => (false, Some(e)),
        },
        Err(e) => (false, Some(e)),
    };
    let left = left.map(|e| {
        format!(
            "Everything now uses the new key, but the old key {access_key} was not revoked: {e} It is tried again the next time this connection opens; you can also revoke it yourself."
        )
    });
    key.name = name;
    Ok(RotatedKey {
        old_access_key: access_key.to_string(),
        key,
        connections: plan.connections.into_iter().map(|(_, n)| n).collect(),
        spaces: plan.spaces.into_iter().collect(),
        tried,
        old_revoked,
        left,
    })
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

/// Every saved connection and remembered Space that used `old` now uses `new`, the connection in
/// use too. Written so that doing it twice is doing it once (a crash may repeat it).
async fn move_onto(services: &Services, old: &str, new: &str, secret: &Secret) -> Result<()> {
    let mut profiles = services.settings().profiles()?;
    for p in profiles.iter_mut() {
        if p.access_key == old {
            services.keychain().set(&p.keychain_account(), secret)?;
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

/// After the move: the old key is revoked and forgotten, the new one named as it was.
async fn finish(
    services: &Services,
    manager: &Manager,
    active: &Active,
    journal: &Journal,
    new: &str,
) -> Result<()> {
    match manager.revoke(active, &journal.old).await {
        Ok(()) => {}
        // Already revoked (by an earlier try, or by hand): what was wanted.
        Err(Error::Gone(_)) => {}
        Err(e) => return Err(e),
    }
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
    write_journal(services, None)?;
    services.log().write(format!(
        "rotated the access key {} to {new}: the old key is revoked",
        journal.old
    ));
    Ok(())
}

/// Before the move: the new key is revoked and forgotten; nothing else had changed.
async fn undo(
    services: &Services,
    manager: &Manager,
    active: &Active,
    journal: &Journal,
    new: &str,
) -> Result<()> {
    match manager.revoke(active, new).await {
        Ok(()) | Err(Error::Gone(_)) => {}
        Err(e) => return Err(e),
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

/// Before any connection opens: a move a quit or a crash interrupted is finished, so no saved
/// connection is left signing with a key whose secret was already replaced.
pub async fn finish_interrupted_move(services: &Services) -> Result<()> {
    let _one_at_a_time = services.key_rotation_lock().lock().await;
    let Some(journal) = journal_of(services)? else {
        return Ok(());
    };
    if journal.step == Step::Moving {
        let new = journal
            .new
            .clone()
            .ok_or_else(|| Error::settings("the unfinished key rotation names no new key", None))?;
        move_onto(services, &journal.old, &new, &secret_of(services, &new)?).await?;
    }
    Ok(())
}

/// Once the connection that began an interrupted rotation is open again: before the move, the
/// new key is revoked; after it, the old one is. Says what it did, or nothing when there was
/// nothing to do here.
pub async fn finish_interrupted(services: &Services) -> Result<Option<String>> {
    let _one_at_a_time = services.key_rotation_lock().lock().await;
    let Some(journal) = journal_of(services)? else {
        return Ok(None);
    };
    let active = services.active().await?;
    if active.profile.id != journal.connection {
        return Ok(None);
    }
    let manager = Manager::of(services, &active).await?;
    match journal.step {
        Step::Making => {
            // The new key may have been made before its access key was written down: it is
            // found by the name it was made under.
            let spaces = match &manager {
                Manager::Rgw(_) => space_names(&active).await?,
                Manager::DigitalOcean(_) => Vec::new(),
            };
            let listed = manager.list(&active, &spaces).await?;
            let made: BTreeSet<String> = listed
                .into_iter()
                .filter(|k| {
                    k.access_key != journal.old
                        && (Some(&k.access_key) == journal.new.as_ref()
                            || k.name == journal.made_as)
                })
                .map(|k| k.access_key)
                .collect();
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
            finish(services, &manager, &active, &journal, &new).await?;
            Ok(Some(format!(
                "An interrupted rotation of the key {} was finished: everything uses {new}, and the old key is revoked.",
                journal.old
            )))
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

pub fn would_move(services: &Services, access_key: &str) -> Result<RotationPlan> {
    let plan = plan(&services.settings().profiles()?, access_key);
    Ok(RotationPlan {
        connections: plan.connections.into_iter().map(|(_, n)| n).collect(),
        spaces: plan.spaces.into_iter().collect(),
    })
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
        let profiles = [
            profile("1", "OLD", Some("a"), &[]),
            profile("2", "OWNER", None, &[("b", "OLD"), ("x", "OTHER")]),
        ];
        let got = trials(&profiles, "OLD", &scope, "nyc3");
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
        let moved = plan(&profiles, "OLD");
        assert_eq!(moved.connections, vec![("1".into(), "conn 1".into())]);
        assert_eq!(moved.spaces, BTreeSet::from(["b".to_string()]));
        // Used nowhere: each granted Space, in the connection's region.
        let got = trials(&[], "OLD", &scope, "nyc3");
        assert_eq!(got.len(), 3);
        assert!(got
            .iter()
            .all(|t| matches!(t, Trial::Space { region, .. } if region == "nyc3")));
        // A full key used by a connection without a Space lists Spaces.
        let full = trials(
            &[profile("3", "OLD", None, &[])],
            "OLD",
            &Scope::Full,
            "nyc3",
        );
        assert_eq!(full, vec![Trial::SpacesList]);
        assert_eq!(
            trials(&[], "OLD", &Scope::Full, "nyc3"),
            vec![Trial::SpacesList]
        );
    }
}

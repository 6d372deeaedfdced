//! Rotating a key on the real RGW, and through the DigitalOcean FAKE (whose keys are made for
//! real on the sandbox, so they open its Spaces): a new key with the same grants takes the old
//! one's place in every saved connection and remembered Space, is tried first, and only then is
//! the old key revoked. A failure before the move, or a crash at any step, leaves a working state.

use spacedock::core::connection::service as connections;
use spacedock::core::error::ErrorKind;
use spacedock::core::keys::rotate::{self, Journal, Step};
use spacedock::core::keys::service as keys;
use spacedock::core::keys::{Grant, Permission, Scope};
use spacedock::core::s3;
use spacedock::core::secret::Secret;
use spacedock::core::services::Services;
use spacedock::core::space::{page, FileListing};
use spacedock_tests::fake_do_api::{FakeDigitalOceanApi, RealKeys};
use spacedock_tests::{admin, new_user, sandbox, unique, SandboxInfo, TestUser};

use crate::services::{draft, save_digitalocean, services};

/// A self-hosted RGW user with admin caps: it manages its own keys.
fn key_manager() -> TestUser {
    let user = new_user("rot-owner");
    admin(&[
        "caps",
        "add",
        "--uid",
        &user.uid,
        "--caps",
        "users=*;buckets=*;metadata=read",
    ]);
    user
}

/// Whether `access_key` (with `secret`) can list `space` on the sandbox.
async fn opens(sb: &SandboxInfo, access_key: &str, secret: &Secret, space: &str) -> bool {
    let client = s3::client(&sb.endpoint, access_key, secret);
    let listed = client.list_objects_v2().bucket(space).max_keys(1).send();
    listed.await.is_ok()
}

/// The journal a quit or a crash left in the settings.
fn left_by_a_crash(s: &Services, journal: &Journal) {
    let journal = serde_json::to_value(journal).expect("json");
    s.settings().set_key_rotation(journal).expect("journal");
}

/// The access keys the keys page lists once connection `id` has opened (and finished or undone
/// what a crash left).
async fn keys_once_opened(s: &Services, id: &str) -> Vec<String> {
    connections::connect(s, id).await.expect("connect");
    let listed = keys::list(s).await.expect("list").keys;
    listed.into_iter().map(|r| r.key.access_key).collect()
}

fn held(s: &Services, access_key: &str) -> Option<Secret> {
    s.keychain()
        .get(&format!("key:{access_key}"))
        .expect("keychain")
}

/// The owner's connection, a Space, and a limited key "client a" on it that the Space remembers
/// and that a saved connection "Client A" signs with. Connected as the owner again at the end.
async fn a_key_in_use(
    sb: &SandboxInfo,
    s: &Services,
) -> (String, String, String, String, TestUser) {
    let owner = key_manager();
    let saved = connections::save_connection(
        s,
        &draft(&sb.endpoint.url, "Owner", &owner.access_key, &owner.secret),
    )
    .expect("save");
    connections::connect(s, &saved.id).await.expect("connect");
    let space = unique("rot");
    page::create(s, &space, "us-east-1", FileListing::Restricted, None)
        .await
        .expect("create");
    let grants = vec![Grant {
        space: space.clone(),
        permission: Permission::ReadWrite,
    }];
    let made = keys::generate(s, "client a", &Scope::Limited { grants })
        .await
        .expect("generate");
    let old = made.key.access_key.clone();
    page::open_with_key(s, &space, None, Some(old.clone()))
        .await
        .expect("open with the key");
    let client_a = keys::connect_with(s, &old, "Client A", std::slice::from_ref(&space))
        .await
        .expect("a connection with the key");
    connections::connect(s, &saved.id).await.expect("connect");
    (saved.id, client_a.profile.id, space, old, owner)
}

#[tokio::test]
async fn a_rotated_key_is_replaced_everywhere_then_revoked() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let (owner_id, client_a, space, old, _owner) = a_key_in_use(&sb, &s).await;
    let old_secret = held(&s, &old).expect("held");

    let plan = rotate::would_move(&s, &old).await.expect("plan");
    assert_eq!(plan.connections, ["Client A"]);
    assert_eq!(plan.spaces, std::slice::from_ref(&space));

    let done = rotate::rotate(&s, &old, None).await.expect("rotate");
    let new = done.key.access_key.clone();
    assert_ne!(new, old);
    assert_eq!(done.key.name, "client a");
    assert_eq!(done.connections, ["Client A"]);
    assert_eq!(done.spaces, std::slice::from_ref(&space));
    assert_eq!(done.tried, std::slice::from_ref(&space));
    assert!(done.old_revoked && done.left.is_none(), "{done:?}");

    // The old key opens nothing; the new one opens the Space, and its secret is held.
    assert!(!opens(&sb, &old, &old_secret, &space).await);
    let new_secret = held(&s, &new).expect("the new key is in the keychain");
    assert!(opens(&sb, &new, &new_secret, &space).await);
    assert!(held(&s, &old).is_none());
    // Named as the old key was; the old one is forgotten.
    let names = s.settings().key_names();
    assert_eq!(names.get(&new).map(String::as_str), Some("client a"));
    assert!(!names.contains_key(&old));
    // The Space remembers the new key, in the settings and in the connection in use.
    let owner = s
        .settings()
        .profile(&owner_id)
        .expect("read")
        .expect("owner");
    assert_eq!(owner.space_keys[&space].access_key, new);
    let active = s.active().await.expect("connected");
    assert_eq!(active.profile.space_keys[&space].access_key, new);
    assert!(active.space_secrets.contains_key(&new) && !active.space_secrets.contains_key(&old));
    let opened = page::open(&s, &space, None)
        .await
        .expect("opens with the new key");
    assert_eq!(opened.opens_with.map(|k| k.access_key), Some(new.clone()));
    // The key's own connection signs with the new key and opens its Space.
    let a = s
        .settings()
        .profile(&client_a)
        .expect("read")
        .expect("kept");
    assert_eq!(a.access_key, new);
    connections::connect(&s, &client_a).await.expect("connect");
    page::open(&s, &space, None)
        .await
        .expect("Client A opens its Space");
    // The keys page lists the new key once, and no longer the old.
    connections::connect(&s, &owner_id).await.expect("connect");
    let listed = keys::list(&s).await.expect("list");
    let rows: Vec<_> = listed
        .keys
        .iter()
        .filter(|r| r.key.access_key == new || r.key.access_key == old)
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key.access_key, new);
    assert!(s.settings().key_rotation().is_none_or(|v| v.is_null()));
}

#[tokio::test]
async fn a_rotation_whose_new_key_fails_a_space_changes_nothing() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let (owner_id, client_a, space, old, _owner) = a_key_in_use(&sb, &s).await;
    // Another Space remembers the key, though its grant there was taken away: a new key with
    // the same grants can't open it, so the rotation must not go on.
    let other = unique("rot-other");
    page::create(&s, &other, "us-east-1", FileListing::Restricted, None)
        .await
        .expect("create");
    let mut owner = s
        .settings()
        .profile(&owner_id)
        .expect("read")
        .expect("owner");
    let mut remembered = owner.space_keys[&space].clone();
    remembered.access_key = old.clone();
    owner.space_keys.insert(other.clone(), remembered);
    s.settings().upsert_profile(owner.clone()).expect("save");
    let before = s.settings().profiles().expect("profiles");
    let names_before = s.settings().key_names();
    let keys_before: Vec<String> = keys::list(&s)
        .await
        .expect("list")
        .keys
        .into_iter()
        .map(|r| r.key.access_key)
        .collect();

    let e = rotate::rotate(&s, &old, None)
        .await
        .expect_err("not rotated");
    assert!(e.to_string().contains("not rotated"), "{e}");
    assert!(e.to_string().contains(&other), "names the Space: {e}");
    assert!(e.to_string().contains("nothing else changed"), "{e}");

    // Everything is as it was: the connections, the names, the keys on the server.
    assert_eq!(s.settings().profiles().expect("profiles"), before);
    assert_eq!(s.settings().key_names(), names_before);
    let keys_after: Vec<String> = keys::list(&s)
        .await
        .expect("list")
        .keys
        .into_iter()
        .map(|r| r.key.access_key)
        .collect();
    assert_eq!(keys_after, keys_before, "the new key was revoked");
    let secret = held(&s, &old).expect("still held");
    assert!(opens(&sb, &old, &secret, &space).await, "the old key works");
    connections::connect(&s, &client_a)
        .await
        .expect("Client A still connects");
    page::open(&s, &space, None)
        .await
        .expect("and opens its Space");
    assert!(s.settings().key_rotation().is_none_or(|v| v.is_null()));
}

#[tokio::test]
async fn a_rotation_a_crash_stopped_is_undone_before_the_move_and_finished_after_it() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let (owner_id, client_a, space, old, owner) = a_key_in_use(&sb, &s).await;
    let service = s.active().await.expect("connected").profile.provider;
    let grants = vec![Grant {
        space: space.clone(),
        permission: Permission::ReadWrite,
    }];

    // A crash just after the new key was made, before its access key was written down: the
    // key is found by the name it was made under, and revoked when the connection opens.
    let made_as = "client a (new, 0a1b2c)".to_string();
    let stray = keys::generate(
        &s,
        &made_as,
        &Scope::Limited {
            grants: grants.clone(),
        },
    )
    .await
    .expect("the key the crash left");
    s.settings()
        .set_key_name(&stray.key.access_key, None)
        .expect("as made by the rotation, unnamed here");
    let journal = Journal {
        connection: owner_id.clone(),
        old: old.clone(),
        name: "client a".into(),
        made_as,
        new: None,
        step: Step::Making,
        service: service.clone(),
        before: Vec::new(),
    };
    left_by_a_crash(&s, &journal);
    let listed = keys_once_opened(&s, &owner_id).await;
    assert!(!listed.contains(&stray.key.access_key) && listed.contains(&old));
    assert!(held(&s, &stray.key.access_key).is_none());
    assert!(s.settings().key_rotation().is_none_or(|v| v.is_null()));
    assert_eq!(
        s.settings()
            .profile(&client_a)
            .expect("read")
            .expect("kept")
            .access_key,
        old
    );

    // A crash in the middle of the move: it is finished before any connection opens (Client A's
    // here, which is not the one that began it), and the old key revoked once the owner's opens.
    let new = keys::generate(&s, "client a (new, 3d4e5f)", &Scope::Limited { grants })
        .await
        .expect("the tried key");
    let journal = Journal {
        new: Some(new.key.access_key.clone()),
        step: Step::Moving,
        made_as: "client a (new, 3d4e5f)".into(),
        ..journal
    };
    left_by_a_crash(&s, &journal);
    connections::connect(&s, &client_a)
        .await
        .expect("Client A connects");
    let active = s.active().await.expect("connected");
    assert_eq!(active.profile.access_key, new.key.access_key, "moved first");
    page::open(&s, &space, None)
        .await
        .expect("opens with the new key");
    assert!(
        s.settings().key_rotation().is_some_and(|v| !v.is_null()),
        "not yet revoked"
    );
    // Revoked by hand meanwhile (as a "not revoked" result suggests): finishing still ends.
    let by_hand = spacedock::core::keys::admin::Admin::new(
        &sb.endpoint.url,
        "us-east-1",
        &owner.access_key,
        &owner.secret,
    );
    let uid = by_hand.uid_of(&old).await.expect("uid");
    admin(&["key", "rm", "--uid", &uid, "--access-key", &old]);
    let listed = keys_once_opened(&s, &owner_id).await;
    assert!(!listed.contains(&old), "the old key is revoked");
    let owner = s
        .settings()
        .profile(&owner_id)
        .expect("read")
        .expect("owner");
    assert_eq!(owner.space_keys[&space].access_key, new.key.access_key);
    assert_eq!(
        s.settings()
            .key_names()
            .get(&new.key.access_key)
            .map(String::as_str),
        Some("client a")
    );
    assert!(s.settings().key_rotation().is_none_or(|v| v.is_null()));

    // A journal a newer version wrote (a field this one does not know) is never acted on.
    s.settings()
        .set_key_rotation(serde_json::json!({
            "connection": owner_id, "old": new.key.access_key, "name": "x", "madeAs": "x",
            "new": null, "step": "making", "fromTheFuture": true
        }))
        .expect("journal");
    let e = rotate::rotate(&s, &new.key.access_key, None)
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Settings, "{e}");
    s.settings()
        .set_key_rotation(serde_json::Value::Null)
        .expect("clear");

    // A rotation whose connection was deleted since: a connection of the same service undoes it.
    let read = vec![Grant {
        space: space.clone(),
        permission: Permission::Read,
    }];
    let orphaned = keys::generate(
        &s,
        "orphaned (new, 9f8e7d)",
        &Scope::Limited { grants: read },
    )
    .await
    .expect("the key it made");
    let journal = Journal {
        connection: "a-connection-deleted-since".into(),
        old: new.key.access_key.clone(),
        name: "client a".into(),
        made_as: "orphaned (new, 9f8e7d)".into(),
        new: Some(orphaned.key.access_key.clone()),
        step: Step::Making,
        service: service.clone(),
        before: Vec::new(),
    };
    left_by_a_crash(&s, &journal);
    let listed = keys_once_opened(&s, &owner_id).await;
    assert!(!listed.contains(&orphaned.key.access_key) && listed.contains(&new.key.access_key));
    assert!(s.settings().key_rotation().is_none_or(|v| v.is_null()));

    // A move that can't be finished (the new key's secret is gone from the keychain) never ends
    // with the old key revoked: what still uses it keeps working.
    let read = vec![Grant {
        space: space.clone(),
        permission: Permission::Read,
    }];
    let unheld = keys::generate(
        &s,
        "client a (new, 5a5a5a)",
        &Scope::Limited { grants: read },
    )
    .await
    .expect("a tried key");
    s.keychain()
        .delete(&format!("key:{}", unheld.key.access_key))
        .expect("lost");
    let stuck = Journal {
        connection: owner_id.clone(),
        old: new.key.access_key.clone(),
        name: "client a".into(),
        made_as: "client a (new, 5a5a5a)".into(),
        new: Some(unheld.key.access_key.clone()),
        step: Step::Moving,
        service: service.clone(),
        before: Vec::new(),
    };
    left_by_a_crash(&s, &stuck);
    let listed = keys_once_opened(&s, &owner_id).await;
    assert!(
        listed.contains(&new.key.access_key),
        "the key in use is not revoked"
    );
    assert_eq!(
        s.settings()
            .profile(&client_a)
            .expect("read")
            .expect("kept")
            .access_key,
        new.key.access_key
    );
    s.settings()
        .set_key_rotation(serde_json::Value::Null)
        .expect("clear");

    // An orphaned rotation of keys this account does not have (another account's, or another
    // user's of the gateway) is left alone: nothing is revoked or forgotten for it.
    let elsewhere = Journal {
        old: "AKOFANOTHERACCOUNT01".into(),
        new: Some("AKOFANOTHERACCOUNT02".into()),
        ..journal
    };
    left_by_a_crash(&s, &elsewhere);
    let listed = keys_once_opened(&s, &owner_id).await;
    assert!(
        s.settings().key_rotation().is_some_and(|v| !v.is_null()),
        "left for the account it is of"
    );
    s.settings()
        .set_key_rotation(serde_json::Value::Null)
        .expect("clear");

    // Stopped before it began: nothing is made, nothing moves.
    s.requests().cancel(4242);
    let e = rotate::rotate(&s, &new.key.access_key, Some(4242))
        .await
        .expect_err("stopped");
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    assert_eq!(keys::list(&s).await.expect("list").keys.len(), listed.len());
    assert!(s.settings().key_rotation().is_none_or(|v| v.is_null()));
}

/// On DigitalOcean (the FAKE API, whose keys are made for real on the sandbox): the connection's
/// own full-access key is rotated; the connection goes on with the new key, named as the old.
#[tokio::test]
async fn a_digitalocean_connections_own_key_is_rotated_through_the_api() {
    let sb = sandbox();
    let fake = FakeDigitalOceanApi::start();
    let owner_uid = spacedock::core::sandbox::OWNER_UID;
    // A new key of the sandbox's owner: the one its user did not have before.
    let make_key = move || -> (String, String) {
        let before =
            spacedock::core::sandbox::s3_keys(&admin(&["user", "info", "--uid", owner_uid]));
        let info = admin(&[
            "key",
            "create",
            "--uid",
            owner_uid,
            "--key-type",
            "s3",
            "--gen-access-key",
            "--gen-secret",
        ]);
        let made = spacedock::core::sandbox::s3_keys(&info)
            .into_iter()
            .find(|k| before.iter().all(|b| b.access_key != k.access_key))
            .expect("a new key");
        (made.access_key, made.secret.expose().to_string())
    };
    let (first, first_secret) = make_key();
    fake.add_real_key("good-token", &first, &first_secret, "agency");
    fake.make_keys_with(RealKeys {
        make: Box::new(move |_grants| make_key()),
        revoke: Box::new(move |ak| {
            admin(&["key", "rm", "--uid", owner_uid, "--access-key", ak]);
        }),
    });
    std::env::set_var("SPACEDOCK_DIGITALOCEAN_API", &fake.base);
    std::env::set_var("SPACEDOCK_DIGITALOCEAN_SPACES", &sb.endpoint.url);
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let saved = save_digitalocean(&s, "Agency", &first, &Secret::new(&first_secret));
    connections::connect(&s, &saved.id).await.expect("connect");
    keys::set_api_token(&s, &Secret::new("good-token"))
        .await
        .expect("token");

    let done = rotate::rotate(&s, &first, None).await.expect("rotate");
    let new = done.key.access_key.clone();
    assert_eq!(done.connections, ["Agency"]);
    assert_eq!(done.tried, ["the Spaces list"]);
    assert!(done.old_revoked, "{done:?}");
    // In DigitalOcean's account: the old key is gone, the new one carries the old name.
    let in_account = fake.keys();
    assert!(in_account.iter().all(|k| k["access_key"] != first.as_str()));
    let named = in_account.iter().find(|k| k["access_key"] == new.as_str());
    assert_eq!(named.expect("the new key")["name"], "agency");
    // The old key opens nothing on the Spaces endpoint; the connection goes on with the new one.
    let old_client = s3::client(&sb.endpoint, &first, &Secret::new(&first_secret));
    assert!(old_client.list_buckets().send().await.is_err());
    let active = s.active().await.expect("connected");
    assert_eq!(active.profile.access_key, new);
    connections::list_spaces(&s)
        .await
        .expect("lists with the new key");
    connections::connect(&s, &saved.id)
        .await
        .expect("connects again");
    connections::list_spaces(&s).await.expect("and lists");

    let _ = s
        .keychain()
        .delete(&format!("digitalocean-token:{}", saved.id));
    let _ = s.keychain().delete(&format!("connection:{}", saved.id));
    let _ = s.keychain().delete(&format!("key:{new}"));
    admin(&["key", "rm", "--uid", owner_uid, "--access-key", &new]);
    std::env::remove_var("SPACEDOCK_DIGITALOCEAN_API");
    std::env::remove_var("SPACEDOCK_DIGITALOCEAN_SPACES");
}

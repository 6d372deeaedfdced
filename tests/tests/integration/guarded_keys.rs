//! Keys that can do no more than they were given, and a sandbox no other local user can read.

use std::os::unix::fs::PermissionsExt;

use aws_sdk_s3::primitives::ByteStream;
use spacedock::core::error::ErrorKind;
use spacedock::core::keys::admin::Admin;
use spacedock::core::keys::rgw::RgwKeys;
use spacedock::core::keys::{policy, Grant, Permission, Scope};
use spacedock::core::s3;
use spacedock::core::space::{self, FileListing};
use spacedock_tests::{admin, new_user, sandbox, unique, SandboxInfo};

/// A new Space of the owner's, the key manager, and the owner's client.
async fn space_and_manager(sb: &SandboxInfo, prefix: &str) -> (String, Admin, aws_sdk_s3::Client) {
    let owner = s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret);
    let space = unique(prefix);
    space::create(&owner, &sb.endpoint.url, &space, FileListing::Restricted)
        .await
        .expect("create");
    (space, key_admin(sb), owner)
}

fn key_admin(sb: &SandboxInfo) -> Admin {
    Admin::new(
        &sb.endpoint.url,
        "us-east-1",
        &sb.admin_access_key,
        &sb.admin_secret,
    )
}

// 9. No key the keys page can make is an admin key: each gets 403 from /admin/user.
#[tokio::test]
async fn no_generated_key_can_read_other_keys() {
    let sb = sandbox();
    let (space, manager, owner) = space_and_manager(&sb, "no-admin").await;
    let keys = RgwKeys {
        admin: &manager,
        owner: &owner,
        endpoint: &sb.endpoint.url,
        owner_access_key: &sb.owner_access_key,
    };
    let mut made = vec![keys.generate("full", &Scope::Full).await.expect("full")];
    for permission in [
        Permission::Read,
        Permission::ReadWrite,
        Permission::FullAccess,
    ] {
        made.push(
            keys.generate(
                "limited",
                &Scope::Limited {
                    grants: vec![Grant {
                        space: space.clone(),
                        permission,
                    }],
                },
            )
            .await
            .expect("limited"),
        );
    }
    // The key manager itself may read users: the check below can tell.
    manager
        .user("spacedock-owner")
        .await
        .expect("the key manager reads users");
    let mut tried = vec![(sb.owner_access_key.clone(), sb.owner_secret.clone())];
    tried.extend(made.iter().map(|(k, s)| (k.access_key.clone(), s.clone())));
    for (access_key, secret) in &tried {
        let as_key = Admin::new(&sb.endpoint.url, "us-east-1", access_key, secret);
        let err = as_key
            .user("spacedock-owner")
            .await
            .expect_err("no admin rights");
        assert_eq!(err.kind(), ErrorKind::AccessDenied, "{access_key}: {err}");
        let err = as_key
            .uid_of(&made[1].0.access_key)
            .await
            .expect_err("no admin rights");
        assert_eq!(err.kind(), ErrorKind::AccessDenied, "{access_key}: {err}");
    }
    // The key manager's key is never listed among the keys.
    let listed = keys.list(std::slice::from_ref(&space)).await.expect("list");
    assert!(listed.iter().all(|k| k.access_key != sb.admin_access_key));
    assert!(listed.iter().any(|k| k.access_key == made[0].0.access_key));
    for (key, _) in &made {
        keys.delete(&key.access_key, std::slice::from_ref(&space))
            .await
            .expect("revoke");
    }
    // Nor can it be revoked through the keys page.
    let err = keys
        .delete(&sb.admin_access_key, std::slice::from_ref(&space))
        .await
        .expect_err("not this account's key");
    assert_eq!(err.kind(), ErrorKind::NotOwnKey);
}

// 10. Limited keys make no Spaces, and revoking one stops it at once.
#[tokio::test]
async fn limited_keys_make_no_spaces_and_stop_when_revoked() {
    let sb = sandbox();
    let (space, manager, owner) = space_and_manager(&sb, "limited-only").await;
    let keys = RgwKeys {
        admin: &manager,
        owner: &owner,
        endpoint: &sb.endpoint.url,
        owner_access_key: &sb.owner_access_key,
    };
    let (key, secret) = keys
        .generate(
            "no buckets",
            &Scope::Limited {
                grants: vec![Grant {
                    space: space.clone(),
                    permission: Permission::FullAccess,
                }],
            },
        )
        .await
        .expect("limited");
    let limited = s3::client(&sb.endpoint, &key.access_key, &secret);
    let own = unique("own");
    let made = limited.create_bucket().bucket(&own).send().await;
    assert!(made.is_err(), "a limited key made a Space of its own");
    assert!(owner.head_bucket().bucket(&own).send().await.is_err());
    limited
        .put_object()
        .bucket(&space)
        .key("a.txt")
        .body(ByteStream::from_static(b"a"))
        .send()
        .await
        .expect("the granted Space works");
    keys.delete(&key.access_key, std::slice::from_ref(&space))
        .await
        .expect("revoke");
    let after = limited
        .list_objects_v2()
        .bucket(&space)
        .send()
        .await
        .expect_err("a revoked key still lists");
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&after),
        Some("InvalidAccessKeyId"),
        "the key itself is gone"
    );
}

// 14. Two policy changes to one Space at once never lose a statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_grants_keep_every_statement() {
    let sb = sandbox();
    let owner = s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret);
    let space = unique("policy-race");
    space::create(&owner, &sb.endpoint.url, &space, FileListing::Restricted)
        .await
        .expect("create");
    let users: Vec<String> = (0..6).map(|_| new_user("race").uid).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for uid in users.clone() {
        let (owner, url, space) = (owner.clone(), sb.endpoint.url.clone(), space.clone());
        tasks.spawn(
            async move { policy::grant(&owner, &url, &space, &uid, Permission::Read).await },
        );
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("grant");
    }
    let granted = policy::grants_in(&owner, &sb.endpoint.url, std::slice::from_ref(&space))
        .await
        .expect("grants");
    assert_eq!(granted.len(), users.len(), "{granted:?}");
    // And revokes at once, too.
    let mut tasks = tokio::task::JoinSet::new();
    for uid in &users[2..] {
        let (owner, url, space, uid) = (
            owner.clone(),
            sb.endpoint.url.clone(),
            space.clone(),
            uid.clone(),
        );
        tasks.spawn(async move { policy::revoke(&owner, &url, &space, &uid).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("revoke");
    }
    let left = policy::grants_in(&owner, &sb.endpoint.url, std::slice::from_ref(&space))
        .await
        .expect("grants");
    let left: Vec<&str> = left.iter().map(|(u, _, _)| u.as_str()).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|u| users[..2].iter().any(|x| x == u)));
}

// 11. The cluster answers only those holding its keys, and its files are this user's alone.
#[test]
fn the_sandbox_cluster_needs_its_keys_and_is_private() {
    let sb = sandbox();
    let conf = sb.conf.to_string_lossy().to_string();
    let ceph = |keyring: &str| {
        std::process::Command::new("ceph")
            .args([
                "-c",
                &conf,
                "-k",
                keyring,
                "--connect-timeout",
                "10",
                "osd",
                "ls",
            ])
            .output()
            .expect("ceph")
    };
    let with_key = ceph(&sb.root.join("admin.keyring").to_string_lossy());
    assert!(with_key.status.success(), "{with_key:?}");
    let empty = tempfile::NamedTempFile::new().expect("empty keyring");
    let without = ceph(&empty.path().to_string_lossy());
    assert!(!without.status.success(), "RADOS answered without a key");
    let text = std::fs::read_to_string(&sb.conf).expect("conf");
    assert!(text.contains("auth cluster required = cephx"));
    assert!(!text.contains("required = none"));
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&sb.root), 0o700, "{}", sb.root.display());
    for dir in ["mon", "osd", "rgw", "log", "run"] {
        assert_eq!(mode(&sb.root.join(dir)), 0o700, "{dir}");
    }
    for file in ["admin.keyring", "rgw.keyring", "keyring", "cluster.json"] {
        assert_eq!(mode(&sb.root.join(file)), 0o600, "{file}");
    }
    let _ = admin(&["user", "list"]);
}

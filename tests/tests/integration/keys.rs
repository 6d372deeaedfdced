//! Access keys on the real RGW: generated through the Admin Ops API, limited by bucket policies.
//! The question they answer: can ClientA's key touch ClientB's Space? It must not.

use aws_sdk_s3::primitives::ByteStream;
use spacedock::core::error::ErrorKind;
use spacedock::core::keys::admin::Admin;
use spacedock::core::keys::rgw::RgwKeys;
use spacedock::core::keys::{Grant, Permission, Scope};
use spacedock::core::s3;
use spacedock::core::secret::Secret;
use spacedock::core::space::{self, FileListing};
use spacedock::core::spaces;
use spacedock_tests::{recording, sandbox, unique, SandboxInfo};

async fn space_with_a_file(sb: &SandboxInfo, owner: &aws_sdk_s3::Client, prefix: &str) -> String {
    let name = unique(prefix);
    space::create(owner, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("create");
    owner
        .put_object()
        .bucket(&name)
        .key("report.txt")
        .body(ByteStream::from_static(b"q3"))
        .send()
        .await
        .expect("put");
    name
}

fn as_key(sb: &SandboxInfo, access_key: &str, secret: &Secret) -> aws_sdk_s3::Client {
    s3::client(&sb.endpoint, access_key, secret)
}

/// The sandbox owner's S3 client, and the Admin Ops client of the key manager (as in the app).
fn owner_and_admin(sb: &SandboxInfo) -> (aws_sdk_s3::Client, Admin) {
    let owner = as_key(sb, &sb.owner_access_key, &sb.owner_secret);
    let admin = Admin::new(
        &sb.endpoint.url,
        "us-east-1",
        &sb.admin_access_key,
        &sb.admin_secret,
    );
    (owner, admin)
}

fn keys_of<'a>(
    sb: &'a SandboxInfo,
    owner: &'a aws_sdk_s3::Client,
    admin: &'a Admin,
) -> RgwKeys<'a> {
    RgwKeys {
        admin,
        owner,
        endpoint: &sb.endpoint.url,
        owner_access_key: &sb.owner_access_key,
    }
}

async fn can_list(c: &aws_sdk_s3::Client, space: &str) -> bool {
    c.list_objects_v2().bucket(space).send().await.is_ok()
}
async fn can_read(c: &aws_sdk_s3::Client, space: &str) -> bool {
    c.get_object()
        .bucket(space)
        .key("report.txt")
        .send()
        .await
        .is_ok()
}
async fn can_write(c: &aws_sdk_s3::Client, space: &str) -> bool {
    c.put_object()
        .bucket(space)
        .key("new.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .is_ok()
}
async fn can_delete(c: &aws_sdk_s3::Client, space: &str) -> bool {
    c.delete_object()
        .bucket(space)
        .key("report.txt")
        .send()
        .await
        .is_ok()
        && c.head_object()
            .bucket(space)
            .key("report.txt")
            .send()
            .await
            .is_err()
}

#[tokio::test]
async fn a_key_limited_to_one_space_cannot_touch_another() {
    let sb = sandbox();
    let (owner, admin) = owner_and_admin(&sb);
    let keys = keys_of(&sb, &owner, &admin);
    let a = space_with_a_file(&sb, &owner, "client-a").await;
    let b = space_with_a_file(&sb, &owner, "client-b").await;

    let (key, secret) = keys
        .generate(
            "Client A",
            &Scope::Limited {
                grants: vec![Grant {
                    space: a.clone(),
                    permission: Permission::ReadWrite,
                }],
            },
        )
        .await
        .expect("generate");
    let client_a = as_key(&sb, &key.access_key, &secret);
    assert!(
        can_list(&client_a, &a).await
            && can_read(&client_a, &a).await
            && can_write(&client_a, &a).await
    );
    assert!(
        !can_list(&client_a, &b).await,
        "ClientA lists ClientB's Space"
    );
    assert!(
        !can_read(&client_a, &b).await,
        "ClientA reads ClientB's file"
    );
    assert!(
        !can_write(&client_a, &b).await,
        "ClientA writes into ClientB's Space"
    );
    let err = spaces::open(&client_a, &sb.endpoint.url, &b)
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::AccessDenied);

    // Read/write may not change the Space's settings.
    let acl = client_a
        .put_bucket_acl()
        .bucket(&a)
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await;
    assert!(acl.is_err(), "a read/write key changed the Space's ACL");
    let pol = client_a.delete_bucket_policy().bucket(&a).send().await;
    assert!(pol.is_err(), "a read/write key removed the Space's policy");
    assert_eq!(
        space::file_listing(&owner, &sb.endpoint.url, &a)
            .await
            .expect("acl"),
        FileListing::Restricted
    );

    // Listed with its grant, read back from the Space's policy.
    let listed = keys.list(&[a.clone(), b.clone()]).await.expect("list");
    let found = listed
        .iter()
        .find(|k| k.access_key == key.access_key)
        .expect("listed");
    assert_eq!(found.name, "Client A");
    assert_eq!(
        found.scope,
        Scope::Limited {
            grants: vec![Grant {
                space: a.clone(),
                permission: Permission::ReadWrite
            }]
        }
    );

    // Revoked: it stops working at once.
    keys.delete(&key.access_key, &[a.clone(), b.clone()])
        .await
        .expect("delete");
    assert!(!can_list(&client_a, &a).await, "a revoked key still works");
    assert!(keys
        .list(std::slice::from_ref(&a))
        .await
        .expect("list")
        .iter()
        .all(|k| k.access_key != key.access_key));
    assert!(
        space::cors_rules(&owner, &sb.endpoint.url, &a)
            .await
            .is_ok(),
        "the owner keeps full use of the Space"
    );
}

#[tokio::test]
async fn a_read_key_reads_and_nothing_more() {
    let sb = sandbox();
    let (owner, admin) = owner_and_admin(&sb);
    let keys = keys_of(&sb, &owner, &admin);
    let a = space_with_a_file(&sb, &owner, "reader").await;
    let (key, secret) = keys
        .generate(
            "Auditor",
            &Scope::Limited {
                grants: vec![Grant {
                    space: a.clone(),
                    permission: Permission::Read,
                }],
            },
        )
        .await
        .expect("generate");
    let reader = as_key(&sb, &key.access_key, &secret);
    assert!(can_list(&reader, &a).await && can_read(&reader, &a).await);
    assert!(!can_write(&reader, &a).await, "a read key wrote");
    assert!(!can_delete(&reader, &a).await, "a read key deleted");
    keys.delete(&key.access_key, &[a]).await.expect("delete");
}

#[tokio::test]
async fn full_keys_and_clashing_policies() {
    let sb = sandbox();
    let (owner, admin) = owner_and_admin(&sb);
    let keys = keys_of(&sb, &owner, &admin);

    let (full, secret) = keys
        .generate("Deploys", &Scope::Full)
        .await
        .expect("full key");
    let deploys = as_key(&sb, &full.access_key, &secret);
    let made = unique("by-full-key");
    space::create(&deploys, &sb.endpoint.url, &made, FileListing::Restricted)
        .await
        .expect("a full key creates Spaces");
    keys.delete(&full.access_key, &[]).await.expect("revoke");
    assert!(
        deploys.list_buckets().send().await.is_err(),
        "a revoked full key still works"
    );

    // A Space with a hand-written policy can't also get limited keys.
    let custom = space_with_a_file(&sb, &owner, "own-policy").await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"public-report","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{custom}/report.txt"}}]}}"#
    );
    owner
        .put_bucket_policy()
        .bucket(&custom)
        .policy(policy)
        .send()
        .await
        .expect("policy");
    let err = keys
        .generate(
            "Clash",
            &Scope::Limited {
                grants: vec![Grant {
                    space: custom.clone(),
                    permission: Permission::Read,
                }],
            },
        )
        .await
        .expect_err("clash");
    assert_eq!(err.kind(), ErrorKind::SpaceHasPolicy, "{err}");
    assert!(
        keys.list(&[custom])
            .await
            .expect("list")
            .iter()
            .all(|k| k.name != "Clash"),
        "nothing half-made"
    );

    let wrong = Admin::new(
        &sb.endpoint.url,
        "us-east-1",
        &sb.owner_access_key,
        &Secret::new("wrong"),
    );
    let err = wrong.users().await.expect_err("wrong secret");
    assert_eq!(err.kind(), ErrorKind::WrongSecret, "{err}");
}

#[tokio::test]
async fn a_limited_key_opens_its_space_without_listing_spaces_or_reading_the_acl() {
    let sb = sandbox();
    let (owner, admin) = owner_and_admin(&sb);
    let keys = keys_of(&sb, &owner, &admin);
    let a = space_with_a_file(&sb, &owner, "opened").await;
    let b = space_with_a_file(&sb, &owner, "closed").await;
    let (key, secret) = keys
        .generate(
            "Client A reader",
            &Scope::Limited {
                grants: vec![Grant {
                    space: a.clone(),
                    permission: Permission::Read,
                }],
            },
        )
        .await
        .expect("generate");

    // How the app opens a Space with a limited key: HeadBucket, and nothing about other Spaces.
    let (client, sent) = recording(&as_key(&sb, &key.access_key, &secret));
    let listing = space::open(&client, &sb.endpoint.url, &a, true)
        .await
        .expect("the granted Space opens");
    assert_eq!(listing, None, "a limited key reads no file-listing setting");
    assert_eq!(sent.names(), ["HeadBucket"]);
    let err = space::open(&client, &sb.endpoint.url, &b, true)
        .await
        .expect_err("another Space is refused");
    assert_eq!(err.kind(), ErrorKind::AccessDenied);

    // Testing it as a connection limited to that Space: still no ListBuckets.
    let reach = spaces::test(&client, &sb.endpoint.url, Some(&a))
        .await
        .expect("test");
    assert_eq!(reach, spaces::Reach::CanOpenSpace { space: a.clone() });
    let names = sent.names();
    assert!(
        !names
            .iter()
            .any(|n| n == "ListBuckets" || n == "GetBucketAcl"),
        "a limited key was sent {names:?}"
    );

    // The owner's full key does read the setting, so the recording sees what is sent.
    let (owner_rec, owner_sent) = recording(&owner);
    let listing = space::open(&owner_rec, &sb.endpoint.url, &a, false)
        .await
        .expect("open");
    assert_eq!(listing, Some(FileListing::Restricted));
    assert_eq!(owner_sent.names(), ["HeadBucket", "GetBucketAcl"]);
    keys.delete(&key.access_key, &[a, b]).await.expect("delete");
}

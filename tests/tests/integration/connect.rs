//! Connecting and listing Spaces, through the same client and error mapping the app uses.

use spacedock::core::connection::{ConnectionDraft, Provider};
use spacedock::core::error::ErrorKind;
use spacedock::core::s3;
use spacedock::core::secret::Secret;
use spacedock::core::spaces::{self, Reach};
use spacedock_tests::{new_user, sandbox, unique};

#[tokio::test]
async fn owner_lists_the_spaces_it_created() {
    let sb = sandbox();
    let client = s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret);
    let name = unique("listed");
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");

    let listed = spaces::list(&client, &sb.endpoint.url, "local")
        .await
        .expect("list");
    let space = listed
        .iter()
        .find(|s| s.name == name)
        .expect("the new Space is listed");
    assert_eq!(space.region, "local");
    let created = space
        .created
        .as_deref()
        .expect("RGW reports a creation date");
    assert!(created.starts_with("20"), "RFC 3339 date, got {created}");
    let mut names: Vec<_> = listed.iter().map(|s| s.name.clone()).collect();
    let sorted = {
        let mut n = names.clone();
        n.sort();
        n
    };
    assert_eq!(names, sorted, "Spaces come sorted by name");
    names.retain(|n| n == &name);
    assert_eq!(names.len(), 1);

    let reach = spaces::test(&client, &sb.endpoint.url, None)
        .await
        .expect("test connection");
    assert!(
        matches!(reach, Reach::CanList { spaces } if spaces >= 1),
        "{reach:?}"
    );
}

#[tokio::test]
async fn a_new_user_sees_no_spaces_of_others() {
    let sb = sandbox();
    let user = new_user("empty");
    let client = s3::client(&sb.endpoint, &user.access_key, &user.secret);
    let listed = spaces::list(&client, &sb.endpoint.url, "local")
        .await
        .expect("list");
    assert!(
        listed.is_empty(),
        "a new user owns no Spaces, got {listed:?}"
    );
    assert_eq!(
        spaces::test(&client, &sb.endpoint.url, None)
            .await
            .expect("test")
            .sentence(),
        "Connected. This key can list Spaces; there are none yet."
    );
}

#[tokio::test]
async fn wrong_secret_is_named() {
    let sb = sandbox();
    let client = s3::client(
        &sb.endpoint,
        &sb.owner_access_key,
        &Secret::new("not-the-secret-0000000000000000000000000"),
    );
    let err = spaces::test(&client, &sb.endpoint.url, None)
        .await
        .expect_err("wrong secret must fail");
    assert_eq!(err.kind(), ErrorKind::WrongSecret, "{err}");
}

#[tokio::test]
async fn unknown_access_key_is_named() {
    let sb = sandbox();
    let client = s3::client(
        &sb.endpoint,
        "NOSUCHKEY00000000000",
        &Secret::new("whatever-secret"),
    );
    let err = spaces::list(&client, &sb.endpoint.url, "local")
        .await
        .expect_err("unknown key must fail");
    assert_eq!(err.kind(), ErrorKind::UnknownAccessKey, "{err}");
}

#[tokio::test]
async fn unreachable_endpoint_says_so_quickly() {
    // A port that was free a moment ago: nothing listens there.
    let endpoint = spacedock_tests::unreachable_endpoint();
    let client = s3::client(&endpoint, "AK", &Secret::new("SK"));
    let started = std::time::Instant::now();
    let err = spaces::test(&client, &endpoint.url, None)
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    // The network's own error is kept as the cause, for the log.
    assert!(std::error::Error::source(&err).is_some(), "{err:?}");
    // Retries back off, but a refused connection must not keep the user waiting long.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn malformed_endpoint_never_reaches_the_network() {
    let draft = ConnectionDraft {
        name: "x".into(),
        provider: Provider::Custom {
            endpoint: "127.0.0.1:7480".into(),
            signing_region: String::new(),
            path_style: true,
        },
        access_key: "AK".into(),
        secret: Secret::new("SK"),
        space: None,
    };
    let err = draft.validate().expect_err("no scheme");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_key_opens_its_own_space_by_name_and_not_anothers() {
    let sb = sandbox();
    let owner = s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret);
    let theirs = unique("theirs");
    owner
        .create_bucket()
        .bucket(&theirs)
        .send()
        .await
        .expect("create");

    let user = new_user("opener");
    let client = s3::client(&sb.endpoint, &user.access_key, &user.secret);
    let mine = unique("mine");
    client
        .create_bucket()
        .bucket(&mine)
        .send()
        .await
        .expect("create own");

    spaces::open(&client, &sb.endpoint.url, &mine)
        .await
        .expect("opens its own Space");
    let err = spaces::open(&client, &sb.endpoint.url, &theirs)
        .await
        .expect_err("another user's Space");
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    let err = spaces::open(&client, &sb.endpoint.url, &unique("nowhere"))
        .await
        .expect_err("no such Space");
    assert_eq!(err.kind(), ErrorKind::NoSuchSpace, "{err}");
}

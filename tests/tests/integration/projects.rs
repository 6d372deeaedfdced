//! The create wizard's DigitalOcean project, against the FAKE of its API (`/v2/projects`; the
//! real API can't be reached from here) with the sandbox as the Spaces endpoint: the Space is
//! created for real and put in the project chosen; a project that fails leaves it created.

use spacedock::core::connection::service as connections;
use spacedock::core::error::ErrorKind;
use spacedock::core::keys::service as keys;
use spacedock::core::secret::Secret;
use spacedock::core::space::{page, FileListing};
use spacedock_tests::fake_do_api::FakeDigitalOceanApi;
use spacedock_tests::{owner_client, sandbox, unique};

use crate::services::{save_digitalocean, services};

#[tokio::test]
async fn a_new_space_goes_in_the_project_chosen() {
    let sb = sandbox();
    let fake = FakeDigitalOceanApi::start();
    fake.add_key("good-token", &sb.owner_access_key, "owner");
    std::env::set_var("SPACEDOCK_DIGITALOCEAN_API", &fake.base);
    std::env::set_var("SPACEDOCK_DIGITALOCEAN_SPACES", &sb.endpoint.url);
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let saved = save_digitalocean(&s, "DigitalOcean", &sb.owner_access_key, &sb.owner_secret);
    connections::connect(&s, &saved.id).await.expect("connect");

    // Without a token: no projects, and the wizard says why.
    let options = page::create_options(&s).await.expect("options");
    assert!(options.projects.is_empty());
    assert!(options
        .projects_problem
        .as_deref()
        .is_some_and(|p| p.contains("API token")));

    keys::set_api_token(&s, &Secret::new("good-token"))
        .await
        .expect("token");
    let options = page::create_options(&s).await.expect("options");
    let names: Vec<_> = options.projects.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["Default Project", "my-web-api"],
        "the default first"
    );
    assert!(options.projects[0].is_default && options.projects_problem.is_none());
    let chosen = options.projects[1].id.clone();

    let space = unique("proj");
    let made = page::create(&s, &space, "nyc3", FileListing::Restricted, Some(&chosen))
        .await
        .expect("create");
    assert_eq!(made.name, space);
    assert_eq!(
        fake.assigned(),
        [(chosen.clone(), format!("do:space:{space}"))]
    );

    // A project that is not the account's: the Space is made all the same, and the error says
    // it and names what failed; nothing was assigned.
    let other = unique("proj-gone");
    let e = page::create(
        &s,
        &other,
        "nyc3",
        FileListing::Restricted,
        Some("no-such-project"),
    )
    .await
    .expect_err("not assigned");
    assert_eq!(e.kind(), ErrorKind::ProjectNotAssigned, "{e}");
    assert!(e.to_string().contains(&other), "{e}");
    let owner = owner_client(&sb);
    owner
        .head_bucket()
        .bucket(&other)
        .send()
        .await
        .expect("the Space was created");
    assert_eq!(fake.assigned().len(), 1);
    // The wizard's retry puts it in a real project.
    page::assign_to_project(&s, &other, &chosen)
        .await
        .expect("assigned");
    assert_eq!(fake.assigned()[1], (chosen, format!("do:space:{other}")));

    // Outside DigitalOcean a project is refused before anything is made.
    let root2 = tempfile::tempdir().expect("tempdir");
    let plain = crate::services::connected(&sb, root2.path(), &sb.endpoint.url).await;
    let third = unique("proj-rgw");
    let e = page::create(
        &plain,
        &third,
        "us-east-1",
        FileListing::Restricted,
        Some("x"),
    )
    .await
    .expect_err("no projects here");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(owner.head_bucket().bucket(&third).send().await.is_err());

    for name in [&space, &other] {
        owner
            .delete_bucket()
            .bucket(name)
            .send()
            .await
            .expect("tidy");
    }
    let _ = s
        .keychain()
        .delete(&format!("digitalocean-token:{}", saved.id));
    let _ = s.keychain().delete(&format!("connection:{}", saved.id));
    std::env::remove_var("SPACEDOCK_DIGITALOCEAN_API");
    std::env::remove_var("SPACEDOCK_DIGITALOCEAN_SPACES");
}

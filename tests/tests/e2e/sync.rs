//! Sync in the real window: a pair set up on the Sync page, its first plan shown and approved,
//! a file changed on both sides shown as a conflict and kept twice, and a folder gone (a disk
//! not mounted) shown as a failure, in red, with nothing done.

use super::*;
use harness::{body_of, put};

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_is_synced_both_ways_with_its_plan_shown_first() {
    let (home, app, client, space) = harness::on_sandbox_with_space("sync").await;
    let folder = home.path().join("Site");
    std::fs::create_dir_all(folder.join("css")).expect("folder");
    std::fs::write(folder.join("index.html"), b"<h1>hello</h1>").expect("index");
    std::fs::write(folder.join("css/site.css"), b"body{}").expect("css");
    std::fs::write(folder.join("notes.txt"), b"first").expect("notes");
    put(&client, &space, "from-the-space.txt", b"made elsewhere").await;

    app.click(Locator::Id("nav-sync")).await;
    app.wait_for(Locator::Id("no-pairs"), 20).await;
    app.click(Locator::Id("new-pair")).await;
    app.type_into("pair-folder", &folder.to_string_lossy())
        .await;
    app.click(Locator::XPath(&format!(
        "//select[@id='pair-space']/option[@value='{space}']"
    )))
    .await;
    app.click(Locator::Id("way-twoWay")).await;
    app.shot("70-sync-new-pair").await;
    app.click(Locator::Id("save-pair")).await;
    app.wait_for(Locator::Css("li.pair"), 20).await;

    // The first plan waits for approval, and says what it will do.
    app.click(Locator::Css("li.pair button[data-action='plan']"))
        .await;
    app.wait_for(Locator::Id("plan-approval"), 60).await;
    assert_eq!(
        app.text(Locator::Css("[data-count='uploads']")).await,
        "3 files"
    );
    assert_eq!(
        app.text(Locator::Css("[data-count='downloads']")).await,
        "1 file"
    );
    app.click(Locator::Id("plan-files-toggle")).await;
    app.wait_for(
        Locator::Css("#plan-files tr[data-path='css/site.css'][data-action='upload']"),
        10,
    )
    .await;
    app.shot("71-sync-first-plan").await;
    assert_eq!(app.text(Locator::Id("run-sync")).await, "Approve and sync");
    app.click(Locator::Id("run-sync")).await;
    let done = app.wait_for(Locator::Id("sync-outcome"), 120).await;
    let said = done.text().await.expect("outcome");
    assert!(said.contains("3 uploaded, 1 downloaded"), "{said}");
    assert_eq!(
        body_of(&client, &space, "css/site.css").await.as_deref(),
        Some(&b"body{}"[..])
    );
    assert_eq!(
        std::fs::read(folder.join("from-the-space.txt")).expect("down"),
        b"made elsewhere"
    );
    app.wait_for(Locator::Css("li.pair .okText"), 10).await;

    // Changed on both sides: the plan says so, and both copies are kept.
    std::fs::write(folder.join("notes.txt"), b"mine").expect("edit");
    put(&client, &space, "notes.txt", b"theirs").await;
    app.click(Locator::Css("li.pair button[data-action='plan']"))
        .await;
    app.wait_for(Locator::Css("#plan-counts tr.attention"), 60)
        .await;
    assert_eq!(
        app.text(Locator::Css("[data-count='conflicts']")).await,
        "1 file"
    );
    app.click(Locator::Id("plan-files-toggle")).await;
    app.wait_for(
        Locator::Css("#plan-files tr[data-path='notes.txt'][data-action='conflict']"),
        10,
    )
    .await;
    app.shot("72-sync-conflict-plan").await;
    assert_eq!(app.text(Locator::Id("run-sync")).await, "Sync now");
    app.click(Locator::Id("run-sync")).await;
    let done = app.wait_for(Locator::Id("sync-outcome"), 120).await;
    let said = done.text().await.expect("outcome");
    assert!(said.contains("1 conflict kept"), "{said}");
    assert_eq!(
        std::fs::read(folder.join("notes.txt")).expect("notes"),
        b"theirs"
    );
    let copy = std::fs::read_dir(&folder)
        .expect("list")
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("notes (conflict ")
        })
        .expect("the folder's copy is kept beside it");
    assert_eq!(std::fs::read(copy.path()).expect("copy"), b"mine");
    app.shot("73-sync-conflict-kept").await;

    // The folder gone (its disk not mounted): nothing is done, and the pair is red.
    std::fs::rename(&folder, home.path().join("Site-away")).expect("away");
    app.click(Locator::Css("li.pair button[data-action='plan']"))
        .await;
    let err = app.wait_for(Locator::Id("plan-error"), 60).await;
    assert!(err.text().await.expect("error").contains("mounted"));
    app.wait_for(Locator::Css("li.pair.failed"), 10).await;
    app.shot("74-sync-failure").await;
    assert!(
        body_of(&client, &space, "index.html").await.is_some(),
        "nothing deleted"
    );
    app.quit().await;
}

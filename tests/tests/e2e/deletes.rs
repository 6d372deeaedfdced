//! Deleting a big folder in the real window: its progress, a Stop that leaves exactly what was
//! not yet deleted, and a second delete that takes the rest; then a delete the app is killed
//! during, offered at the next start and finished with Resume.

use super::*;

async fn count_below(client: &aws_sdk_s3::Client, space: &str, prefix: &str) -> u64 {
    let mut pages = (client.list_objects_v2().bucket(space).prefix(prefix))
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        n += page.expect("list").contents().len() as u64;
    }
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn a_big_folder_delete_shows_progress_and_stops_when_asked() {
    let (home, app, client, space) = harness::on_sandbox_with_space("deletes").await;
    // The folder's marker and 5,000 files in it; and 4,000 in another.
    let keys: Vec<String> = std::iter::once("many/".to_string())
        .chain((0..5000).map(|i| format!("many/{i:05}.txt")))
        .chain((0..4000).map(|i| format!("more/{i:05}.txt")))
        .collect();
    spacedock_tests::put_many(&client, &space, &keys).await;
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;
    let delete_folder = async |app: &App, folder: &str| {
        let checkbox = format!("[data-key='{folder}'] input[type='checkbox']");
        app.wait_for(Locator::Css(&checkbox), 20).await;
        app.click(Locator::Css(&checkbox)).await;
        app.click(Locator::Id("bulk-delete")).await;
        app.click(Locator::Id("bulk-delete-confirm")).await;
    };
    // Stop is pressed by the page itself once the first files are gone: a click over WebDriver
    // can come after a fast sandbox has deleted all 5,001.
    let stop_at_once = "new MutationObserver((_, seen) => { \
        const so_far = document.getElementById('bulk-delete-progress'); \
        if (so_far && /[1-9]/.test(so_far.textContent)) { seen.disconnect(); document.getElementById('bulk-delete-stop').click(); } \
        }).observe(document.body, { childList: true, subtree: true, characterData: true });";
    app.client
        .execute(stop_at_once, vec![])
        .await
        .expect("stop at once");
    delete_folder(&app, "many/").await;
    let said = app
        .wait_for(
            Locator::XPath("//p[@id='bulk-message'][starts-with(., 'Stopped: deleted ')]"),
            30,
        )
        .await
        .text()
        .await
        .expect("text");
    app.shot("91-delete-stopped").await;
    let deleted: u64 = said
        .trim_start_matches("Stopped: deleted ")
        .split(' ')
        .next()
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("a count in “{said}”"));
    assert!(deleted > 0 && deleted < 5001, "stopped half way: {said}");
    assert_eq!(
        count_below(&client, &space, "many/").await,
        5001 - deleted,
        "exactly what it said it did not delete is still there"
    );

    // Deleted again, to the end.
    delete_folder(&app, "many/").await;
    // Whatever shows now (the progress, unless the sandbox is done already): nothing waits on it.
    app.shot("90-delete-progress").await;
    app.wait_for(
        Locator::XPath("//p[@id='bulk-message'][starts-with(., 'Deleted ')]"),
        60,
    )
    .await;
    assert_eq!(count_below(&client, &space, "many/").await, 0);

    // Killed once the first thousand are gone: the next start offers the rest, Resume ends it.
    delete_folder(&app, "more/").await;
    let started = Instant::now();
    while count_below(&client, &space, "more/").await == 4000 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing deleted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    home.kill_app();
    drop(app);
    // Started again (with the sandbox, which went with the app).
    let app = App::launch(&home, &["--sandbox"]).await;
    let row =
        "//section[@id='interrupted-transfers']//li[span[contains(@class, 'dir')][contains(., 'Delete')]]";
    app.wait_for(Locator::XPath(row), 180).await;
    assert!(
        count_below(&client, &space, "more/").await > 0,
        "killed too late"
    );
    app.shot("92-interrupted-delete").await;
    app.click(Locator::XPath(&format!("{row}//button[.='Resume']")))
        .await;
    app.wait_for(Locator::XPath(&format!("{row}[@data-state='done']")), 120)
        .await;
    app.shot("93-resumed-delete").await;
    assert_eq!(count_below(&client, &space, "more/").await, 0);
    drop(home);
}

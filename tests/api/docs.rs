//! The API reference page (`/docs`), as a person sees it: headless Chromium (Debian's,
//! installed by `make test`) loads it from the local server, Swagger UI (from npm, served
//! by the server, no CDN) renders `/openapi.json`, and every operation is listed.

use crate::common::TestApp;
use sqlx::PgPool;
use std::process::Command;
use tucano_shared::routes::ROUTES;

fn chromium() -> &'static str {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("Chromium is needed for this test: `make test` installs Debian's chromium package")
}

#[sqlx::test(migrations = "./migrations")]
async fn the_reference_page_lists_every_operation_in_a_real_browser(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let url = format!("{}/docs", app.base);
    let browser = chromium();
    let profile = std::env::temp_dir().join(format!("tucano-chromium-{}", uuid::Uuid::new_v4()));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                // Nothing but the local server: every other host resolves to nothing.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=20000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(&url)
            .output()
            .map(|out| {
                let _ = std::fs::remove_dir_all(&profile);
                out
            })
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("Tucano API"), "the document's title is shown");
    for route in ROUTES {
        let shown = format!(r#"class="opblock-summary-path" data-path="{}""#, route.path);
        assert!(dom.contains(&shown), "{} {} is listed", route.method, route.path);
    }
}

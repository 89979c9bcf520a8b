//! Headless Chromium, as Debian packages it (`apt-get install chromium`;
//! scripts/services.sh installs it).

use std::process::Command;

pub fn binary() -> String {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {candidate}")])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return candidate.to_owned();
        }
    }
    panic!(
        "Chromium is not installed; run scripts/services.sh (it installs Debian's chromium) and re-run the tests"
    );
}

/// Loads `url` and returns the DOM after rendering.
pub fn dump_dom(url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("pse-chromium-{}", uuid::Uuid::new_v4()));
    let output = Command::new(binary())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

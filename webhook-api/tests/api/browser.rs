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

/// Runs headless Chromium once with its own throw-away profile.
fn chromium(args: &[String]) -> std::process::Output {
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
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn temp_page(html: &str) -> std::path::PathBuf {
    let file = std::env::temp_dir().join(format!("pse-page-{}.html", uuid::Uuid::new_v4()));
    std::fs::write(&file, html).expect("write page");
    file
}

/// Lays `html` out in a `width`-pixel-wide window, runs `script` after it (the
/// page itself has no scripts; this one only measures) and returns the text the
/// script left in `<pre id="measure">`.
pub fn measure(html: &str, width: u32, script: &str) -> String {
    let file = temp_page(&html.replace("</body>", &format!("<script>{script}</script></body>")));
    let output = chromium(&[
        format!("--window-size={width},900"),
        "--dump-dom".to_owned(),
        format!("file://{}", file.display()),
    ]);
    let _ = std::fs::remove_file(&file);
    let dom = String::from_utf8_lossy(&output.stdout);
    let open = "<pre id=\"measure\">";
    let start = dom.find(open).unwrap_or_else(|| {
        panic!(
            "no measurement: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    }) + open.len();
    let end = dom[start..].find("</pre>").expect("end of measurement") + start;
    dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Saves a `width` × `height` screenshot of `html` to `target/screenshots/<name>.png`
/// for a person to look at (the assertions use [`measure`]).
pub fn screenshot(html: &str, width: u32, height: u32, name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let file = temp_page(html);
    let png = dir.join(format!("{name}.png"));
    chromium(&[
        format!("--window-size={width},{height}"),
        format!("--screenshot={}", png.display()),
        format!("file://{}", file.display()),
    ]);
    let _ = std::fs::remove_file(&file);
    png
}

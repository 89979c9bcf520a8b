//! A finance analyst's day in real headless Chromium, driven over the DevTools protocol
//! (`cdp.rs`): sign in through the form, read the day's report, search an order, open its
//! evidence, resolve an exception through the form and read the result back from the DOM.
//! Screenshots of each page go to `target/console-screenshots/`.

use serde_json::Value;
use shared::testing::FINANCE_KEY;

use crate::cdp::Browser;
use crate::helpers::*;
use crate::reports::{DAY, business_day};

/// After layout: cells whose text breaks over more than one line (amounts, numbers,
/// badges, headers, dates, details), and whether the page is wider than the window (wide
/// tables must scroll inside their own box).
const WRAPPING: &str = r#"(function () {
  function wraps(el) {
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (var n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim()) continue;
      var range = document.createRange();
      range.selectNodeContents(n);
      if (range.getClientRects().length > 1) return true;
    }
    return false;
  }
  var cells = Array.from(document.querySelectorAll('td.amount, td.num, .badge, th, td.nowrap, td.detail, td.mono'))
    .filter(function (c) { return c.textContent.trim() !== ''; });
  return JSON.stringify({
    amounts: document.querySelectorAll('td.amount').length,
    wrapped: cells.filter(wraps).map(function (c) { return c.textContent; }),
    page_overflows: document.documentElement.scrollWidth > window.innerWidth
  });
})()"#;

fn layout(b: &mut Browser) -> Value {
    serde_json::from_str(b.eval(WRAPPING).as_str().unwrap()).unwrap()
}

fn assert_readable(b: &mut Browser, page: &str) {
    let l = layout(b);
    assert_eq!(l["wrapped"], serde_json::json!([]), "{page}: {l}");
    assert_eq!(l["page_overflows"], false, "{page}: {l}");
}

/// Multi-threaded: the browser is driven with blocking calls, and the server's tasks
/// spawned on the test's runtime must keep running meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finance_analyst_works_the_day_in_headless_chromium() {
    let app = spawn_app().await;
    let ids = business_day(&app);
    let late = ids["late_success"];
    let shots =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    let mut b = Browser::launch(1400, 900);

    // Signed out: the console sends the browser to its sign-in page.
    let url = b.goto(&app.url("/console/"));
    assert!(url.ends_with("/console/login"), "{url}");
    b.screenshot(&shots, "01-login");
    // A merchant key is refused with a message on the page.
    b.eval(&format!(
        "document.getElementById('key').value = {}",
        serde_json::json!(shared::testing::MERCHANT_KEY)
    ));
    b.navigate_by("document.querySelector('form button[type=submit]').click()");
    let refused = b.eval("document.getElementById('login-error').textContent");
    assert!(
        refused.as_str().unwrap().contains("merchant key"),
        "{refused}"
    );
    b.screenshot(&shots, "02-login-merchant-refused");
    b.eval(&format!(
        "document.getElementById('key').value = {}",
        serde_json::json!(FINANCE_KEY)
    ));
    let url = b.navigate_by("document.querySelector('form button[type=submit]').click()");
    assert!(url.ends_with("/console/"), "{url}");
    // The Secure cookie was kept over http://127.0.0.1 (a secure context) and sent back;
    // scripts cannot read it (HttpOnly).
    assert_eq!(
        b.eval("document.getElementById('signed-in-as').textContent"),
        "finance:ana"
    );
    assert_eq!(b.eval("document.cookie"), "");

    // The day's report, with the same totals as the HTML report.
    b.goto(&app.url(&format!("/console/?day={DAY}")));
    let dom = b.dom();
    assert!(dom.contains("id=\"business-date\">2026-11-20<"));
    assert!(dom.contains("data-provider=\"total\" data-metric=\"paid.count\">3<"));
    assert!(dom.contains(">$ 200.000</td>"), "Colombian pesos");
    assert!(dom.contains("<svg id=\"chart\"") && dom.contains("id=\"chart-axis-label\""));
    assert!(
        dom.contains("href=\"?day=2026-11-19\""),
        "previous day in the console"
    );
    assert_readable(&mut b, "report");
    b.screenshot(&shots, "03-report");
    // The day picker is a plain GET form.
    b.eval("document.getElementById('day').value = '2026-11-19'");
    let url = b.navigate_by("document.querySelector('form.day-picker button').click()");
    assert!(url.ends_with("/console/?day=2026-11-19"), "{url}");

    // Search by provider payment id, then open the order's evidence.
    b.goto(&app.url("/console/orders"));
    b.eval("document.getElementById('q').value = 'pay-ORD-E'");
    let url = b.navigate_by("document.querySelector('form[role=search] button').click()");
    assert!(url.ends_with("/console/orders?q=pay-ORD-E"), "{url}");
    let found = b.eval("Array.from(document.querySelectorAll('#results tbody tr')).map(r => r.cells[0].textContent + '|' + r.cells[4].textContent + '|' + r.cells[5].textContent)");
    assert_eq!(found, serde_json::json!(["ORD-E|needs_review|$ 70.000"]));
    assert_readable(&mut b, "orders");
    b.screenshot(&shots, "04-orders-search");
    // By PSE CUS too (every fixture order has the same one).
    b.goto(&app.url("/console/orders?q=3052043"));
    assert!(
        b.eval("document.querySelectorAll('#results tbody tr').length")
            .as_u64()
            .unwrap()
            >= 9
    );
    b.goto(&app.url("/console/orders?q=ORD-E"));
    let url = b.navigate_by("document.querySelector('a.evidence').click()");
    assert!(url.ends_with("/console/orders/ORD-E/evidence"), "{url}");
    let h1 = b.eval("document.querySelector('h1').textContent");
    assert_eq!(h1, "Evidence for order ORD-E");
    b.screenshot(&shots, "05-evidence");

    // The queue: open first; resolve the late success through its form.
    b.goto(&app.url("/console/exceptions"));
    let order = b.eval("Array.from(document.querySelectorAll('#queue tbody tr')).map(r => r.classList.contains('open'))");
    assert_eq!(order, serde_json::json!([true, true, true]));
    assert_readable(&mut b, "exceptions");
    b.screenshot(&shots, "06-exceptions-open");
    b.goto(&app.url("/console/exceptions?provider=tpaga"));
    assert_eq!(
        b.eval("document.querySelectorAll('#queue tbody tr').length"),
        2
    );
    b.eval(&format!(
        "document.getElementById('note-{late}').value = 'Refund issued to the payer, ticket 4411'"
    ));
    let url = b.navigate_by(&format!(
        "document.querySelector('#exception-{late} form.resolve button').click()"
    ));
    assert!(
        url.ends_with(&format!(
            "/console/exceptions?provider=tpaga#exception-{late}"
        )),
        "{url}"
    );
    let row = b.eval(&format!(
        "document.getElementById('exception-{late}').textContent"
    ));
    let row = row.as_str().unwrap();
    assert!(row.contains("finance:ana"), "{row}");
    assert!(
        row.contains("Refund issued to the payer, ticket 4411"),
        "{row}"
    );
    assert_eq!(
        b.eval(&format!(
            "document.querySelector('#exception-{late} form') === null"
        )),
        true
    );
    b.goto(&app.url("/console/exceptions"));
    let order = b.eval("Array.from(document.querySelectorAll('#queue tbody tr')).map(r => r.classList.contains('open'))");
    assert_eq!(
        order,
        serde_json::json!([true, true, false]),
        "resolved last"
    );
    assert_readable(&mut b, "exceptions after");
    b.screenshot(&shots, "07-exceptions-resolved");

    // Signing out ends the session in this browser.
    let url = b.navigate_by("document.querySelector('form.signout button').click()");
    assert!(url.ends_with("/console/login"), "{url}");
    let url = b.goto(&app.url("/console/exceptions"));
    assert!(url.ends_with("/console/login"), "{url}");
}

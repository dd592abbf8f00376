//! Self-contained HTML reports: one file each, styles and scripts inline, nothing fetched,
//! so a report opens offline and can be mailed or attached to a CI run.
//!
//! [`run`] draws one run as a space-time diagram from its trace; [`sweep`] plots a sweep's
//! metrics. Both mark what a test needs with `data-*` attributes (lanes, arrows shown,
//! plots), so a browser check can count exactly what the page shows.

pub mod run;
pub mod sweep;

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The styles both reports share.
const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
code,pre{font-family:ui-monospace,monospace;font-size:12px}pre{white-space:pre-wrap;background:#f7f7f7;padding:6px}\
.bad{color:#b00020;font-weight:bold}.ok{color:#176f2c;font-weight:bold}\
svg text{font:11px system-ui,sans-serif}";

/// A whole page: `body` inside, `style` and `script` inline after the shared styles.
pub fn page(title: &str, attrs: &str, style: &str, body: &str, script: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><style>{STYLE}{style}</style></head>\n<body {attrs}>\n{body}\n\
         <script>{script}</script>\n</body></html>\n",
        escape(title)
    )
}

/// Write `html` to `path`; the error as text.
pub fn write(path: &std::path::Path, html: &str) -> Result<(), String> {
    std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

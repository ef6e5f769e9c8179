//! The reference pages (`docs/unified-interface.md` section 8): compiled
//! into the binary from `pages/`, or read from the configured `pages_dir`,
//! each with the security headers.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The compiled-in pages: the path served, its content type, its bytes.
/// A path not in this table is 404.
const BUILT_IN: &[(&str, &str, &[u8])] = &[
    ("/", HTML, include_bytes!("../../../pages/index.html")),
    ("/counter/", HTML, include_bytes!("../../../pages/counter/index.html")),
    ("/counter/counter.js", JS, include_bytes!("../../../pages/counter/counter.js")),
    ("/counter/counter.css", CSS, include_bytes!("../../../pages/counter/counter.css")),
    ("/kiosk/", HTML, include_bytes!("../../../pages/kiosk/index.html")),
    ("/kiosk/kiosk.js", JS, include_bytes!("../../../pages/kiosk/kiosk.js")),
    ("/kiosk/kiosk.css", CSS, include_bytes!("../../../pages/kiosk/kiosk.css")),
    ("/common/bridge.js", JS, include_bytes!("../../../pages/common/bridge.js")),
    ("/common/errors.js", JS, include_bytes!("../../../pages/common/errors.js")),
    ("/common/style.css", CSS, include_bytes!("../../../pages/common/style.css")),
];

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// A file of `pages_dir` larger than this is not served.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Where the pages come from.
#[derive(Debug, Clone)]
pub enum Pages {
    BuiltIn,
    /// A directory, canonical (checked at start).
    Dir(PathBuf),
}

/// The headers every page carries: a strict Content-Security-Policy whose
/// `connect-src` is this bridge's WebSocket, and no sniffing, referrer or
/// caching. `ws://[::1]:PORT` is not listed: CSP's host grammar has no IPv6
/// literal (Chromium reports the source as invalid and ignores it), and
/// `'self'` already allows the page's own host and port over `ws:`.
pub fn security_headers(port: u16) -> HeaderMap {
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' ws://127.0.0.1:{port} ws://localhost:{port}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    let mut headers = HeaderMap::new();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers
}

fn not_found(headers: HeaderMap) -> Response {
    (StatusCode::NOT_FOUND, headers, "not found\n").into_response()
}

/// The page at `path` (the request's path, without the query).
pub async fn serve(pages: &Pages, port: u16, path: &str) -> Response {
    let mut headers = security_headers(port);
    // `/counter` and `/kiosk` lead to their pages.
    if matches!(path, "/counter" | "/kiosk") {
        if let Ok(location) = HeaderValue::from_str(&format!("{path}/")) {
            headers.insert(header::LOCATION, location);
        }
        return (StatusCode::PERMANENT_REDIRECT, headers).into_response();
    }
    let (content_type, body): (&str, Body) = match pages {
        Pages::BuiltIn => match BUILT_IN.iter().find(|(p, _, _)| *p == path) {
            Some((_, content_type, bytes)) => (content_type, Body::from(*bytes)),
            None => return not_found(headers),
        },
        Pages::Dir(root) => {
            let Some(file) = resolve(root, path) else { return not_found(headers) };
            let root = root.clone();
            let read = tokio::task::spawn_blocking(move || read_inside(&root, &file)).await;
            match read {
                Ok(Some((content_type, body))) => (content_type, Body::from(body)),
                _ => return not_found(headers),
            }
        }
    };
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    (StatusCode::OK, headers, body).into_response()
}

/// The file of `root` a request path names: `…/` is its `index.html`.
/// `None` for anything but plain names: `..`, `.`, empty segments (an
/// absolute path), hidden files, backslashes, percent escapes, NUL.
pub fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let rest = path.strip_prefix('/')?;
    if rest.contains(['%', '\\', '\0']) {
        return None;
    }
    let mut file = root.to_path_buf();
    let mut segments: Vec<&str> = rest.split('/').collect();
    if segments.last() == Some(&"") {
        segments.pop();
        segments.push("index.html");
    }
    for segment in segments {
        if segment.is_empty() || segment.starts_with('.') {
            return None;
        }
        let mut components = Path::new(segment).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(_)), None) => file.push(segment),
            _ => return None,
        }
    }
    Some(file).filter(|f| f.starts_with(root))
}

/// Reads `file` if, once its symlinks are resolved, it is a regular file
/// still inside `root` (canonical): a symlink leaving it is not followed.
fn read_inside(root: &Path, file: &Path) -> Option<(&'static str, Vec<u8>)> {
    let real = file.canonicalize().ok()?;
    if !real.starts_with(root) {
        return None;
    }
    let meta = std::fs::metadata(&real).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    Some((content_type(&real), std::fs::read(&real).ok()?))
}

/// The content type of a file of `pages_dir`, by its extension.
fn content_type(file: &Path) -> &'static str {
    let extension = file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html" | "htm") => HTML,
        Some("js" | "mjs") => JS,
        Some("css") => CSS,
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_resolve_to_plain_names_under_the_root() {
        let root = Path::new("/srv/pages");
        assert_eq!(resolve(root, "/"), Some(root.join("index.html")));
        assert_eq!(resolve(root, "/kiosk/"), Some(root.join("kiosk/index.html")));
        assert_eq!(resolve(root, "/kiosk/kiosk.js"), Some(root.join("kiosk/kiosk.js")));
        for refused in [
            "/../etc/passwd",
            "/kiosk/../../x",
            "//etc/passwd",
            "/./x",
            "/.hidden",
            "/a%2e%2e/x",
            "/a\\..\\x",
            "kiosk/",
            "/a//b",
        ] {
            assert_eq!(resolve(root, refused), None, "{refused}");
        }
    }

    #[test]
    fn every_built_in_page_is_listed_once_with_a_type() {
        for (i, (path, content_type, bytes)) in BUILT_IN.iter().enumerate() {
            assert!(path.starts_with('/') && !bytes.is_empty() && !content_type.is_empty(), "{path}");
            assert!(BUILT_IN[i + 1..].iter().all(|(p, _, _)| p != path), "{path} twice");
        }
    }
}

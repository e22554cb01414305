//! The built client (Trunk's `dist/`), served like a production site.
//!
//! Every visit loads it, so what can be cached is cached for good and what
//! cannot is revalidated cheaply:
//! - Trunk names each asset after a hash of its content
//!   (`cursors-client-694bfcec50b1c5e4_bg.wasm`): such a name never
//!   changes meaning, so it is cached for a year and marked `immutable`;
//! - `index.html` (and anything else without a hash in its name) says which
//!   hashed files to load, so it is `no-cache`: used only after a
//!   revalidation, which the `ETag`/`Last-Modified` that `ServeDir` sends
//!   make a 304 of;
//! - a `.br` (Brotli) or `.gz` file that `scripts/build-client.sh` wrote
//!   beside an asset is sent instead to a browser that accepts it, so
//!   nothing is compressed per request; what has no such file (a small
//!   `index.html`) is compressed on the fly as before.
//!
//! Every response carries `X-Content-Type-Options: nosniff` and a
//! `Referrer-Policy` (see [`security_headers`]); the page gets a
//! Content-Security-Policy that allows only its own origin's scripts and
//! its one inline start-up script (by hash: Trunk writes it into
//! `index.html`), and lets its WebAssembly compile (`'wasm-unsafe-eval'`).

use std::path::Path;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::handler::HandlerWithoutStateExt;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

/// Cache-Control of a file whose name carries a hash of its content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of everything else: revalidate before each use.
pub const REVALIDATE: &str = "no-cache";
/// Cache-Control of `embed.js`, which every view of every host page loads:
/// kept five minutes, then revalidated, so a new build reaches the host
/// pages within five minutes at the cost of one small request per view.
pub const EMBED_LOADER: &str = "public, max-age=300, must-revalidate";
/// The largest HTML page read to find its inline scripts for the policy.
const MAX_PAGE_BYTES: usize = 1 << 20;

/// The router serving `dir` at `/`.
pub fn router(dir: &Path) -> Router {
    let files = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .not_found_service(client_not_found.into_service());
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(page_policy))
        // Outermost: compresses only what is not compressed yet.
        .layer(CompressionLayer::new())
}

async fn client_not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "Not found. If you expected the app here, build the client first: scripts/build-client.sh\n",
    )
}

/// Adds the cache policy to every file, and the Content-Security-Policy to
/// an HTML page (computed from the page itself, so that Trunk's inline
/// start-up script is allowed and nothing else inline is).
async fn page_policy(request: Request<Body>, next: Next) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control(&path)),
        );
    }
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let is_encoded = response.headers().contains_key(header::CONTENT_ENCODING);
    if !is_html || is_encoded || !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(page) = to_bytes(body, MAX_PAGE_BYTES).await else {
        // Too large to read for its scripts: refuse rather than serve the
        // page without a policy, or cut.
        return (StatusCode::INTERNAL_SERVER_ERROR, "page too large\n").into_response();
    };
    let policy = content_security_policy(&String::from_utf8_lossy(&page));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        parts.headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Response::from_parts(parts, Body::from(page))
}

/// How long a browser may keep `path` (see the module doc).
pub fn cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    if has_content_hash(name) {
        IMMUTABLE
    } else if path == "/embed.js" {
        EMBED_LOADER
    } else {
        REVALIDATE
    }
}

/// Whether a file name carries Trunk's content hash: `NAME-HEX.EXT` or
/// `NAME-HEX_bg.EXT`, with at least 12 hex digits (Trunk writes 16, minus
/// leading zeros).
fn has_content_hash(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        hash.len() >= 12 && hash.bytes().all(|byte| byte.is_ascii_hexdigit())
    })
}

/// The policy for `page`: its own origin's scripts, styles, images and
/// sockets, WebAssembly, and the inline scripts it holds by their hashes.
pub fn content_security_policy(page: &str) -> String {
    let hashes: String = inline_scripts(page)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// The text of each `<script>` element without a `src`.
fn inline_scripts(page: &str) -> impl Iterator<Item = &str> {
    page.split("<script").skip(1).filter_map(|rest| {
        let (attributes, after) = rest.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        let (body, _) = after.split_once("</script>")?;
        Some(body)
    })
}

/// Headers every response carries, pages and sockets' refusals alike.
pub fn security_headers() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_immutable_and_the_rest_revalidates() {
        for hashed in [
            "/cursors-client-694bfcec50b1c5e4_bg.wasm",
            "/cursors-client-694bfcec50b1c5e4.js",
            "/style-e84688f7571a175.css",
            "/favicon-43ad4bd5ef76260b.svg",
        ] {
            assert_eq!(cache_control(hashed), IMMUTABLE, "{hashed}");
        }
        for plain in [
            "/",
            "/index.html",
            "/favicon.svg",
            "/my-page.html",
            "/cafe-beef.js",
            "/client-694bfcec50b1c5eZ.js",
        ] {
            assert_eq!(cache_control(plain), REVALIDATE, "{plain}");
        }
        assert_eq!(cache_control("/embed.js"), EMBED_LOADER);
        assert_eq!(
            cache_control("/embed/cursors-embed-29c62c7e4fb1b2f3_bg.wasm"),
            IMMUTABLE
        );
    }

    #[test]
    fn the_policy_allows_the_pages_own_inline_scripts_by_hash_and_nothing_else() {
        let page = "<html><head><script type=\"module\">start();</script>\
                    <script src=\"/a.js\"></script></head><body></body></html>";
        let policy = content_security_policy(page);
        // echo -n 'start();' | openssl dgst -sha256 -binary | base64
        assert!(
            policy.contains("'sha256-E6jQvrT2ZivWG9GJ4AAEZf4MhI7l3QkLroW4hgvUT4c='"),
            "{policy}"
        );
        assert_eq!(policy.matches("'sha256-").count(), 1, "{policy}");
        assert!(policy.contains("'wasm-unsafe-eval'"));
        assert!(!policy.contains("'unsafe-eval'"));
        assert!(!policy.contains("script-src 'self' 'unsafe-inline'"));
    }
}

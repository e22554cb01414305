//! The embed, served to other sites: what a page on another origin needs
//! to load `embed.js` and its wasm, and to learn whether it may open a
//! socket at all.
//!
//! `embed.js` is a classic `<script>`, which browsers fetch from any site
//! without asking. What it loads next, the wasm and its JavaScript glue
//! (an ES module), browsers fetch in CORS mode: the response must name the
//! page's origin in `Access-Control-Allow-Origin`, which this server does
//! only for the sites of `--embed-origins`. Before loading anything,
//! `embed.js` asks `/embed/access`: a site not on the list gets a 403 whose
//! text says which flag would let it in, which the script prints in the
//! console instead of failing silently. The socket's own check
//! ([`crate::admission::OriginPolicy`]) is the one that keeps such a site
//! out; these answers only say so early and clearly.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::admission::Admission;

/// The paths of the embed's files (the loader and `embed/…`).
fn is_embed_file(path: &str) -> bool {
    path == "/embed.js" || path.starts_with("/embed/")
}

// ANCHOR: access
/// `GET /embed/access`: may the page asking (by its `Origin`) carry the
/// embed? 200, or 403 with the flag that would allow it.
pub async fn access(State(admission): State<Arc<Admission>>, headers: HeaderMap) -> Response {
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|origin| origin.to_str().ok())
    else {
        // Not a cross-origin request: our own pages may.
        return (StatusCode::OK, "ok\n").into_response();
    };
    let mut response = match admission.origins.check(&headers) {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(_) => (
            StatusCode::FORBIDDEN,
            format!(
                "this cursors server does not let {origin} embed it: start it with --embed-origins {origin} (or CURSORS_EMBED_ORIGINS={origin})\n"
            ),
        )
            .into_response(),
    };
    // The answer is readable by the asking page either way: the refusal's
    // text is for its console.
    allow_origin(response.headers_mut(), origin);
    response
}
// ANCHOR_END: access

/// Adds the CORS headers to the embed's files for the sites that may
/// embed it; everything else passes as it is.
pub async fn cross_origin(
    State(admission): State<Arc<Admission>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let origin = is_embed_file(request.uri().path())
        .then(|| request.headers().get(header::ORIGIN).cloned())
        .flatten()
        .and_then(|origin| origin.to_str().ok().map(str::to_owned))
        .filter(|origin| admission.origins.embeds(origin));
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        allow_origin(response.headers_mut(), &origin);
    }
    response
}

fn allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        // The answer depends on who asks: caches must keep one per origin.
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_loader_and_its_folder_are_the_embed() {
        assert!(is_embed_file("/embed.js"));
        assert!(is_embed_file(
            "/embed/cursors-embed-0123456789abcdef_bg.wasm"
        ));
        assert!(!is_embed_file("/embedded.js"));
        assert!(!is_embed_file("/index.html"));
    }
}

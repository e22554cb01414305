//! The WebSocket opening handshake (RFC 6455, section 4.2), done here
//! rather than by axum's `WebSocketUpgrade`, so that the connection task
//! gets the raw socket: it writes its data frames itself
//! ([`super::frames`]) and leaves tungstenite the reading and the control
//! frames. The checks and their answers follow axum's: a request that is
//! not a WebSocket upgrade gets a status and a plain-text reason, before
//! anything else is looked at.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use tungstenite::handshake::derive_accept_key;

/// A checked upgrade request: what the `101 Switching Protocols` answer
/// needs, and the socket to come once it is sent.
pub struct Handshake {
    accept: HeaderValue,
    offered_protocols: Vec<Vec<u8>>,
    on_upgrade: OnUpgrade,
}

/// Why a request cannot be upgraded; the text is the reason sent back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotAnUpgrade {
    #[error("a WebSocket upgrade must be a GET request")]
    NotGet,
    #[error("a WebSocket upgrade needs HTTP/1.1")]
    NotHttp11,
    #[error("the Connection header must include `upgrade`")]
    ConnectionHeader,
    #[error("the Upgrade header must be `websocket`")]
    UpgradeHeader,
    #[error("the Sec-WebSocket-Version header must be 13")]
    Version,
    #[error("the Sec-WebSocket-Key header is missing")]
    KeyMissing,
    #[error("this connection cannot be upgraded")]
    NotUpgradable,
}

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        let status = match self {
            NotAnUpgrade::NotGet => StatusCode::METHOD_NOT_ALLOWED,
            NotAnUpgrade::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut response = (status, self.to_string()).into_response();
        let headers = response.headers_mut();
        match self {
            // RFC 9110, section 15.5.6: a 405 says which methods would do.
            NotAnUpgrade::NotGet => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
            }
            // RFC 6455, section 4.4: say which version the server speaks.
            NotAnUpgrade::Version => {
                headers.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            _ => {}
        }
        response
    }
}

/// The rules of section 4.2.1 on a request's method, version and headers.
/// Returns the `Sec-WebSocket-Accept` value to answer with.
pub fn check(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<HeaderValue, NotAnUpgrade> {
    if method != Method::GET {
        return Err(NotAnUpgrade::NotGet);
    }
    if version != Version::HTTP_11 {
        return Err(NotAnUpgrade::NotHttp11);
    }
    if !header_lists(headers, header::CONNECTION, "upgrade") {
        return Err(NotAnUpgrade::ConnectionHeader);
    }
    if !header_lists(headers, header::UPGRADE, "websocket") {
        return Err(NotAnUpgrade::UpgradeHeader);
    }
    if !header_is(headers, header::SEC_WEBSOCKET_VERSION, "13") {
        return Err(NotAnUpgrade::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(NotAnUpgrade::KeyMissing)?;
    let accept = derive_accept_key(key.as_bytes());
    // Base64 of a hash, whatever the key: always a valid header value.
    Ok(HeaderValue::from_str(&accept).expect("base64 is a valid header value"))
}

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let accept = check(&parts.method, parts.version, &parts.headers)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(NotAnUpgrade::NotUpgradable)?;
        let offered_protocols = parts
            .headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
            .map(|protocol| protocol.trim_ascii().to_vec())
            .collect();
        Ok(Self {
            accept,
            offered_protocols,
            on_upgrade,
        })
    }
}

impl Handshake {
    /// Whether the client offered subprotocol `name`.
    pub fn offers(&self, name: &str) -> bool {
        self.offered_protocols
            .iter()
            .any(|offered| offered == name.as_bytes())
    }

    /// The `101 Switching Protocols` answer (choosing `protocol`, if any)
    /// and the upgrade, which resolves to the socket once hyper has sent it.
    pub fn accept(self, protocol: Option<&'static str>) -> (Response, OnUpgrade) {
        let mut response = (
            StatusCode::SWITCHING_PROTOCOLS,
            [
                (header::CONNECTION, HeaderValue::from_static("upgrade")),
                (header::UPGRADE, HeaderValue::from_static("websocket")),
                (header::SEC_WEBSOCKET_ACCEPT, self.accept),
            ],
        )
            .into_response();
        if let Some(protocol) = protocol {
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(protocol),
            );
        }
        (response, self.on_upgrade)
    }
}

/// Whether header `name` is `value`, in any case.
fn header_is(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|header| header.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

/// Whether the comma-separated header `name` lists `token`, in any case
/// (`Connection: keep-alive, Upgrade`).
fn header_lists(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|header| {
        header
            .as_bytes()
            .split(|byte| *byte == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
        headers.insert(header::UPGRADE, "WebSocket".parse().unwrap());
        headers.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().unwrap());
        // The example of RFC 6455, section 1.3.
        headers.insert(
            header::SEC_WEBSOCKET_KEY,
            "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
        );
        headers
    }

    #[test]
    fn an_upgrade_request_is_answered_with_the_rfc_accept_value() {
        let accept = check(&Method::GET, Version::HTTP_11, &upgrade_headers());
        assert_eq!(
            accept,
            Ok(HeaderValue::from_static("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        );
        // Upgrade, like Connection, may list several protocols.
        let mut listed = upgrade_headers();
        listed.insert(header::UPGRADE, "h2c, websocket".parse().unwrap());
        assert!(check(&Method::GET, Version::HTTP_11, &listed).is_ok());
    }

    #[test]
    fn requests_that_are_not_upgrades_are_told_why() {
        let headers = upgrade_headers();
        assert_eq!(
            check(&Method::POST, Version::HTTP_11, &headers),
            Err(NotAnUpgrade::NotGet)
        );
        assert_eq!(
            check(&Method::GET, Version::HTTP_10, &headers),
            Err(NotAnUpgrade::NotHttp11)
        );
        let without = |name: HeaderName| {
            let mut headers = upgrade_headers();
            headers.remove(name);
            check(&Method::GET, Version::HTTP_11, &headers)
        };
        assert_eq!(
            without(header::CONNECTION),
            Err(NotAnUpgrade::ConnectionHeader)
        );
        assert_eq!(without(header::UPGRADE), Err(NotAnUpgrade::UpgradeHeader));
        assert_eq!(
            without(header::SEC_WEBSOCKET_VERSION),
            Err(NotAnUpgrade::Version)
        );
        assert_eq!(
            without(header::SEC_WEBSOCKET_KEY),
            Err(NotAnUpgrade::KeyMissing)
        );
        let mut old_version = upgrade_headers();
        old_version.insert(header::SEC_WEBSOCKET_VERSION, "8".parse().unwrap());
        assert_eq!(
            check(&Method::GET, Version::HTTP_11, &old_version),
            Err(NotAnUpgrade::Version)
        );
        let not_get = NotAnUpgrade::NotGet.into_response();
        assert_eq!(not_get.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(not_get.headers()[header::ALLOW], "GET");
        let version = NotAnUpgrade::Version.into_response();
        assert_eq!(version.status(), StatusCode::BAD_REQUEST);
        assert_eq!(version.headers()[header::SEC_WEBSOCKET_VERSION], "13");
    }
}

//! Who may open a WebSocket, decided before the upgrade: a valid room name,
//! an allowed `Origin`, a valid token for the room when the server asks for
//! them (`--token-key`, see `token.rs`), and room under the connection caps.
//!
//! The caps are held for the socket's whole life: the [`ConnectionPermit`]
//! moves into the connection task and is released when that task ends. A
//! request-level concurrency limit would stop counting at the upgrade, which
//! is exactly when a WebSocket starts costing memory.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cursors_protocol::{RoomError, RoomName};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::token::{Claims, TokenError, TokenKey};

/// Why a request was refused before the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("bad room name: {0}")]
    BadRoom(#[from] RoomError),
    #[error(
        "origin {0:?} is not allowed: start the server with --embed-origins {0} (for the embed) or --allowed-origin {0}"
    )]
    ForbiddenOrigin(String),
    #[error("the server is at its connection limit")]
    ServerFull,
    #[error("too many connections from your address")]
    TooManyFromAddress,
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// What kind of refusal it was: [`Refusal`] without its details, the label
/// of logs and of the `cursors_refusals_total` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    BadRoom,
    ForbiddenOrigin,
    ServerFull,
    TooManyFromAddress,
    TokenMissing,
    TokenTooLarge,
    TokenMalformed,
    TokenBadSignature,
    TokenExpired,
    TokenNotYetValid,
    TokenWrongRoom,
}

impl RefusalReason {
    /// Every reason, in declaration order (`reason as usize` indexes it).
    pub const ALL: [RefusalReason; 11] = [
        RefusalReason::BadRoom,
        RefusalReason::ForbiddenOrigin,
        RefusalReason::ServerFull,
        RefusalReason::TooManyFromAddress,
        RefusalReason::TokenMissing,
        RefusalReason::TokenTooLarge,
        RefusalReason::TokenMalformed,
        RefusalReason::TokenBadSignature,
        RefusalReason::TokenExpired,
        RefusalReason::TokenNotYetValid,
        RefusalReason::TokenWrongRoom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::BadRoom => "bad_room",
            RefusalReason::ForbiddenOrigin => "forbidden_origin",
            RefusalReason::ServerFull => "server_full",
            RefusalReason::TooManyFromAddress => "too_many_from_address",
            RefusalReason::TokenMissing => "token_missing",
            RefusalReason::TokenTooLarge => "token_too_large",
            RefusalReason::TokenMalformed => "token_malformed",
            RefusalReason::TokenBadSignature => "token_bad_signature",
            RefusalReason::TokenExpired => "token_expired",
            RefusalReason::TokenNotYetValid => "token_not_yet_valid",
            RefusalReason::TokenWrongRoom => "token_wrong_room",
        }
    }
}

impl Refusal {
    pub fn reason(&self) -> RefusalReason {
        match self {
            Refusal::BadRoom(_) => RefusalReason::BadRoom,
            Refusal::ForbiddenOrigin(_) => RefusalReason::ForbiddenOrigin,
            Refusal::ServerFull => RefusalReason::ServerFull,
            Refusal::TooManyFromAddress => RefusalReason::TooManyFromAddress,
            Refusal::Token(error) => match error {
                TokenError::Missing => RefusalReason::TokenMissing,
                TokenError::TooLarge => RefusalReason::TokenTooLarge,
                TokenError::Malformed(_) => RefusalReason::TokenMalformed,
                TokenError::BadSignature => RefusalReason::TokenBadSignature,
                TokenError::Expired => RefusalReason::TokenExpired,
                TokenError::NotYetValid => RefusalReason::TokenNotYetValid,
                TokenError::WrongRoom { .. } => RefusalReason::TokenWrongRoom,
            },
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Refusal::BadRoom(_) => StatusCode::BAD_REQUEST,
            Refusal::ForbiddenOrigin(_) => StatusCode::FORBIDDEN,
            Refusal::ServerFull | Refusal::TooManyFromAddress => StatusCode::SERVICE_UNAVAILABLE,
            // A good token for another room: who you are is known, and
            // you may not. Any other token problem: who you are is not.
            Refusal::Token(TokenError::WrongRoom { .. }) => StatusCode::FORBIDDEN,
            Refusal::Token(_) => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status(), format!("{self}\n")).into_response()
    }
}

// ANCHOR: origin
/// Exact-match `Origin` check against cross-site WebSocket hijacking.
///
/// A browser always sends `Origin` on a WebSocket handshake; a page of
/// another site must not be able to open a socket with this user's cookies
/// and network position. Allowed: requests without `Origin` (not a browser),
/// the server's own origin (the `Origin` names the same host as the `Host`
/// header), and each configured origin, compared as whole strings, so
/// `https://app.example.com.evil.com` is not `https://app.example.com`.
///
/// The sites that embed the cursors (`--embed-origins`) are let in too,
/// but told apart: their sockets go to rooms of their own (see
/// [`RoomName::on_site`]).
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    allowed: HashSet<String>,
    embedding: HashSet<String>,
}

/// Whose page opens a socket, once the origin is let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opener {
    /// Our own page, an allowed origin's, or no browser at all.
    OurPage,
    /// A page of this site, carrying the embed.
    EmbeddingSite(String),
}

impl OriginPolicy {
    pub fn new(allowed: &[String], embedding: &[String]) -> Self {
        let normalise = |origins: &[String]| {
            origins
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
                .collect()
        };
        Self {
            allowed: normalise(allowed),
            embedding: normalise(embedding),
        }
    }

    /// Whether `origin` (as a browser sends it) may embed the cursors.
    pub fn embeds(&self, origin: &str) -> bool {
        self.embedding.contains(&origin.to_ascii_lowercase())
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<Opener, Refusal> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(Opener::OurPage);
        };
        let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        let host = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .unwrap_or_default();
        let same_origin = !host.is_empty()
            && origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host));
        if same_origin || self.allowed.contains(&origin) {
            Ok(Opener::OurPage)
        } else if self.embedding.contains(&origin) {
            Ok(Opener::EmbeddingSite(origin))
        } else {
            Err(Refusal::ForbiddenOrigin(origin))
        }
    }
}
// ANCHOR_END: origin

/// The global and per-address connection caps.
#[derive(Debug)]
pub struct ConnectionLimits {
    global: Arc<Semaphore>,
    max_global: usize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    max_per_address: usize,
}

/// One open connection's share of the caps; released on drop.
#[derive(Debug)]
pub struct ConnectionPermit {
    _global: OwnedSemaphorePermit,
    address: IpAddr,
    limits: Arc<ConnectionLimits>,
}

impl ConnectionLimits {
    pub fn new(max_global: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            global: Arc::new(Semaphore::new(max_global)),
            max_global,
            per_address: Mutex::new(HashMap::new()),
            max_per_address,
        })
    }

    pub fn try_acquire(self: &Arc<Self>, address: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let global = self
            .global
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::ServerFull)?;
        let mut per_address = self.lock();
        let count = per_address.entry(address).or_insert(0);
        if *count >= self.max_per_address {
            if *count == 0 {
                per_address.remove(&address);
            }
            return Err(Refusal::TooManyFromAddress);
        }
        *count += 1;
        Ok(ConnectionPermit {
            _global: global,
            address,
            limits: self.clone(),
        })
    }

    /// Connections holding a permit.
    pub fn open(&self) -> usize {
        self.max_global - self.global.available_permits()
    }

    /// Addresses with at least one open connection.
    pub fn addresses(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

// ANCHOR: permit-drop
impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut per_address = self.limits.lock();
        if let Some(count) = per_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                // Forget the address, so the map is as large as the set of
                // connected addresses, not of every address ever seen.
                per_address.remove(&self.address);
            }
        }
    }
}
// ANCHOR_END: permit-drop

// ANCHOR: admit
/// Everything checked before an upgrade, in order of cost.
#[derive(Debug)]
pub struct Admission {
    pub origins: OriginPolicy,
    /// Set by `--token-key`: every socket needs a token for its room.
    pub tokens: Option<TokenKey>,
    pub limits: Arc<ConnectionLimits>,
}

/// A request let through: its room, its place under the caps, and the
/// claims of its token (when tokens are required).
#[derive(Debug)]
pub struct Admitted {
    pub room: RoomName,
    pub permit: ConnectionPermit,
    pub claims: Option<Claims>,
}

/// What a request brings to be admitted.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub address: IpAddr,
    pub headers: &'a HeaderMap,
    pub room: Option<&'a str>,
    pub token: Option<&'a str>,
    /// Unix seconds, for the token's times.
    pub now: u64,
}

impl Admission {
    pub fn admit(&self, request: Request<'_>) -> Result<Admitted, Refusal> {
        let room = match self.origins.check(request.headers)? {
            Opener::OurPage => RoomName::parse(request.room)?,
            Opener::EmbeddingSite(site) => {
                RoomName::on_site(&site, &RoomName::parse(request.room)?)
            }
        };
        let claims = match &self.tokens {
            None => None,
            Some(key) => Some(key.verify(request.token, room.as_str(), request.now)?),
        };
        let permit = self.limits.try_acquire(request.address)?;
        Ok(Admitted {
            room,
            permit,
            claims,
        })
    }
}
// ANCHOR_END: admit

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn origins_match_exactly() {
        let policy = OriginPolicy::new(&["https://app.example.com/".to_owned()], &[]);
        assert!(
            policy
                .check(&headers(Some("https://app.example.com"), "api.example.com"))
                .is_ok()
        );
        for refused in [
            "https://app.example.com.evil.com",
            "https://evil-app.example.com",
            "http://app.example.com",
            "https://app.example.com:8443",
            "null",
        ] {
            assert!(
                policy
                    .check(&headers(Some(refused), "api.example.com"))
                    .is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn own_origin_and_no_origin_are_allowed() {
        let policy = OriginPolicy::new(&[], &[]);
        assert!(
            policy
                .check(&headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000"))
                .is_ok()
        );
        assert!(policy.check(&headers(None, "127.0.0.1:3000")).is_ok());
        assert!(
            policy
                .check(&headers(Some("http://127.0.0.1:3001"), "127.0.0.1:3000"))
                .is_err()
        );
    }

    #[test]
    fn an_embedding_site_is_let_in_and_named() {
        let policy = OriginPolicy::new(&[], &["https://Docs.example.com/".to_owned()]);
        assert_eq!(
            policy.check(&headers(
                Some("https://docs.example.com"),
                "cursors.example.net"
            )),
            Ok(Opener::EmbeddingSite("https://docs.example.com".to_owned()))
        );
        assert!(policy.embeds("https://docs.example.com"));
        assert!(!policy.embeds("https://docs.example.com.evil.com"));
        assert!(
            policy
                .check(&headers(
                    Some("https://shop.example.com"),
                    "cursors.example.net"
                ))
                .is_err()
        );
    }

    #[test]
    fn two_sites_never_share_a_room_whatever_they_call_it() {
        let admission = Admission {
            origins: OriginPolicy::new(
                &[],
                &[
                    "https://one.example".to_owned(),
                    "https://two.example".to_owned(),
                ],
            ),
            tokens: None,
            limits: ConnectionLimits::new(10, 10),
        };
        let room_from = |origin: Option<&str>| {
            let headers = headers(origin, "cursors.example.net");
            let request = Request {
                address: "127.0.0.1".parse().unwrap(),
                headers: &headers,
                room: Some("lobby"),
                token: None,
                now: 0,
            };
            admission
                .admit(request)
                .map(|admitted| admitted.room.to_string())
        };
        assert_eq!(room_from(None).unwrap(), "lobby");
        assert_eq!(
            room_from(Some("https://one.example")).unwrap(),
            "https://one.example/lobby"
        );
        assert_eq!(
            room_from(Some("https://two.example")).unwrap(),
            "https://two.example/lobby"
        );
    }

    #[test]
    fn caps_are_held_until_the_permit_drops() {
        let limits = ConnectionLimits::new(3, 2);
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        let there: IpAddr = "127.0.0.2".parse().unwrap();
        let first = limits.try_acquire(here).unwrap();
        let _second = limits.try_acquire(here).unwrap();
        assert_eq!(
            limits.try_acquire(here).unwrap_err(),
            Refusal::TooManyFromAddress
        );
        let _third = limits.try_acquire(there).unwrap();
        assert_eq!(limits.try_acquire(there).unwrap_err(), Refusal::ServerFull);
        assert_eq!((limits.open(), limits.addresses()), (3, 2));
        drop(first);
        assert_eq!(limits.open(), 2);
        assert!(limits.try_acquire(here).is_ok());
    }

    #[test]
    fn a_refused_address_leaves_no_entry_behind() {
        let limits = ConnectionLimits::new(1, 0);
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(limits.try_acquire(here).is_err());
        assert_eq!((limits.open(), limits.addresses()), (0, 0));
    }
}

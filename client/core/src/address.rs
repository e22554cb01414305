//! Where to connect: the room comes from the page's `?room=` and the
//! WebSocket URL from the page's own location, so the same build works behind
//! `trunk serve` (which proxies `/ws`) and when the server serves it directly,
//! over `http` (→ `ws`) or `https` (→ `wss`).

use cursors_protocol::RoomName;

/// The WebSocket URL for `room`, given `window.location`'s `protocol`
/// (e.g. `"https:"`) and `host` (host and port), the token to resume an
/// earlier identity with, if there is one, and the signed room token the
/// page was opened with (`?token=`), for a server that asks for one
/// (`--token-key`).
pub fn socket_url(
    page_protocol: &str,
    host: &str,
    room: &RoomName,
    resume: Option<&str>,
    room_token: Option<&str>,
) -> String {
    let scheme = if page_protocol == "https:" {
        "wss"
    } else {
        "ws"
    };
    let mut url = format!("{scheme}://{host}/ws?room={room}");
    // Resume tokens are hex digits, room tokens (JWTs) base64url segments:
    // neither needs escaping, and anything else is not a token and is left
    // out rather than pasted into the query.
    if let Some(token) = resume.filter(|token| is_made_of(token, |byte| byte.is_ascii_hexdigit())) {
        url.push_str("&resume=");
        url.push_str(token);
    }
    let jwt_byte = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.');
    if let Some(token) = room_token.filter(|token| is_made_of(token, jwt_byte)) {
        url.push_str("&token=");
        url.push_str(token);
    }
    url
}

fn is_made_of(token: &str, allowed: impl Fn(u8) -> bool) -> bool {
    !token.is_empty() && token.bytes().all(allowed)
}

/// A fresh room name such as `room-k3f9x2`, from `random` uniform in
/// `[0, 1)`: six base-36 digits, two billion rooms.
pub fn random_room_name(random: f64) -> RoomName {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut value = (random.clamp(0.0, 1.0) * 36f64.powi(6)) as u64;
    let mut name = String::from("room-");
    for _ in 0..6 {
        name.push(char::from(DIGITS[(value % 36) as usize]));
        value /= 36;
    }
    RoomName::parse(Some(&name)).expect("room-<base36> is a valid room name")
}

/// The page URL (path and query) that joins `room`.
pub fn room_link(room: &RoomName) -> String {
    format!("/?room={room}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(Some(name)).unwrap()
    }

    #[test]
    fn plain_pages_use_ws_and_secure_pages_wss() {
        assert_eq!(
            socket_url("http:", "127.0.0.1:8080", &room("lobby"), None, None),
            "ws://127.0.0.1:8080/ws?room=lobby"
        );
        assert_eq!(
            socket_url("https:", "cursors.example", &room("team-1"), None, None),
            "wss://cursors.example/ws?room=team-1"
        );
    }

    #[test]
    fn a_resume_token_rides_along_if_it_looks_like_one() {
        assert_eq!(
            socket_url("http:", "h:1", &room("r"), Some("0123abcdef"), None),
            "ws://h:1/ws?room=r&resume=0123abcdef"
        );
        assert_eq!(
            socket_url("http:", "h:1", &room("r"), Some("x&room=evil"), None),
            "ws://h:1/ws?room=r"
        );
        assert_eq!(
            socket_url("http:", "h:1", &room("r"), Some(""), None),
            "ws://h:1/ws?room=r"
        );
    }

    #[test]
    fn a_room_token_rides_along_if_it_looks_like_a_jwt() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoiciJ9.a-b_c";
        assert_eq!(
            socket_url("http:", "h:1", &room("r"), Some("0a"), Some(jwt)),
            format!("ws://h:1/ws?room=r&resume=0a&token={jwt}")
        );
        assert_eq!(
            socket_url("http:", "h:1", &room("r"), None, Some("a b&room=evil")),
            "ws://h:1/ws?room=r"
        );
    }

    #[test]
    fn random_rooms_are_valid_and_differ() {
        let names: Vec<String> = [0.0, 0.25, 0.5, 0.999_999]
            .iter()
            .map(|&r| random_room_name(r).to_string())
            .collect();
        assert!(
            names
                .iter()
                .all(|name| name.len() == 11 && name.starts_with("room-")),
            "{names:?}"
        );
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn room_links_round_trip_through_the_room_parser() {
        assert_eq!(room_link(&room("design_review")), "/?room=design_review");
    }
}

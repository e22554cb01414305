//! Validation of the two user-supplied strings of the protocol: room names
//! (from the `/ws?room=` query) and display names (from `hello`).

use std::fmt;

/// Room joined when the query has no `room` parameter.
pub const DEFAULT_ROOM: &str = "lobby";
/// Longest accepted room name, in characters.
pub const MAX_ROOM_CHARS: usize = 64;
/// Longest accepted display name, in characters, after trimming.
pub const MAX_NAME_CHARS: usize = 32;

/// A room name known to be 1 to 64 characters of `A-Z a-z 0-9 - _`.
///
/// Only [`RoomName::parse`] makes one, so holding a `RoomName` is proof that
/// it was checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("room name is empty")]
    Empty,
    #[error("room name is longer than {MAX_ROOM_CHARS} characters")]
    TooLong,
    #[error("room name may only contain A-Z, a-z, 0-9, '-' and '_'")]
    BadCharacter,
}

impl RoomName {
    /// Checks the `room` query parameter. `None` (parameter absent) means the
    /// default room; `Some("")` is an explicit empty name and is refused.
    pub fn parse(raw: Option<&str>) -> Result<Self, RoomError> {
        let Some(raw) = raw else {
            return Ok(Self(DEFAULT_ROOM.to_owned()));
        };
        if raw.is_empty() {
            return Err(RoomError::Empty);
        }
        if !raw
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        {
            return Err(RoomError::BadCharacter);
        }
        // Only ASCII is left, so bytes and characters count the same.
        if raw.len() > MAX_ROOM_CHARS {
            return Err(RoomError::TooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    // ANCHOR: on-site
    /// The room `room` of a page embedded on the site `origin` (as the
    /// browser sends it: `https://docs.example.com`): `origin/room`. The
    /// server names embedded rooms so, which keeps two sites apart whatever
    /// they call their rooms; a `/` never occurs in a plain room name, so
    /// no plain name can stand for a site's room either.
    pub fn on_site(origin: &str, room: &RoomName) -> RoomName {
        Self(format!("{origin}/{room}"))
    }
    // ANCHOR_END: on-site

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name is longer than {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("name contains a control character")]
    ControlCharacter,
}

/// Trims a requested display name and checks it: 1 to 32 characters, no
/// control characters. Returns the trimmed name that everyone will see.
pub fn normalize_name(raw: &str) -> Result<String, NameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_room_means_lobby() {
        assert_eq!(RoomName::parse(None).unwrap().as_str(), "lobby");
    }

    #[test]
    fn room_names_follow_the_protocol() {
        assert!(RoomName::parse(Some("design-review_2")).is_ok());
        assert!(RoomName::parse(Some(&"a".repeat(64))).is_ok());
        assert_eq!(RoomName::parse(Some("")), Err(RoomError::Empty));
        assert_eq!(
            RoomName::parse(Some(&"a".repeat(65))),
            Err(RoomError::TooLong)
        );
        for bad in ["a b", "a/b", "é", "a.b", "../x", "a%20"] {
            assert_eq!(
                RoomName::parse(Some(bad)),
                Err(RoomError::BadCharacter),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(normalize_name("  Ada ").unwrap(), "Ada");
        assert_eq!(normalize_name(&"é".repeat(32)).unwrap(), "é".repeat(32));
        assert_eq!(normalize_name("   "), Err(NameError::Empty));
        assert_eq!(normalize_name(&"x".repeat(33)), Err(NameError::TooLong));
        assert_eq!(normalize_name("A\u{7}da"), Err(NameError::ControlCharacter));
        assert_eq!(
            normalize_name("Ada\nLovelace"),
            Err(NameError::ControlCharacter)
        );
    }
}

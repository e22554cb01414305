//! Who a user is to the others: a server-assigned id, a display name and a
//! colour. Ids come from the server so no client can impersonate another;
//! colours are picked to be distinct within a room while the palette lasts;
//! a user who never says `hello` still gets a friendly name.

use rand::Rng;
use rand::seq::IndexedRandom;

/// Twelve colours that stay readable as an arrow on a light board and as
/// white text on a label. Picked from Radix Colors' step 9 hues.
pub const PALETTE: [&str; 12] = [
    "#e5484d", "#30a46c", "#0090ff", "#f76b15", "#8e4ec6", "#12a594", "#d6409f", "#ffc53d",
    "#3e63dd", "#7ce2fe", "#a18072", "#bdee63",
];

const ADJECTIVES: [&str; 24] = [
    "Amber", "Brave", "Calm", "Clever", "Cosy", "Daring", "Eager", "Gentle", "Happy", "Jolly",
    "Kind", "Lively", "Lucky", "Merry", "Nimble", "Plucky", "Quick", "Quiet", "Sunny", "Swift",
    "Tidy", "Witty", "Zesty", "Bold",
];

const ANIMALS: [&str; 24] = [
    "Otter", "Panda", "Falcon", "Koala", "Lynx", "Heron", "Badger", "Gecko", "Puffin", "Marten",
    "Ibis", "Tapir", "Wombat", "Quokka", "Narwhal", "Robin", "Beaver", "Fox", "Hare", "Owl",
    "Seal", "Yak", "Crane", "Moth",
];

/// A name such as "Plucky Puffin" for users who have not chosen one.
pub fn friendly_name(rng: &mut impl Rng) -> String {
    let adjective = ADJECTIVES.choose(rng).copied().unwrap_or("Anonymous");
    let animal = ANIMALS.choose(rng).copied().unwrap_or("Visitor");
    format!("{adjective} {animal}")
}

const ID_ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Characters in every id.
pub const ID_LENGTH: usize = 6;

/// A short random id in lowercase base 36, e.g. `k3f9x2`. Six characters give
/// 2 billion values; the room still checks for a collision among its members.
pub fn random_id(rng: &mut impl Rng) -> String {
    random_id_with_prefix(rng, "")
}

/// The same, starting with `prefix`: a server sharing rooms with others
/// starts its ids with its own tag, so two servers never hand out the same
/// id (see `room/redis/group.rs`).
pub fn random_id_with_prefix(rng: &mut impl Rng, prefix: &str) -> String {
    let mut id = String::with_capacity(ID_LENGTH);
    id.push_str(prefix);
    while id.len() < ID_LENGTH {
        id.push(char::from(
            ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())],
        ));
    }
    id
}

/// The tag of server number `index` among 36² possible: two base-36 digits.
pub fn server_tag(index: usize) -> String {
    let index = index % (ID_ALPHABET.len() * ID_ALPHABET.len());
    [index / ID_ALPHABET.len(), index % ID_ALPHABET.len()]
        .iter()
        .map(|digit| char::from(ID_ALPHABET[*digit]))
        .collect()
}

// ANCHOR: token
/// A resume token: 128 bits from `rng`, as 32 hex digits. Given a
/// cryptographically secure generator (each room's is ChaCha, seeded by the
/// OS), it is unguessable, so holding one proves being the user it was
/// given to.
pub fn resume_token(rng: &mut impl Rng) -> String {
    let bits: u128 = rng.random();
    format!("{bits:032x}")
}
// ANCHOR_END: token

/// The palette colour least used by the colours already taken; ties go to
/// the earliest in the palette. While fewer users than colours are present,
/// this is always an unused colour.
pub fn pick_color<'a>(taken: impl Iterator<Item = &'a str>) -> &'static str {
    let mut uses = [0usize; PALETTE.len()];
    for color in taken {
        if let Some(index) = PALETTE.iter().position(|candidate| *candidate == color) {
            uses[index] += 1;
        }
    }
    let least_used = (0..PALETTE.len()).min_by_key(|&index| (uses[index], index));
    PALETTE[least_used.unwrap_or(0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_distinct_while_the_palette_lasts() {
        let mut taken: Vec<&str> = Vec::new();
        for _ in 0..PALETTE.len() {
            let color = pick_color(taken.iter().copied());
            assert!(!taken.contains(&color), "{color} handed out twice");
            taken.push(color);
        }
        // Past the palette, colours are reused evenly.
        let thirteenth = pick_color(taken.iter().copied());
        taken.push(thirteenth);
        let fourteenth = pick_color(taken.iter().copied());
        assert_ne!(thirteenth, fourteenth);
    }

    #[test]
    fn a_freed_colour_is_reused_first() {
        let taken = [PALETTE[0], PALETTE[2]];
        assert_eq!(pick_color(taken.iter().copied()), PALETTE[1]);
    }

    #[test]
    fn ids_and_names_have_the_expected_shape() {
        let mut rng = rand::rng();
        let id = random_id(&mut rng);
        assert_eq!(id.len(), 6);
        assert!(
            id.bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
        );
        let tagged = random_id_with_prefix(&mut rng, &server_tag(37));
        assert!(
            tagged.starts_with("11") && tagged.len() == ID_LENGTH,
            "{tagged}"
        );
        assert_eq!(server_tag(0), "00");
        assert_eq!(server_tag(36 * 36 - 1), "zz");
        let name = friendly_name(&mut rng);
        let token = resume_token(&mut rng);
        assert_eq!(token.len(), 32);
        assert_ne!(token, resume_token(&mut rng));
        assert!(cursors_protocol::normalize_name(&name).is_ok(), "{name}");
    }
}

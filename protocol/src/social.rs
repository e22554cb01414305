//! The social layer's fixed parts: which reactions exist and how often a
//! connection may send reactions and points. Both ends read them from here,
//! so the page never offers a reaction the server refuses, and throttles
//! itself to the rate the server relays (what a sender sees of its own
//! reactions is then what the others see).

// ANCHOR: reactions
/// The reactions a person can send, in the order the page offers them
/// (number keys 1 to 6). Anything else is refused with `bad_message`: a
/// fixed set keeps the room readable and the frames small, and cannot carry
/// text the way free-form emoji could.
pub const REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "🎉", "😮", "👀"];

/// Whether `emoji` is one of [`REACTIONS`], exactly (a heart without its
/// variation selector is a different string, and refused).
pub fn is_reaction(emoji: &str) -> bool {
    REACTIONS.contains(&emoji)
}
// ANCHOR_END: reactions

/// Reactions a connection may send per second, sustained; the same number
/// may come at once after a pause. The excess is dropped without an error:
/// a held key is not a mistake worth a frame back.
pub const REACTIONS_PER_SECOND: u32 = 4;

/// Points ("look here" rings) a connection may send per second, sustained
/// and as a burst, like reactions.
pub const POINTS_PER_SECOND: u32 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_reactions_are_reactions() {
        for emoji in REACTIONS {
            assert!(is_reaction(emoji), "{emoji}");
        }
        for other in ["", "👎", "\u{2764}", "👍👍", "thumbs up", " 👍"] {
            assert!(!is_reaction(other), "{other:?}");
        }
    }

    #[test]
    fn the_set_has_no_duplicates() {
        for (index, emoji) in REACTIONS.iter().enumerate() {
            assert!(!REACTIONS[index + 1..].contains(emoji), "{emoji}");
        }
    }
}

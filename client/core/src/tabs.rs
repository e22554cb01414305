//! One identity per tab, even for a duplicated tab: the rule.
//!
//! The resume token lives in `sessionStorage`, which is per tab and
//! survives a reload: exactly what coming back as the same user needs. But a
//! browser that *duplicates* a tab copies its `sessionStorage` too, so the
//! copy would offer the original's token, take over its identity (the server
//! supersedes the older connection), and the original, its token spent,
//! would come back as somebody new: the wrong tab loses its name.
//!
//! So before a page offers a stored token it asks the other tabs of this
//! origin, over a `BroadcastChannel` named [`CHANNEL`], whether one of them
//! holds it. A tab answers only for the token it holds: the one the server
//! last gave it, or the stored one it has just decided to use. A reloaded
//! page's previous self is gone and does not answer. No answer within
//! [`ASK_WAIT`] and the token is ours to use; an answer and this tab starts
//! afresh.
//!
//! The rule, what to answer to what, is [`TabMessage::answer`], a plain
//! function unit-tested below; the browser side (the page's `tabs` module)
//! only opens the channel and moves these messages.

use std::time::Duration;

use serde_json::Value;

/// How long a page waits for another tab to claim a token. Tabs of one
/// browser answer within a few milliseconds, a busy background tab in
/// tens; a reload waits this long once (its place is kept for 1.5 s).
pub const ASK_WAIT: Duration = Duration::from_millis(250);

/// The `BroadcastChannel` the tabs of one origin talk on.
pub const CHANNEL: &str = "cursors.tabs";

/// What tabs say to each other, as JSON: `{"ask":TOKEN}` or
/// `{"held":TOKEN}`. Written and read by hand rather than with serde's
/// derive, whose enum code weighed on the page's wasm for two shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabMessage {
    /// "Does a tab hold this token?"
    Ask(String),
    /// "I do."
    Held(String),
}

impl TabMessage {
    /// The answer of a tab holding `held` (its token, if it has one yet) to
    /// `self`.
    pub fn answer(&self, held: Option<&str>) -> Option<TabMessage> {
        match self {
            TabMessage::Ask(token) if held == Some(token.as_str()) => {
                Some(TabMessage::Held(token.clone()))
            }
            _ => None,
        }
    }

    /// Whether `self` says another tab holds `token`.
    pub fn claims(&self, token: &str) -> bool {
        matches!(self, TabMessage::Held(held) if held == token)
    }

    pub fn to_text(&self) -> String {
        let (tag, token) = match self {
            TabMessage::Ask(token) => ("ask", token),
            TabMessage::Held(token) => ("held", token),
        };
        let token = serde_json::to_string(token).unwrap_or_default();
        format!("{{\"{tag}\":{token}}}")
    }

    /// `None` for anything that is not one of ours: an object whose only
    /// field is `ask` or `held`, a string. (A field given twice keeps the
    /// last, where serde's derive refused the frame.)
    pub fn from_text(text: &str) -> Option<Self> {
        let Value::Object(fields) = serde_json::from_str(text).ok()? else {
            return None;
        };
        let mut fields = fields.into_iter();
        let (tag, Value::String(token)) = fields.next()? else {
            return None;
        };
        if fields.next().is_some() {
            return None;
        }
        match tag.as_str() {
            "ask" => Some(TabMessage::Ask(token)),
            "held" => Some(TabMessage::Held(token)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tab_holding_a_token_claims_it() {
        let ask = TabMessage::Ask("t1".into());
        assert_eq!(ask.answer(Some("t1")), Some(TabMessage::Held("t1".into())));
        assert_eq!(
            ask.answer(Some("t2")),
            None,
            "a tab holding another token is silent"
        );
        assert_eq!(ask.answer(None), None, "a tab not yet welcomed is silent");
        assert_eq!(
            TabMessage::Held("t1".into()).answer(Some("t1")),
            None,
            "answers are never answered"
        );
    }

    #[test]
    fn a_claim_counts_only_for_the_token_asked_about() {
        assert!(TabMessage::Held("t1".into()).claims("t1"));
        assert!(!TabMessage::Held("t2".into()).claims("t1"));
        assert!(
            !TabMessage::Ask("t1".into()).claims("t1"),
            "a question is no claim"
        );
    }

    #[test]
    fn messages_round_trip_and_strangers_are_ignored() {
        for message in [TabMessage::Ask("a".into()), TabMessage::Held("b".into())] {
            assert_eq!(TabMessage::from_text(&message.to_text()), Some(message));
        }
        assert_eq!(TabMessage::from_text("{\"something\":\"else\"}"), None);
        assert_eq!(TabMessage::from_text("not json"), None);
        assert_eq!(
            TabMessage::Ask("a\"b".into()).to_text(),
            r#"{"ask":"a\"b"}"#,
            "the shape serde's derive wrote"
        );
        assert_eq!(
            TabMessage::from_text(r#" {"held" : "t"} "#),
            Some(TabMessage::Held("t".into()))
        );
        for stranger in [
            r#"{"ask":"t","held":"t"}"#,
            r#"{"ask":1}"#,
            r#"{"Ask":"t"}"#,
            r#""ask""#,
            r#"{}"#,
        ] {
            assert_eq!(TabMessage::from_text(stranger), None, "{stranger}");
        }
    }
}

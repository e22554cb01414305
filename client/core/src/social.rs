//! The social layer's rules, apart from the browser: which key sends which
//! reaction, how often this page may send reactions and points, whether a
//! press was a tap (a point) or a drag, how a laser trail fades, whose
//! spotlight shows, and what the screen-reader announcer says and when.
//!
//! Everything takes the time as an argument (`Date.now()` milliseconds), so
//! it is unit-tested natively below; the page's `social_scene` and
//! `social_view` draw it.

use std::collections::VecDeque;

use cursors_protocol::{POINTS_PER_SECOND, Point, REACTIONS, REACTIONS_PER_SECOND};

/// How long a reaction takes to rise and fade (matches the CSS).
pub const REACTION_MS: f64 = 1_600.0;

/// How long a "look here" ring takes to expand and fade (matches the CSS).
pub const PING_MS: f64 = 1_200.0;

/// How long a point of a laser trail stays visible.
pub const TRAIL_MS: f64 = 1_000.0;

/// The shortest time between two announcements.
pub const ANNOUNCE_EVERY_MS: f64 = 1_000.0;

/// The reaction a key sends: `1` to `6` pick [`REACTIONS`] in order.
pub fn reaction_for_key(key: &str) -> Option<&'static str> {
    let digit: usize = key.parse().ok()?;
    REACTIONS.get(digit.checked_sub(1)?).copied()
}

// ANCHOR: send-limit
/// A token bucket like the server's for one kind of message, so that this
/// page sends no more than the server relays: what a person sees of their
/// own reactions is then what the others see.
#[derive(Debug, Clone)]
pub struct SendLimit {
    per_second: f64,
    tokens: f64,
    last: f64,
}

impl SendLimit {
    pub fn reactions() -> Self {
        Self::new(REACTIONS_PER_SECOND)
    }

    pub fn points() -> Self {
        Self::new(POINTS_PER_SECOND)
    }

    fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Self {
            per_second,
            tokens: per_second,
            last: f64::NEG_INFINITY,
        }
    }

    /// Whether one more may be sent at `now`; takes its token if so.
    pub fn try_take(&mut self, now: f64) -> bool {
        let elapsed_seconds = ((now - self.last) / 1_000.0).max(0.0);
        self.tokens = (self.tokens + elapsed_seconds * self.per_second).min(self.per_second);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
// ANCHOR_END: send-limit

/// Farthest a pointer may travel, in CSS pixels, between press and release
/// for the press to count as a click (a point) rather than a drag.
pub const TAP_SLOP_PX: f64 = 8.0;

/// Longest press that still counts as a click, in milliseconds.
pub const TAP_MS: f64 = 600.0;

/// Whether a press at `down` (pixels, ms) released at `up` was a tap.
pub fn is_tap(down: (f64, f64, f64), up: (f64, f64, f64)) -> bool {
    let (dx, dy) = (up.0 - down.0, up.1 - down.1);
    (dx * dx + dy * dy).sqrt() <= TAP_SLOP_PX && (0.0..=TAP_MS).contains(&(up.2 - down.2))
}

// ANCHOR: trail
/// One person's laser trail: the positions that arrived while their laser
/// was on, each with its arrival time, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trail {
    points: VecDeque<(Point, f64)>,
}

impl Trail {
    pub fn push(&mut self, point: Point, now: f64) {
        self.points.push_back((point, now));
    }

    /// Drops the points that have faded out by `now`; whether any are left.
    pub fn prune(&mut self, now: f64) -> bool {
        while self
            .points
            .front()
            .is_some_and(|(_, at)| trail_opacity(now - at) <= 0.0)
        {
            self.points.pop_front();
        }
        !self.points.is_empty()
    }

    /// The segments to draw at `now`: from, to, and the opacity of the
    /// newer end. A lone point draws nothing.
    pub fn segments(&self, now: f64) -> Vec<(Point, Point, f64)> {
        self.points
            .iter()
            .zip(self.points.iter().skip(1))
            .map(|((from, _), (to, at))| (*from, *to, trail_opacity(now - at)))
            .filter(|(_, _, opacity)| *opacity > 0.0)
            .collect()
    }
}

/// How visible a trail point is `age` milliseconds after it arrived: fully
/// at first, then fading evenly to nothing at [`TRAIL_MS`].
pub fn trail_opacity(age: f64) -> f64 {
    (1.0 - age / TRAIL_MS).clamp(0.0, 1.0)
}
// ANCHOR_END: trail

/// Who asks for attention. Several people may: the newest `on` shows, and
/// when it stops the one before it shows again. A banner dismissed by this
/// person stays hidden for that request; a new request shows again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spotlights {
    /// Ids with their spotlight on, oldest first.
    on: Vec<String>,
    dismissed: Option<String>,
}

impl Spotlights {
    /// `id` switched their spotlight on or off (or left: `false`).
    pub fn set(&mut self, id: &str, on: bool) {
        self.on.retain(|lit| lit != id);
        if self.dismissed.as_deref() == Some(id) {
            self.dismissed = None;
        }
        if on {
            self.on.push(id.to_owned());
        }
    }

    /// The person whose cursor stands out: the newest request.
    pub fn current(&self) -> Option<&str> {
        self.on.last().map(String::as_str)
    }

    /// The person the banner names, unless this person dismissed it.
    pub fn banner(&self) -> Option<&str> {
        self.current()
            .filter(|id| self.dismissed.as_deref() != Some(*id))
    }

    pub fn dismiss(&mut self) {
        self.dismissed = self.current().map(str::to_owned);
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Something worth telling a screen-reader user.
#[derive(Debug, Clone, PartialEq)]
pub enum News {
    Joined(String),
    Left(String),
    Reacted {
        name: String,
        emoji: String,
    },
    Spotlight {
        name: String,
        on: bool,
    },
    /// A sentence another part of the page wants said (the crowd's counts,
    /// whom this page follows), through the same region and rate.
    Sentence(String),
}

// ANCHOR: announcer
/// The polite live region's rules: at most one announcement a second, and
/// whatever happened in between said in one summary ("3 reactions from Ada
/// and Bo"), so a busy room does not flood the reader.
#[derive(Debug, Clone, Default)]
pub struct Announcer {
    waiting: Vec<News>,
    last_spoken: Option<f64>,
}

/// What the announcer wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Announce {
    /// Say this now.
    Say(String),
    /// Call [`Announcer::due`] at this time.
    WakeAt(f64),
    /// Nothing to do (a wake-up is already planned).
    Nothing,
}

impl Announcer {
    /// Something happened at `now`.
    pub fn hear(&mut self, news: News, now: f64) -> Announce {
        let planned = !self.waiting.is_empty();
        self.waiting.push(news);
        match self.last_spoken {
            Some(last) if now - last < ANNOUNCE_EVERY_MS => {
                if planned {
                    Announce::Nothing
                } else {
                    Announce::WakeAt(last + ANNOUNCE_EVERY_MS)
                }
            }
            _ => self.speak(now),
        }
    }

    /// The planned wake-up came: say what waited.
    pub fn due(&mut self, now: f64) -> Announce {
        if self.waiting.is_empty() {
            return Announce::Nothing;
        }
        match self.last_spoken {
            Some(last) if now - last < ANNOUNCE_EVERY_MS => {
                Announce::WakeAt(last + ANNOUNCE_EVERY_MS)
            }
            _ => self.speak(now),
        }
    }

    fn speak(&mut self, now: f64) -> Announce {
        self.last_spoken = Some(now);
        Announce::Say(summarise(&std::mem::take(&mut self.waiting)))
    }
}

/// One sentence per kind of news, in the order the kinds first came.
pub fn summarise(news: &[News]) -> String {
    let mut joined = Vec::new();
    let mut left = Vec::new();
    let mut reactions: Vec<(&str, &str)> = Vec::new();
    let mut spotlights = Vec::new();
    let mut sentences_as_given = Vec::new();
    let mut order: Vec<u8> = Vec::new();
    for item in news {
        let kind = match item {
            News::Joined(name) => {
                joined.push(name.as_str());
                0
            }
            News::Left(name) => {
                left.push(name.as_str());
                1
            }
            News::Reacted { name, emoji } => {
                reactions.push((name.as_str(), emoji.as_str()));
                2
            }
            News::Spotlight { name, on } => {
                spotlights.push(if *on {
                    format!("{name} asks for everyone's attention")
                } else {
                    format!("{name} stopped asking for attention")
                });
                3
            }
            News::Sentence(text) => {
                sentences_as_given.push(text.trim_end_matches('.').to_owned());
                4
            }
        };
        if !order.contains(&kind) {
            order.push(kind);
        }
    }
    let sentences: Vec<String> = order
        .into_iter()
        .map(|kind| match kind {
            0 => format!("{} joined", names(&joined)),
            1 => format!("{} left", names(&left)),
            2 => match reactions.as_slice() {
                [(name, emoji)] => format!("{name} reacted {emoji}"),
                many => {
                    let senders: Vec<&str> = many.iter().map(|(name, _)| *name).collect();
                    format!("{} reactions from {}", many.len(), names(&senders))
                }
            },
            3 => spotlights.join(". "),
            _ => sentences_as_given.join(". "),
        })
        .collect();
    sentences.join(". ")
}

/// "Ada", "Ada and Bo", "Ada, Bo and Cy", "Ada, Bo and 3 others": each
/// name once, in order of first appearance.
fn names(all: &[&str]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for name in all {
        if !unique.contains(name) {
            unique.push(name);
        }
    }
    match unique.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [first, second] => format!("{first} and {second}"),
        [first, second, third] => format!("{first}, {second} and {third}"),
        [first, second, rest @ ..] => format!("{first}, {second} and {} others", rest.len()),
    }
}
// ANCHOR_END: announcer

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_keys_pick_the_reactions_in_order() {
        assert_eq!(reaction_for_key("1"), Some("👍"));
        assert_eq!(reaction_for_key("6"), Some("👀"));
        for other in ["0", "7", "a", "", "-1", "12"] {
            assert_eq!(reaction_for_key(other), None, "{other}");
        }
    }

    #[test]
    fn the_send_limit_allows_a_burst_then_the_rate() {
        let mut limit = SendLimit::reactions();
        let sent = (0..10).filter(|_| limit.try_take(1_000.0)).count();
        assert_eq!(sent, REACTIONS_PER_SECOND as usize, "the burst");
        assert!(!limit.try_take(1_100.0), "too soon for a new token");
        assert!(limit.try_take(1_000.0 + 1_000.0 / f64::from(REACTIONS_PER_SECOND)));
        // A long pause refills only up to the burst.
        let sent = (0..10).filter(|_| limit.try_take(60_000.0)).count();
        assert_eq!(sent, REACTIONS_PER_SECOND as usize);
    }

    #[test]
    fn a_short_still_press_is_a_tap_and_a_drag_or_a_long_press_is_not() {
        assert!(is_tap((10.0, 10.0, 0.0), (13.0, 14.0, 120.0)));
        assert!(!is_tap((10.0, 10.0, 0.0), (30.0, 10.0, 120.0)), "a drag");
        assert!(!is_tap((10.0, 10.0, 0.0), (10.0, 10.0, 2_000.0)), "held");
    }

    #[test]
    fn a_trail_fades_evenly_within_a_second_and_then_is_gone() {
        assert_eq!(trail_opacity(0.0), 1.0);
        assert_eq!(trail_opacity(TRAIL_MS / 2.0), 0.5);
        assert_eq!(trail_opacity(TRAIL_MS), 0.0);
        assert_eq!(trail_opacity(5_000.0), 0.0);
        let mut trail = Trail::default();
        let at = |x| Point { x, y: 0.5 };
        trail.push(at(0.1), 0.0);
        trail.push(at(0.2), 250.0);
        trail.push(at(0.3), 500.0);
        let segments = trail.segments(500.0);
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[0].2, 0.75);
        assert_eq!(segments[1].2, 1.0);
        assert!(trail.prune(1_100.0), "the newest two still show");
        assert_eq!(trail.segments(1_100.0).len(), 1);
        assert!(!trail.prune(1_500.0), "all faded");
        assert!(trail.segments(1_500.0).is_empty());
    }

    #[test]
    fn the_newest_spotlight_shows_and_the_previous_one_comes_back() {
        let mut spotlights = Spotlights::default();
        spotlights.set("ada", true);
        spotlights.set("bo", true);
        assert_eq!(spotlights.current(), Some("bo"));
        spotlights.set("bo", false);
        assert_eq!(spotlights.current(), Some("ada"));
        spotlights.set("ada", false);
        assert_eq!(spotlights.current(), None);
    }

    #[test]
    fn a_dismissed_banner_stays_hidden_until_a_new_request() {
        let mut spotlights = Spotlights::default();
        spotlights.set("ada", true);
        spotlights.dismiss();
        assert_eq!(spotlights.banner(), None);
        assert_eq!(
            spotlights.current(),
            Some("ada"),
            "the cursor still stands out"
        );
        spotlights.set("ada", false);
        spotlights.set("ada", true);
        assert_eq!(spotlights.banner(), Some("ada"), "asked again");
    }

    #[test]
    fn the_announcer_speaks_at_once_then_at_most_once_a_second_summarised() {
        let mut announcer = Announcer::default();
        let reacted = |name: &str| News::Reacted {
            name: name.into(),
            emoji: "👍".into(),
        };
        assert_eq!(
            announcer.hear(News::Joined("Ada".into()), 0.0),
            Announce::Say("Ada joined".into())
        );
        assert_eq!(
            announcer.hear(reacted("Ada"), 100.0),
            Announce::WakeAt(1_000.0)
        );
        assert_eq!(announcer.hear(reacted("Bo"), 200.0), Announce::Nothing);
        assert_eq!(announcer.hear(reacted("Ada"), 300.0), Announce::Nothing);
        assert_eq!(announcer.due(999.0), Announce::WakeAt(1_000.0), "not yet");
        assert_eq!(
            announcer.due(1_000.0),
            Announce::Say("3 reactions from Ada and Bo".into())
        );
        assert_eq!(announcer.due(1_500.0), Announce::Nothing, "said already");
        // After a quiet second, news is said at once again.
        assert_eq!(
            announcer.hear(reacted("Cy"), 2_500.0),
            Announce::Say("Cy reacted 👍".into())
        );
    }

    #[test]
    fn a_summary_says_each_kind_once_in_the_order_it_came() {
        let news = [
            News::Left("Bo".into()),
            News::Joined("Ada".into()),
            News::Left("Cy".into()),
            News::Spotlight {
                name: "Ada".into(),
                on: true,
            },
        ];
        assert_eq!(
            summarise(&news),
            "Bo and Cy left. Ada joined. Ada asks for everyone's attention"
        );
        let many: Vec<News> = ["A", "B", "C", "D", "E"]
            .iter()
            .map(|name| News::Joined((*name).into()))
            .collect();
        assert_eq!(summarise(&many), "A, B and 3 others joined");
        let given = [
            News::Sentence("Following Bo.".into()),
            News::Joined("Cy".into()),
        ];
        assert_eq!(summarise(&given), "Following Bo. Cy joined");
    }
}

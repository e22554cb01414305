//! Which rooms' channels this server must subscribe to again, and when:
//! the reconciliation of its subscriptions, as a pure state machine with
//! injected time (the I/O around it is the reconciler task in `group.rs`).
//!
//! A room subscribes to its channel when it opens. Nothing else can be
//! trusted to keep that subscription:
//!
//! - **fred's own re-subscription** after a reconnect sends a `SUBSCRIBE`
//!   of the plain channels first, and with none tracked (we use sharded
//!   channels only) Redis refuses it, so fred gives up before the sharded
//!   ones: after any reconnect no room heard anything;
//! - **a slot that moves** (a failover, a resharding) takes its channels'
//!   subscriptions with it: Redis Cluster pushes an `sunsubscribe` to the
//!   subscriber, which fred drops without a word.
//!
//! So the reconciler keeps, for each room's channel, the node it was last
//! subscribed on. Every [`RECONCILE_EVERY`] (and at once after a
//! reconnect) the task reads who owns each served channel's slot now, and
//! [`Reconciler::plan`] says which channels to subscribe again: those never
//! confirmed, those whose owner changed, and after a reconnect all of them.
//! A subscription that fails stays unconfirmed and is tried again at the
//! next look. Each room whose channel was subscribed again re-synchronises
//! (`sync.rs`), since pub/sub dropped whatever was said meanwhile.
//!
//! On one Redis (not a cluster) every channel has the same owner, and only
//! reconnects matter.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

/// How often the subscriptions are compared with who owns each slot.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(1);

/// One channel to subscribe again, on the node that owns its slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resubscribe {
    pub channel: String,
    pub node: String,
}

/// This server's subscriptions as confirmed; see the module doc.
#[derive(Debug, Default)]
pub struct Reconciler {
    /// Channel → the node its subscription was last confirmed on.
    confirmed: HashMap<String, String>,
    /// When the next look is due; `None`: at once.
    next_check: Option<Instant>,
}

impl Reconciler {
    /// A subscription to `channel` on `node` succeeded (a room opened, or
    /// a [`Resubscribe`] was carried out).
    pub fn subscribed(&mut self, channel: &str, node: String) {
        self.confirmed.insert(channel.to_owned(), node);
    }

    /// Whether `channel` is confirmed subscribed on `node` (a room that
    /// opened meanwhile may have done what a plan asked for).
    pub fn is_confirmed(&self, channel: &str, node: &str) -> bool {
        self.confirmed
            .get(channel)
            .is_some_and(|confirmed| confirmed == node)
    }

    /// The room of `channel` closed and unsubscribed.
    pub fn closed(&mut self, channel: &str) {
        self.confirmed.remove(channel);
    }

    /// The subscriber reconnected: Redis may have forgotten every
    /// subscription, so none is confirmed any more, and the next look is
    /// due at once.
    pub fn reconnected(&mut self) {
        self.confirmed.clear();
        self.next_check = None;
    }

    /// The subscriber is not connected at `now`: whatever it was
    /// subscribed to may be gone; look again in [`RECONCILE_EVERY`] (the
    /// reconnect, when it comes, makes the look due at once).
    pub fn disconnected(&mut self, now: Instant) {
        self.confirmed.clear();
        self.next_check = Some(now + RECONCILE_EVERY);
    }

    /// When the task must look next.
    pub fn next_check(&self, now: Instant) -> Instant {
        self.next_check.unwrap_or(now)
    }

    /// Whether a look is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.next_check(now) <= now
    }

    /// A look at `now`: `served` lists each channel this server's rooms
    /// listen to, with the node that owns its slot now (`None` when the
    /// cluster's map does not say). Returns the channels to subscribe again;
    /// forgets those no longer served; schedules the next look.
    pub fn plan(
        &mut self,
        now: Instant,
        served: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> Vec<Resubscribe> {
        self.next_check = Some(now + RECONCILE_EVERY);
        let mut listening = HashSet::new();
        let mut plan = Vec::new();
        for (channel, owner) in served {
            if let Some(node) = owner
                && self.confirmed.get(&channel) != Some(&node)
            {
                plan.push(Resubscribe {
                    channel: channel.clone(),
                    node,
                });
            }
            listening.insert(channel);
        }
        self.confirmed
            .retain(|channel, _| listening.contains(channel));
        plan.sort_by(|a, b| a.channel.cmp(&b.channel));
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        list.iter()
            .map(|(channel, node)| ((*channel).to_owned(), node.map(str::to_owned)))
            .collect()
    }

    fn channels(plan: &[Resubscribe]) -> Vec<&str> {
        plan.iter().map(|step| step.channel.as_str()).collect()
    }

    /// A reconciler whose rooms `a` (on node 1) and `b` (on node 2)
    /// subscribed when they opened.
    fn settled(now: Instant) -> Reconciler {
        let mut reconciler = Reconciler::default();
        reconciler.subscribed("a", "n1".into());
        reconciler.subscribed("b", "n2".into());
        assert!(
            reconciler
                .plan(now, served(&[("a", Some("n1")), ("b", Some("n2"))]))
                .is_empty()
        );
        reconciler
    }

    #[test]
    fn rooms_subscribed_where_their_slots_live_need_nothing() {
        let now = Instant::now();
        let mut reconciler = settled(now);
        let later = now + RECONCILE_EVERY;
        assert!(reconciler.due(later));
        let plan = reconciler.plan(later, served(&[("a", Some("n1")), ("b", Some("n2"))]));
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn looks_come_every_interval_and_not_before() {
        let now = Instant::now();
        let mut reconciler = Reconciler::default();
        assert!(reconciler.due(now), "the first look is at once");
        reconciler.plan(now, served(&[]));
        assert_eq!(reconciler.next_check(now), now + RECONCILE_EVERY);
        assert!(!reconciler.due(now + RECONCILE_EVERY - Duration::from_millis(1)));
        assert!(reconciler.due(now + RECONCILE_EVERY));
    }

    #[test]
    fn a_slot_that_moved_is_subscribed_again_on_its_new_owner_only() {
        let now = Instant::now();
        let mut reconciler = settled(now);
        // Failover or resharding: b's slot is now served by node 3.
        let later = now + RECONCILE_EVERY;
        let plan = reconciler.plan(later, served(&[("a", Some("n1")), ("b", Some("n3"))]));
        assert_eq!(
            plan,
            [Resubscribe {
                channel: "b".into(),
                node: "n3".into()
            }]
        );
        // Until it is confirmed it is planned at every look…
        let plan = reconciler.plan(
            later + RECONCILE_EVERY,
            served(&[("a", Some("n1")), ("b", Some("n3"))]),
        );
        assert_eq!(channels(&plan), ["b"]);
        // …and once confirmed, no more.
        reconciler.subscribed("b", "n3".into());
        let plan = reconciler.plan(
            later + RECONCILE_EVERY * 2,
            served(&[("a", Some("n1")), ("b", Some("n3"))]),
        );
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn after_a_reconnect_every_channel_is_subscribed_again_at_once() {
        let now = Instant::now();
        let mut reconciler = settled(now);
        let soon = now + Duration::from_millis(10);
        assert!(!reconciler.due(soon));
        reconciler.reconnected();
        assert!(reconciler.due(soon), "no waiting for the interval");
        let plan = reconciler.plan(soon, served(&[("a", Some("n1")), ("b", Some("n2"))]));
        assert_eq!(channels(&plan), ["a", "b"]);
    }

    #[test]
    fn while_disconnected_nothing_stays_confirmed_and_looks_go_on_every_interval() {
        let now = Instant::now();
        let mut reconciler = settled(now);
        reconciler.disconnected(now);
        assert_eq!(reconciler.next_check(now), now + RECONCILE_EVERY);
        let later = now + RECONCILE_EVERY;
        let plan = reconciler.plan(later, served(&[("a", Some("n1")), ("b", Some("n2"))]));
        assert_eq!(channels(&plan), ["a", "b"]);
    }

    #[test]
    fn a_channel_whose_owner_is_unknown_waits_for_a_map_that_says() {
        let now = Instant::now();
        let mut reconciler = settled(now);
        reconciler.reconnected();
        // Mid-failover the map may name no owner: nothing to do yet.
        let plan = reconciler.plan(now, served(&[("a", None), ("b", Some("n2"))]));
        assert_eq!(channels(&plan), ["b"]);
        reconciler.subscribed("b", "n2".into());
        // The map says, at a later look.
        let later = now + RECONCILE_EVERY;
        let plan = reconciler.plan(later, served(&[("a", Some("n4")), ("b", Some("n2"))]));
        assert_eq!(
            plan,
            [Resubscribe {
                channel: "a".into(),
                node: "n4".into()
            }]
        );
    }

    #[test]
    fn a_room_never_confirmed_is_subscribed_and_a_closed_one_forgotten() {
        let now = Instant::now();
        let mut reconciler = settled(now);
        // c opened but its own subscription failed; b closed.
        reconciler.closed("b");
        let plan = reconciler.plan(now, served(&[("a", Some("n1")), ("c", Some("n2"))]));
        assert_eq!(channels(&plan), ["c"]);
        // A room that is no longer served is forgotten even without
        // `closed`: should it open again, its subscription is planned.
        let mut reconciler = settled(now);
        reconciler.plan(now, served(&[("a", Some("n1"))]));
        let plan = reconciler.plan(now, served(&[("a", Some("n1")), ("b", Some("n2"))]));
        assert_eq!(channels(&plan), ["b"]);
    }
}

//! Joins and leaves: people who come in, stay a few seconds without ever
//! moving, and go, at a steady rate, so that the other users' traffic can
//! be compared with and without them.
//!
//! In a room where everybody sees everybody, each join and each leave is a
//! frame to every member. In a crowd the server folds the joins and leaves
//! of people nobody is shown into its once-a-second count, so a churner
//! that never moves should cost the others almost nothing: that is what
//! the churn window measures.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

use crate::user::{self, Sources};

/// When and how people come and go.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The room's URL.
    pub url: String,
    pub binary: bool,
    /// Joins per second, from `joins_from` until `until`.
    pub rate: f64,
    pub joins_from: Instant,
    /// How long each stays: leaves happen at the same rate, once the
    /// first ones are due.
    pub stay: Duration,
    /// The measured window (joins and leaves in it are counted).
    pub measure_from: Instant,
    pub until: Instant,
    /// Connection numbers for the source addresses continue from here, so
    /// that churners spread over the addresses like everyone else.
    pub first_connection: u64,
    pub sources: Sources,
}

/// What happened.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    /// Joins completed (the welcome read) and leaves, within the measured
    /// window.
    pub joins: u64,
    pub leaves: u64,
    /// Joins that failed, over the whole churn.
    pub failed: u64,
}

/// One churner: joins, reads and discards until it is time to go, leaves.
/// Returns whether it joined and whether it left, within the window.
async fn come_and_go(plan: &Plan, connection: u64) -> Option<(bool, bool)> {
    let source = plan.sources.for_connection(connection);
    let mut socket = user::connect(&plan.url, plan.binary, source).await.ok()?;
    let joined_at = Instant::now();
    let leave_at = (joined_at + plan.stay).min(plan.until);
    // Read everything sent meanwhile, as a page would: a churner that did
    // not read would become a slow consumer the server has to deal with.
    let deadline = tokio::time::sleep_until(leave_at);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            frame = socket.next() => if !matches!(frame, Some(Ok(_))) {
                break;
            },
        }
    }
    let left_at = Instant::now();
    let _ = socket.close(None).await;
    let within = |at: Instant| at >= plan.measure_from && at < plan.until;
    Some((within(joined_at), within(left_at)))
}

/// Runs the churn: one newcomer every `1/rate` seconds from `joins_from`
/// until `until`; returns once the last has gone.
pub async fn run(plan: Plan) -> Report {
    let mut report = Report::default();
    if plan.rate <= 0.0 {
        return report;
    }
    let mut schedule =
        tokio::time::interval_at(plan.joins_from, Duration::from_secs_f64(1.0 / plan.rate));
    // A late tick is skipped: the rate in the window is what gets reported.
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut churners = tokio::task::JoinSet::new();
    let mut connection = plan.first_connection;
    loop {
        let tick = schedule.tick().await;
        if tick >= plan.until {
            break;
        }
        let plan = plan.clone();
        churners.spawn(async move { come_and_go(&plan, connection).await });
        connection += 1;
    }
    while let Some(outcome) = churners.join_next().await {
        match outcome {
            Ok(Some((joined, left))) => {
                report.joins += u64::from(joined);
                report.leaves += u64::from(left);
            }
            Ok(None) | Err(_) => report.failed += 1,
        }
    }
    report
}

//! Sleeping until a deadline that may not exist: the one timer helper the
//! room task and the Redis link share, kept in a leaf of its own so that
//! neither has to import the other for it.

use tokio::time::Instant;

/// Sleeps until `deadline`, or forever if there is none.
pub async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

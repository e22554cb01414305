//! The frame budget (`--frame-budget`): the frames the whole server writes
//! per second are split between the rooms that have members, so many busy
//! rooms coalesce instead of each flushing on every move.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use cursors_protocol::ServerMessage;
use support::{Client, TestServer, metric, positions_of, wait_for_metric};
use tokio::time::{Instant, MissedTickBehavior};

const ROOMS: usize = 10;
const MEMBERS: usize = 4;
const BUDGET: u32 = 600;
/// Moves per second per user: unthrottled, 10 rooms of 4 would ask for
/// 10 × 4 × 50 × 4 = 8,000 frames a second, 13 times the budget.
const MOVE_HZ: u64 = 50;
const RUN: Duration = Duration::from_secs(2);

/// One user: moves on a fixed schedule and keeps every position received.
async fn run_user(mut client: Client, user: usize) -> (Client, Vec<ServerMessage>) {
    let mut received = Vec::new();
    let mut schedule = tokio::time::interval(Duration::from_millis(1000 / MOVE_HZ));
    schedule.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let end = Instant::now() + RUN;
    let mut sequence = 0_u32;
    while Instant::now() < end {
        schedule.tick().await;
        sequence += 1;
        // x numbers the move, y the user: every position is distinct.
        let x = f64::from(sequence % 1000) / 1000.0;
        client.move_to(x, user as f64 / 64.0).await;
        received.extend(client.drain_available().await);
    }
    (client, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_busy_rooms_share_the_frame_budget_and_all_keep_moving() {
    let server = TestServer::start_with(|config| {
        config.frame_budget = BUDGET;
        // A tick long enough never to cap the budget's interval (10 rooms
        // of 4 at 600 frames/s: 67 ms), so that the budget alone decides.
        config.tick_ms = 1_000;
        config.reload_grace_ms = 0;
    })
    .await;
    let mut rooms: Vec<Vec<Client>> = Vec::new();
    for room in 0..ROOMS {
        let mut members = Vec::new();
        for _ in 0..MEMBERS {
            members.push(server.join(&format!("busy-{room}")).await);
        }
        rooms.push(members);
    }
    wait_for_metric(&server, "cursors_occupied_rooms", ROOMS as f64).await;
    // Let the joins' frames go out before counting.
    for client in rooms.iter_mut().flatten() {
        client.sync().await;
    }

    let frames_before = metric(&server, "cursors_frames_out_total").await;
    let started = Instant::now();
    let mut users = Vec::new();
    for (room, members) in rooms.into_iter().enumerate() {
        for (index, client) in members.into_iter().enumerate() {
            users.push(tokio::spawn(run_user(client, room * MEMBERS + index)));
        }
    }
    let mut finished = Vec::new();
    for user in users {
        finished.push(user.await.expect("user task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let frames = metric(&server, "cursors_frames_out_total").await - frames_before;
    let per_second = frames / elapsed;
    // Each room may also flush once at once after joining (the leading
    // edge); beyond that the budget holds. Unshared, it is 8,000/s.
    assert!(
        per_second <= f64::from(BUDGET) * 1.5,
        "{per_second:.0} frames/s written for a budget of {BUDGET}"
    );
    assert_eq!(
        metric(&server, "cursors_occupied_rooms").await,
        ROOMS as f64
    );

    // Every user heard from every other member of their room while moving.
    for (user, (client, received)) in finished.iter().enumerate() {
        let room = user / MEMBERS;
        let heard: HashSet<&str> = received
            .iter()
            .flat_map(|message| match message {
                ServerMessage::Cursors { moves } => moves.iter().map(|m| m.id.as_str()).collect(),
                _ => Vec::new(),
            })
            .collect();
        for other in &finished[room * MEMBERS..(room + 1) * MEMBERS] {
            if other.0.id != client.id {
                assert!(
                    heard.contains(other.0.id.as_str()),
                    "user {user} never heard {}",
                    other.0.id
                );
            }
        }
    }

    // And the last position of every user reaches the others (latest wins).
    let mut clients: Vec<Client> = finished.into_iter().map(|(client, _)| client).collect();
    let last: HashMap<String, (f64, f64)> = clients
        .iter()
        .enumerate()
        .map(|(user, client)| (client.id.clone(), (0.999, user as f64 / 64.0)))
        .collect();
    for client in &mut clients {
        let (x, y) = last[&client.id];
        client.move_to(x, y).await;
    }
    for room in clients.chunks_mut(MEMBERS) {
        let ids: Vec<String> = room.iter().map(|client| client.id.clone()).collect();
        for client in room.iter_mut() {
            let mut missing: HashSet<&String> = ids.iter().filter(|id| **id != client.id).collect();
            client
                .recv_until(|message| {
                    missing.retain(|id| !positions_of(message, id).contains(&last[*id]));
                    missing.is_empty().then_some(())
                })
                .await;
        }
    }
    for client in clients {
        client.close().await;
    }
    wait_for_metric(&server, "cursors_occupied_rooms", 0.0).await;
    server.stop().await.unwrap();
}

//! A room of a few hundred real WebSocket users, with a small crowd
//! threshold and a small K: what each of them is sent (docs/PROTOCOL.md,
//! section 4.2).

mod support;

use cursors_protocol::{ClientMessage, ServerMessage};
use support::{Client, TestServer, positions_of};

const USERS: usize = 300;
const THRESHOLD: usize = 20;
const VISIBLE: usize = 5;

/// Where user `index` puts their pointer: spread over the whole board.
fn spot(index: usize) -> (f64, f64) {
    let column = index % 17;
    let row = (index / 17) % 18;
    ((column as f64 + 0.5) / 17.0, (row as f64 + 0.5) / 18.0)
}

async fn crowd_server() -> TestServer {
    TestServer::start_with(|config| {
        config.crowd_threshold = THRESHOLD;
        config.visible_cursors = VISIBLE;
        // Hundreds of connections from one address.
        config.max_connections_per_ip = 10_000;
    })
    .await
}

/// A barrier through the room itself: everything the room sent `client`
/// before it handled this rename is returned (a member hears their own
/// rename, after whatever the room told them earlier).
async fn through_the_room(client: &mut Client, name: &str) -> Vec<ServerMessage> {
    client
        .send(&ClientMessage::Hello {
            name: name.to_owned(),
        })
        .await;
    let mut before = Vec::new();
    loop {
        match client.recv().await {
            ServerMessage::Renamed { id, name: renamed } if id == client.id && renamed == name => {
                return before;
            }
            other => before.push(other),
        }
    }
}

/// The last `crowd` frame's total and the sum of its heat, if any.
fn last_count(messages: &[ServerMessage]) -> Option<(u64, u32)> {
    messages.iter().rev().find_map(|message| match message {
        ServerMessage::Crowd {
            active: true,
            total,
            heat,
        } => Some((*total, heat.iter().sum())),
        _ => None,
    })
}

/// Checks every `cursors` frame's size; returns the last `crowd` frame's
/// total and the sum of its heat, if any.
fn check_frames(messages: &[ServerMessage], who: &str) -> Option<(u64, u32)> {
    for message in messages {
        if let ServerMessage::Cursors { moves } = message {
            assert!(
                moves.len() <= VISIBLE,
                "{who} got {} positions in one frame",
                moves.len()
            );
        }
    }
    last_count(messages)
}

/// The count `client` last heard, waiting for the next one if it has not
/// heard `expected` yet (the count goes out at most once a second).
async fn count_heard(client: &mut Client, heard: Option<(u64, u32)>, expected: u64) -> (u64, u32) {
    if let Some(count) = heard.filter(|(total, _)| *total == expected) {
        return count;
    }
    client
        .recv_until(|message| match message {
            ServerMessage::Crowd {
                active: true,
                total,
                heat,
            } if *total == expected => Some((*total, heat.iter().sum())),
            _ => None,
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_hundreds_is_bounded_counted_and_followable() {
    let server = crowd_server().await;
    let mut users = Vec::with_capacity(USERS);
    for index in 0..USERS {
        let mut user = server.join("square").await;
        let (x, y) = spot(index);
        user.move_to(x, y).await;
        users.push(user);
    }
    // The last ones to come were welcomed into a crowd: at most K − 1 peers.
    assert!(users[USERS - 1].peers().len() < VISIBLE);

    // The first ones saw everyone before the room became a crowd, and on a
    // busy machine one frame of theirs may carry more than K of those
    // positions: read all that, through the room, before counting frames.
    let mut heard = vec![None; USERS];
    for (index, user) in users.iter_mut().enumerate() {
        let before = through_the_room(user, &format!("arrived {index}")).await;
        heard[index] = last_count(&before);
    }

    // Fifty people move for a while; everybody reads everything.
    for round in 0..10 {
        for (index, user) in users.iter_mut().enumerate().step_by(6) {
            let (x, y) = spot(index);
            user.move_to(x, (y + round as f64 * 0.001).min(1.0)).await;
        }
        for (index, user) in users.iter_mut().enumerate() {
            let messages = user.drain_available().await;
            heard[index] = check_frames(&messages, &format!("user {index}")).or(heard[index]);
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    for (index, user) in users.iter_mut().enumerate() {
        let messages = through_the_room(user, &format!("user {index}")).await;
        heard[index] = check_frames(&messages, &format!("user {index}")).or(heard[index]);
    }

    // The count is right: everyone hears that 300 are here.
    for index in [0, USERS / 2, USERS - 1] {
        let (_, on_the_heat) = count_heard(&mut users[index], heard[index], USERS as u64).await;
        assert_eq!(
            on_the_heat, USERS as u32,
            "every cursor is somewhere on the heat"
        );
    }

    // A join costs the others no frame of its own: not one of them hears
    // of the newcomer (only the next count will say 301).
    let newcomer = server.join("square").await;
    for (index, user) in users.iter_mut().enumerate() {
        let told = through_the_room(user, &format!("again {index}")).await;
        heard[index] = check_frames(&told, &format!("user {index}")).or(heard[index]);
        for message in &told {
            assert!(
                !matches!(message, ServerMessage::Joined { peer } if peer.id == newcomer.id),
                "user {index} was told of the join"
            );
            // Other users' barrier renames aside, only counts and positions.
            assert!(
                matches!(
                    message,
                    ServerMessage::Crowd { .. }
                        | ServerMessage::Cursors { .. }
                        | ServerMessage::Renamed { .. }
                ),
                "user {index} got {message:?} after the join"
            );
        }
    }
    count_heard(&mut users[1], heard[1], USERS as u64 + 1).await;

    // Follow: user 0 (top left) follows the last one (bottom right), far
    // outside its view; user 1, its neighbour, does not.
    let far = USERS - 1;
    let far_id = users[far].id.clone();
    users[0]
        .send(&ClientMessage::Follow {
            id: Some(far_id.clone()),
        })
        .await;
    let entered = users[0]
        .recv_until(|message| match message {
            ServerMessage::View { enter, .. } => {
                Some(enter.iter().any(|peer| peer.id == far_id)).filter(|found| *found)
            }
            _ => None,
        })
        .await;
    assert!(entered);
    let (x, y) = spot(far);
    users[far].move_to(x, (y - 0.01).max(0.0)).await;
    let seen = users[0]
        .recv_until(|message| positions_of(message, &far_id).pop())
        .await;
    assert_eq!(seen, (x, (y - 0.01).max(0.0)));
    let neighbour = through_the_room(&mut users[1], "neighbour").await;
    assert!(
        neighbour
            .iter()
            .all(|message| positions_of(message, &far_id).is_empty()),
        "the neighbour does not see the far one"
    );

    // The followed one reconnects (same id, by its token): still followed.
    let token = users[far].resume_token();
    let dropped = users.remove(far);
    dropped.vanish();
    let mut back = Client::connect(&server.ws_url(&format!("?room=square&resume={token}"))).await;
    assert_eq!(back.id, far_id);
    back.move_to(0.95, 0.95).await;
    let seen = users[0]
        .recv_until(|message| positions_of(message, &far_id).pop())
        .await;
    assert_eq!(seen, (0.95, 0.95));

    server.stop().await.unwrap();
}

#[tokio::test]
async fn follow_refuses_a_malformed_id_and_the_connection_stays() {
    let server = crowd_server().await;
    let mut ada = server.join("follow-bad").await;
    ada.send_raw(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"follow","id":""}"#,
    ))
    .await;
    let refusal = ada
        .recv_until(|message| match message {
            ServerMessage::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .await;
    assert!(refusal.contains("id"), "{refusal}");
    // Following someone unknown is fine (they may not be here yet).
    ada.send(&ClientMessage::Follow {
        id: Some("nobody".into()),
    })
    .await;
    ada.sync().await;
    server.stop().await.unwrap();
}

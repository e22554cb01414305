//! Several servers, one room: real `cursors-server` processes sharing a
//! real `redis-server` on loopback, with real WebSocket clients on each.

mod support;

use cursors_protocol::{ClientMessage, ServerMessage};
use cursors_test_support::ServerProcess;
use support::{
    Client, http_get, metric_at, positions_of, start_redis, start_server_process,
    wait_for_metric_at, wait_for_user,
};

/// Test servers: a closed tab leaves at once, so `left` comes without waiting.
const FLAGS: &[&str] = &["--reload-grace-ms", "0"];

async fn join(server: &ServerProcess, room: &str) -> Client {
    Client::connect(&server.ws_url(&format!("?room={room}"))).await
}

/// Waits until `client` knows `id`: from its welcome or a later `joined`.
async fn wait_for_peer(client: &mut Client, id: &str) {
    if client.peer_ids().contains(&id) {
        return;
    }
    client
        .recv_until(|message| match message {
            ServerMessage::Joined { peer } if peer.id == id => Some(()),
            _ => None,
        })
        .await;
}

/// Waits until `client` knows `id` by `name`: from its welcome, or a later
/// `joined` or `renamed`.
async fn wait_for_name(client: &mut Client, id: &str, name: &str) {
    if client
        .peers()
        .iter()
        .any(|peer| peer.id == id && peer.name == name)
    {
        return;
    }
    client
        .recv_until(|message| match message {
            ServerMessage::Joined { peer } if peer.id == id && peer.name == name => Some(()),
            ServerMessage::Renamed { id: who, name: new } if who == id && new == name => Some(()),
            _ => None,
        })
        .await;
}

/// Moves `client` to a spot only it uses, until `watcher` sees it there:
/// proves positions cross from one server to the other.
async fn move_seen_by(client: &mut Client, watcher: &mut Client, spot: (f64, f64)) {
    client.move_to(spot.0, spot.1).await;
    let id = client.id.clone();
    watcher
        .recv_until(|message| positions_of(message, &id).contains(&spot).then_some(()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_two_servers_share_one_room() {
    let redis = start_redis();
    let one = start_server_process(&redis.url(), FLAGS);
    let two = start_server_process(&redis.url(), FLAGS);
    let mut ada = join(&one, "shared").await;
    // Colours are picked from who is known: let Ada's record land first.
    wait_for_user(&redis, "shared", &ada.id);
    let mut bo = join(&two, "shared").await;
    wait_for_peer(&mut bo, &ada.id).await;
    wait_for_peer(&mut ada, &bo.id).await;
    assert_ne!(ada.id, bo.id);
    assert_ne!(ada.color, bo.color, "colours stay distinct across servers");

    // Names cross.
    ada.send(&ClientMessage::Hello { name: "Ada".into() }).await;
    let renamed = bo
        .recv_until(|message| match message {
            ServerMessage::Renamed { id, name } if *id == ada.id => Some(name.clone()),
            _ => None,
        })
        .await;
    assert_eq!(renamed, "Ada");

    // Moves cross, in order: every position bo receives is newer than the last.
    for step in 1..=40_u32 {
        ada.move_to(f64::from(step) / 64.0, 0.5).await;
    }
    let mut seen = Vec::new();
    bo.recv_until(|message| {
        seen.extend(positions_of(message, &ada.id));
        seen.last()
            .is_some_and(|last| *last == (40.0 / 64.0, 0.5))
            .then_some(())
    })
    .await;
    assert!(
        seen.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "out of order: {seen:?}"
    );

    // Chat crosses.
    ada.send(&ClientMessage::Say {
        text: "hello there".into(),
    })
    .await;
    let said = bo
        .recv_until(|message| match message {
            ServerMessage::Said { id, text } if *id == ada.id => Some(text.clone()),
            _ => None,
        })
        .await;
    assert_eq!(said, "hello there");

    // The social layer crosses the same way, in the order Ada sent it.
    ada.send(&ClientMessage::Spotlight { on: true }).await;
    ada.send(&ClientMessage::React {
        emoji: "🎉".into()
    })
    .await;
    ada.send(&ClientMessage::Point { x: 0.25, y: 0.75 }).await;
    ada.send(&ClientMessage::Laser { on: true }).await;
    ada.send(&ClientMessage::Say {
        text: "look".into(),
    })
    .await;
    let mut social = Vec::new();
    bo.recv_until(|message| match message {
        ServerMessage::Said { id, text } if *id == ada.id && text == "look" => Some(()),
        ServerMessage::Reacted { id, .. }
        | ServerMessage::Pointed { id, .. }
        | ServerMessage::Laser { id, .. }
        | ServerMessage::Spotlight { id, .. }
            if *id == ada.id =>
        {
            social.push(message.clone());
            None
        }
        _ => None,
    })
    .await;
    let id = ada.id.clone();
    assert_eq!(
        social,
        [
            ServerMessage::Spotlight {
                id: id.clone(),
                on: true
            },
            ServerMessage::Reacted {
                id: id.clone(),
                emoji: "🎉".into()
            },
            ServerMessage::Pointed {
                id: id.clone(),
                x: 0.25,
                y: 0.75
            },
            ServerMessage::Laser { id, on: true },
        ]
    );

    // A newcomer on the second server is welcomed with Ada as she is now.
    let cy = join(&two, "shared").await;
    let listed = cy
        .peers()
        .iter()
        .find(|peer| peer.id == ada.id)
        .expect("Ada listed in the welcome")
        .clone();
    assert_eq!(listed.name, "Ada");
    assert_eq!(
        listed.position(),
        Some(cursors_protocol::Point {
            x: 40.0 / 64.0,
            y: 0.5
        })
    );

    // Leaving crosses too.
    let ada_id = ada.id.clone();
    ada.close().await;
    assert_eq!(bo.next_left().await, ada_id);
    // Other rooms are not involved.
    let elsewhere = join(&two, "elsewhere").await;
    assert!(elsewhere.peers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_of_a_killed_server_vanish_from_the_others() {
    let redis = start_redis();
    let mut one = start_server_process(&redis.url(), FLAGS);
    let two = start_server_process(&redis.url(), FLAGS);
    let mut ada = join(&one, "crash").await;
    let mut bo = join(&two, "crash").await;
    wait_for_peer(&mut bo, &ada.id).await;
    move_seen_by(&mut ada, &mut bo, (0.25, 0.25)).await;

    let started = std::time::Instant::now();
    one.kill();
    // Within the heartbeat's bound (GHOST_BOUND, 5 s); the wait itself is
    // bounded by the harness's patience.
    assert_eq!(bo.next_left().await, ada.id);
    eprintln!("ghost removed after {:?}", started.elapsed());
    // And a newcomer does not meet the ghost.
    let cy = join(&two, "crash").await;
    assert_eq!(cy.peer_ids(), [bo.id.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_server_died_resumes_on_another_with_the_same_identity() {
    let redis = start_redis();
    let mut one = start_server_process(&redis.url(), FLAGS);
    let two = start_server_process(&redis.url(), FLAGS);
    let mut ada = join(&one, "resume").await;
    ada.send(&ClientMessage::Hello { name: "Ada".into() }).await;
    let mut bo = join(&two, "resume").await;
    wait_for_name(&mut bo, &ada.id, "Ada").await;
    let (id, color, token) = (ada.id.clone(), ada.color.clone(), ada.resume_token());

    one.kill();
    drop(ada);
    // The page reconnects, and the load balancer sends it to the survivor.
    let mut back = Client::connect(&two.ws_url(&format!("?room=resume&resume={token}"))).await;
    assert_eq!(
        (back.id.as_str(), back.name.as_str(), back.color.as_str()),
        (id.as_str(), "Ada", color.as_str())
    );
    assert_eq!(back.peer_ids(), [bo.id.as_str()]);
    // Bo sees Ada move on, and she does not leave when her old server's
    // heartbeat runs out.
    let mut seen = Vec::new();
    back.move_to(0.75, 0.75).await;
    bo.recv_until(|message| {
        seen.push(message.clone());
        positions_of(message, &id)
            .contains(&(0.75, 0.75))
            .then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(6)).await; // past GHOST_BOUND
    seen.extend(bo.sync().await);
    assert!(
        !seen
            .iter()
            .any(|message| matches!(message, ServerMessage::Left { id: left } if *left == id)),
        "Ada left after resuming: {seen:?}"
    );
    // The token is spent; the new welcome's works.
    assert_ne!(back.resume_token(), token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_is_survived_and_presence_resynchronised() {
    let mut redis = start_redis();
    let one = start_server_process(&redis.url(), FLAGS);
    let two = start_server_process(&redis.url(), FLAGS);
    let mut ada = join(&one, "outage").await;
    let mut bo = join(&two, "outage").await;
    wait_for_peer(&mut bo, &ada.id).await;

    redis.kill();
    for server in [&one, &two] {
        wait_for_metric_at(server.addr, "cursors_backplane_up", 0.0).await;
        assert_eq!(http_get(server.addr, "/healthz").await.0, 200);
    }
    // Each server goes on serving its own users.
    let mut cy = join(&one, "outage").await;
    wait_for_peer(&mut ada, &cy.id).await;
    move_seen_by(&mut cy, &mut ada, (0.5, 0.125)).await;

    // Redis comes back empty: both servers re-synchronise, and Bo learns of
    // Cy, who joined while Redis was away.
    redis.restart().expect("redis-server restarts");
    for server in [&one, &two] {
        wait_for_metric_at(server.addr, "cursors_backplane_up", 1.0).await;
    }
    wait_for_peer(&mut bo, &cy.id).await;
    move_seen_by(&mut cy, &mut bo, (0.5, 0.375)).await;
    move_seen_by(&mut bo, &mut cy, (0.625, 0.375)).await;
    // A newcomer sees everyone, from the store written again.
    let mut dee = join(&two, "outage").await;
    for id in [&ada.id, &bo.id, &cy.id] {
        wait_for_peer(&mut dee, id).await;
    }
    // The outage and its end were each logged once.
    for server in [&one, &two] {
        let log = server.logged();
        assert_eq!(log.matches("Redis unreachable").count(), 1, "{log}");
        assert_eq!(log.matches("Redis is back").count(), 1, "{log}");
    }
}

/// The race that the restart test above only sometimes meets: another
/// server's users are rewritten into the room's hash just *after* this one
/// re-read it, and their announcement went out while this server's
/// subscriber was still reconnecting. Here the other server is played by
/// the test, which writes its record straight into Redis and announces
/// nothing: only a second read can find it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_rewritten_after_the_resync_read_is_still_seen() {
    let mut redis = start_redis();
    let one = start_server_process(&redis.url(), FLAGS);
    let mut ada = join(&one, "late").await;

    redis.kill();
    wait_for_metric_at(one.addr, "cursors_backplane_up", 0.0).await;
    redis.restart().expect("redis-server restarts");
    wait_for_metric_at(one.addr, "cursors_backplane_up", 1.0).await;
    // The room has re-synchronised (it wrote Ada back), and its read of the
    // others is over well within this pause.
    wait_for_user(&redis, "late", &ada.id);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Now the other server's rewrite lands, with a heartbeat that keeps it
    // alive for the whole test.
    redis
        .cli(&["ZADD", "cursors:servers", "99999999999999", "other-server"])
        .expect("redis-cli");
    let record = r##"{"id":"zz0001","name":"Zed","color":"#0090ff","away":false,"server":"other-server","token":"zz-token"}"##;
    redis
        .cli(&["HSET", "cursors:{room:late}:users", "zz0001", record])
        .expect("redis-cli");
    wait_for_name(&mut ada, "zz0001", "Zed").await;
}

/// A room whose first subscription and read timed out while Redis stalled
/// (connected, but answering nothing) tries again every second, even
/// while its users keep it busy. A busy room used to restart that wait on
/// every command and so never read who was already in the room elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_room_that_could_not_subscribe_keeps_trying() {
    let redis = start_redis();
    let one = start_server_process(&redis.url(), FLAGS);
    let two = start_server_process(&redis.url(), FLAGS);
    for server in [&one, &two] {
        wait_for_metric_at(server.addr, "cursors_backplane_up", 1.0).await;
    }
    // Bo is in the room on server two, and keeps still.
    let bo = join(&two, "busy").await;
    wait_for_user(&redis, "busy", &bo.id);
    // Redis answers nothing for 1.5 s: the room opening on server one
    // meanwhile cannot subscribe, nor read Bo's record, within 500 ms.
    let port = redis.port.to_string();
    let stall = std::thread::spawn(move || {
        std::process::Command::new("redis-cli")
            .args(["-p", &port, "DEBUG", "SLEEP", "1.5"])
            .output()
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut ada = join(&one, "busy").await;
    assert!(
        !ada.peer_ids().contains(&bo.id.as_str()),
        "the stall worked"
    );
    // Someone moves without a pause, so the room task is never idle.
    let mut mover = join(&one, "busy").await;
    let busy = tokio::spawn(async move {
        for step in 0..4_000_u32 {
            mover.move_to(f64::from(step % 100) / 100.0, 0.5).await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            // Read, so the server never closes it as a stuck reader.
            mover.drain_available().await;
        }
    });
    let _ = stall.join();
    // Well before the mover stops (about 20 s), with a second pass to spare.
    let learned = tokio::time::timeout(
        std::time::Duration::from_secs(8),
        wait_for_peer(&mut ada, &bo.id),
    )
    .await;
    busy.abort();
    assert!(
        learned.is_ok(),
        "the busy room never read who was already there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_that_hears_from_the_group_before_its_first_user_still_admits_them() {
    let redis = start_redis();
    let two = start_server_process(&redis.url(), FLAGS);
    let _one = start_server_process(&redis.url(), FLAGS);
    // Past the first heartbeats, so that every new room is told who is
    // alive the moment it opens, before it has admitted anyone.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let joins = (0..20).map(|_| join(&two, "crowd"));
    let clients = futures_util::future::join_all(joins).await;
    assert_eq!(clients.len(), 20, "every one of them was welcomed");
}

/// Found by the soak (`scripts/soak.sh`): every room flushes at the same
/// tick, so another server hears a burst of messages at once, and fred's
/// channel between the subscriber and our dispatcher held only 32 of them:
/// on a busy machine 2 to 4% of the positions crossing servers were lost.
/// Here sixty rooms, each a mover on one server and a watcher on the
/// other, move at once, three times; every watcher must see its mover's
/// last spot, and nothing may be dropped on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_from_every_room_at_once_crosses_without_a_drop() {
    const ROOMS: usize = 60;
    let redis = start_redis();
    let flags = ["--reload-grace-ms", "0", "--max-connections-per-ip", "1000"];
    let one = start_server_process(&redis.url(), &flags);
    let two = start_server_process(&redis.url(), &flags);
    let mut pairs = Vec::new();
    for room in 0..ROOMS {
        let name = format!("burst-{room}");
        let mover = join(&one, &name).await;
        wait_for_user(&redis, &name, &mover.id);
        let mut watcher = join(&two, &name).await;
        wait_for_peer(&mut watcher, &mover.id).await;
        pairs.push((mover, watcher));
    }
    for round in 1..=3_u32 {
        for (room, (mover, _)) in pairs.iter_mut().enumerate() {
            mover
                .move_to(f64::from(round) / 4.0, (room as f64 + 0.5) / ROOMS as f64)
                .await;
        }
    }
    for (room, (mover, watcher)) in pairs.iter_mut().enumerate() {
        let last = (0.75, (room as f64 + 0.5) / ROOMS as f64);
        let id = mover.id.clone();
        watcher
            .recv_until(|message| positions_of(message, &id).contains(&last).then_some(()))
            .await;
    }
    assert_eq!(
        metric_at(two.addr, "cursors_backplane_dropped_total").await,
        0.0,
        "messages from the other server were dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_spent_on_one_server_is_spent_on_all() {
    let redis = start_redis();
    let one = start_server_process(&redis.url(), FLAGS);
    let two = start_server_process(&redis.url(), FLAGS);
    let ada = join(&one, "spent").await;
    let (id, first_token) = (ada.id.clone(), ada.resume_token());
    wait_for_user(&redis, "spent", &id);
    drop(ada); // the connection vanishes: Ada may come back within the grace
    let back = Client::connect(&one.ws_url(&format!("?room=spent&resume={first_token}"))).await;
    assert_eq!(back.id, id, "resumed on the same server");
    // The first token was spent by that resume: on another server it is
    // just unknown, and gives a new identity instead of a takeover.
    let stranger = Client::connect(&two.ws_url(&format!("?room=spent&resume={first_token}"))).await;
    assert_ne!(stranger.id, id);
    // The fresh token works there, once.
    let second_token = back.resume_token();
    let moved = Client::connect(&two.ws_url(&format!("?room=spent&resume={second_token}"))).await;
    assert_eq!(moved.id, id, "the current token resumes anywhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_spread_over_two_servers_is_counted_and_seen_across() {
    let redis = start_redis();
    let crowd_flags = [FLAGS, &["--crowd-threshold", "6", "--visible-cursors", "3"]].concat();
    let one = start_server_process(&redis.url(), &crowd_flags);
    let two = start_server_process(&redis.url(), &crowd_flags);
    // Ten on each server, each server's people in their own corner.
    let mut on_one = Vec::new();
    let mut on_two = Vec::new();
    for index in 0..10 {
        let offset = index as f64 * 0.01;
        let mut near = join(&one, "throng").await;
        near.move_to(0.05 + offset, 0.05).await;
        wait_for_user(&redis, "throng", &near.id);
        on_one.push(near);
        let mut far = join(&two, "throng").await;
        far.move_to(0.9, 0.85 + offset).await;
        wait_for_user(&redis, "throng", &far.id);
        on_two.push(far);
    }
    // Both servers count everyone, wherever they are connected.
    for client in [&mut on_one[0], &mut on_two[0]] {
        client
            .recv_until(|message| match message {
                ServerMessage::Crowd {
                    active: true,
                    total: 20,
                    ..
                } => Some(()),
                _ => None,
            })
            .await;
    }
    // Someone on server two comes over to the top-left corner and keeps
    // moving there: near and active, they enter the view of the people
    // on server one, and their positions cross.
    let visitor_id = on_two[5].id.clone();
    let watcher = &mut on_one[0];
    let mut step = 0;
    let entered = loop {
        step += 1;
        on_two[5]
            .move_to(0.06, 0.06 + (step % 10) as f64 * 0.001)
            .await;
        let messages = watcher.drain_available().await;
        if messages.iter().any(|message| {
            matches!(message, ServerMessage::View { enter, .. }
                if enter.iter().any(|peer| peer.id == visitor_id))
        }) {
            break true;
        }
        assert!(step < 500, "the visitor never entered the view");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(entered);
    let spot = (0.07, 0.07);
    move_seen_by(&mut on_two[5], &mut on_one[0], spot).await;
}

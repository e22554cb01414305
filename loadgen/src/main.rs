//! `cursors-loadgen`: drives a running cursors server with simulated users
//! over real WebSockets and prints one row of figures per run.
//!
//! It is a benchmark, not a test: it measures and prints, and asserts
//! nothing. `scripts/bench.sh` runs the scenarios of docs/BENCHMARKS.md in one go.
//!
//! The generator runs on one thread, so on a 2-core machine the server keeps
//! the other core; a run in which the generator itself used ≥ 95% of its
//! core is marked invalid, because its figures would measure the generator.

mod coords;
mod procstat;
mod user;

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use futures_util::StreamExt;
use tokio::time::Instant;

#[derive(Debug, Parser)]
#[command(
    name = "cursors-loadgen",
    about = "Load generator for the cursors server",
    args_override_self = true
)]
struct Args {
    /// Server base URL. Several (repeat the flag, or comma-separate) spread
    /// each room's users over servers sharing one Redis, in turn.
    #[arg(long, default_value = "ws://127.0.0.1:3000", value_delimiter = ',')]
    url: Vec<String>,
    /// Simulated users.
    #[arg(long, default_value_t = 10)]
    users: u64,
    /// Rooms; users are dealt round-robin.
    #[arg(long, default_value_t = 1)]
    rooms: u64,
    /// Moves per second per user; 0 makes every user idle.
    #[arg(long, default_value_t = 60.0)]
    rate: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of moving before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// PID of the server, for its CPU and memory from /proc (repeat for
    /// several servers: their CPU and memory are added up).
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Users (the first ones, all in room 0) that stop reading and moving.
    #[arg(long, default_value_t = 0)]
    stall_users: u64,
    /// Seconds into the measured window when they stop.
    #[arg(long, default_value_t = 0.0)]
    stall_after: f64,
    /// Seconds they stay stopped.
    #[arg(long, default_value_t = 30.0)]
    stall_for: f64,
    /// A delivery later than this many milliseconds is not fresh.
    #[arg(long, default_value_t = 50)]
    fresh_ms: u64,
    /// Connections opened at once while connecting.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Users per room that time what they receive (the rest read and
    /// discard): latency and delivery are measured on them.
    #[arg(long, default_value_t = 32)]
    observers_per_room: u64,
    /// Ask for binary `cursors` frames (subprotocol cursors.binary.v1).
    #[arg(long)]
    binary: bool,
    /// Names for the row.
    #[arg(long, default_value = "run")]
    scenario: String,
    #[arg(long, default_value = "?")]
    fanout: String,
    /// Print the table header before the row.
    #[arg(long)]
    header: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let server_pids: Vec<String> = args.server_pid.iter().map(u32::to_string).collect();
    let server_sample = || procstat::sample_all(&server_pids);
    let servers = user::ServerMap {
        servers: args.url.len().max(1) as u64,
        rooms: args.rooms.max(1),
    };
    let room_prefix = format!("bench{}", std::process::id());

    // Connect everyone first, so the measured window has no handshakes.
    let before_connect = server_sample()?;
    let urls: Vec<String> = (0..args.users)
        .map(|user| {
            let base = &args.url[servers.server_of(user) as usize % args.url.len().max(1)];
            format!(
                "{}/ws?room={room_prefix}-{}",
                base.trim_end_matches('/'),
                user % args.rooms.max(1)
            )
        })
        .collect();
    let mut sockets = Vec::with_capacity(urls.len());
    let mut connecting =
        futures_util::stream::iter(urls.iter().map(|url| user::connect(url, args.binary)))
            .buffered(args.connect_concurrency.max(1));
    while let Some(socket) = connecting.next().await {
        sockets.push(socket.context("a simulated user could not connect")?);
    }
    drop(connecting);
    tokio::time::sleep(Duration::from_millis(500)).await; // let the server settle
    let connected = server_sample()?;

    let clock = user::SendClock::new(args.users);
    let start = Instant::now() + Duration::from_millis(100);
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let stop_at = measure_from + Duration::from_secs_f64(args.duration);
    let stall_window = (args.stall_users > 0).then(|| {
        let from = measure_from + Duration::from_secs_f64(args.stall_after);
        (from, from + Duration::from_secs_f64(args.stall_for))
    });
    let period = 1.0 / args.rate.max(0.001);
    let rooms = args.rooms.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, socket) in sockets.into_iter().enumerate() {
        let user = index as u64;
        let plan = user::Plan {
            user,
            users: args.users,
            rate: args.rate,
            phase: Duration::from_secs_f64(period * (user as f64 * 0.618_034).fract()),
            start,
            measure_from,
            stop_at,
            // Users are dealt round-robin, so room 0 holds users 0, R, 2R...;
            // its first `stall_users` members stall.
            stall: stall_window
                .filter(|_| user.is_multiple_of(rooms) && user / rooms < args.stall_users),
            fresh_within: Duration::from_millis(args.fresh_ms),
            observer: user / rooms < args.observers_per_room,
            servers,
        };
        let stalled = plan.stall.is_some();
        let clock = clock.clone();
        let observer = plan.observer;
        tasks.spawn(async move { (stalled, observer, user::run(socket, plan, clock).await) });
    }

    // Watch the server's memory while the run goes on.
    tokio::time::sleep_until(measure_from).await;
    let measure_start = (server_sample()?, procstat::sample("self")?);
    let mut peak_rss = measure_start.0.map(|sample| sample.rss_bytes).unwrap_or(0);
    while Instant::now() < stop_at {
        tokio::time::sleep(Duration::from_millis(500).min(stop_at - Instant::now())).await;
        if let Some(sample) = server_sample()? {
            peak_rss = peak_rss.max(sample.rss_bytes);
        }
    }
    let measure_end = (server_sample()?, procstat::sample("self")?);

    let mut latency = user::new_latency_histogram();
    let mut cross_server = user::new_latency_histogram();
    let (mut delivered, mut fresh, mut reordered, mut closed_early) = (0u64, 0u64, 0u64, 0u64);
    let mut sent = 0u64;
    while let Some(joined) = tasks.join_next().await {
        let (stalled, observer, report) = joined?;
        closed_early += u64::from(report.closed_early);
        if stalled {
            continue; // the disturbance: neither scheduled nor measured
        }
        sent += report.sent;
        if !observer {
            continue; // non-observers only load the server
        }
        if let Some(histogram) = &report.latency_micros {
            latency.add(histogram)?;
        }
        if let Some(histogram) = &report.cross_server_micros {
            cross_server.add(histogram)?;
        }
        delivered += report.delivered;
        reordered += report.reordered;
        fresh += report.fresh;
    }

    // What the observers should have received (every moving member of their
    // room but themselves, at the rate), and what the whole room should have.
    let (mut expected_per_second, mut observed_expected_per_second) = (0.0, 0.0);
    let mut scheduled_per_second = 0.0;
    for room in 0..rooms {
        let members = (args.users + rooms - 1 - room) / rooms;
        let stalled = if room == 0 {
            args.stall_users.min(members)
        } else {
            0
        };
        let movers = members - stalled;
        scheduled_per_second += movers as f64 * args.rate;
        let observers = members.min(args.observers_per_room).saturating_sub(stalled);
        expected_per_second += (movers * members.saturating_sub(1)) as f64 * args.rate;
        observed_expected_per_second += (observers * movers.saturating_sub(1)) as f64 * args.rate;
    }
    let seconds = args.duration;
    let millis = |quantile: f64| latency.value_at_quantile(quantile) as f64 / 1000.0;
    let generator_cores = procstat::cores_between(&measure_start.1, &measure_end.1);
    let server_cores = match (measure_start.0, measure_end.0) {
        (Some(start), Some(end)) => format!("{:.2}", procstat::cores_between(&start, &end)),
        _ => "-".into(),
    };
    let mib = |bytes: u64| format!("{:.1}", bytes as f64 / (1024.0 * 1024.0));
    let (rss, rss_per_connection) = match (before_connect, connected, measure_end.0) {
        (Some(before), Some(connected), Some(_)) => (
            format!("{}→{}", mib(connected.rss_bytes), mib(peak_rss)),
            format!(
                "{:.1}",
                connected.rss_bytes.saturating_sub(before.rss_bytes) as f64
                    / args.users.max(1) as f64
                    / 1024.0
            ),
        ),
        _ => ("-".into(), "-".into()),
    };
    // The generator must keep its own schedule: moves it failed to send
    // would be charged to the server as positions never delivered.
    let sent_of_schedule =
        (scheduled_per_second > 0.0).then(|| sent as f64 / (scheduled_per_second * args.duration));
    let valid = if generator_cores >= 0.95 {
        "NO: generator saturated"
    } else if sent_of_schedule.is_some_and(|share| share < 0.99) {
        "NO: generator behind its schedule"
    } else {
        "yes"
    };
    let fraction = |count: u64| {
        (observed_expected_per_second > 0.0)
            .then(|| count as f64 / (observed_expected_per_second * seconds))
    };
    let share = |count: u64| {
        fraction(count).map_or("-".into(), |fraction| format!("{:.1}%", 100.0 * fraction))
    };
    // Observers are a sample of receivers: scale their share to the room.
    let delivered_per_second =
        fraction(delivered).map_or(0.0, |fraction| fraction * expected_per_second);
    // Server CPU per delivered position, in microseconds: what coalescing
    // (and, across servers, the backplane) costs per position that arrives.
    let cpu_per_position = match (measure_start.0, measure_end.0) {
        (Some(start), Some(end)) if delivered_per_second > 0.0 => format!(
            "{:.3}",
            procstat::cores_between(&start, &end) * 1e6 / delivered_per_second
        ),
        _ => "-".into(),
    };
    let cross = if servers.servers > 1 && !cross_server.is_empty() {
        let at = |quantile: f64| cross_server.value_at_quantile(quantile) as f64 / 1000.0;
        format!("{:.2} / {:.2} / {:.2}", at(0.5), at(0.99), at(0.999))
    } else {
        "-".into()
    };
    if args.header {
        println!(
            "| scenario | fanout | encoding | users | rooms | servers | Hz | delivered/s | of N(N−1)·Hz | fresh: ≤{}ms of delivered | fresh of N(N−1)·Hz | p50 ms | p99 ms | p99.9 ms | max ms | cross-server p50 / p99 / p99.9 ms | server CPU | server CPU µs per delivered | server RSS MiB (idle→peak) | RSS/conn KiB | gen CPU | sent of schedule | closed early | out of order | valid |",
            args.fresh_ms
        );
        println!(
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
    }
    println!(
        "| {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {} | {} | {} | {:.2} | {} | {} | {} | {} |",
        args.scenario,
        args.fanout,
        if args.binary { "binary" } else { "JSON" },
        args.users,
        rooms,
        servers.servers,
        args.rate,
        delivered_per_second,
        share(delivered),
        if delivered > 0 {
            format!("{:.1}%", 100.0 * fresh as f64 / delivered as f64)
        } else {
            "-".into()
        },
        // The strict reading: every position sent counts, so one merged
        // into a newer one by coalescing counts as not fresh.
        share(fresh),
        millis(0.5),
        millis(0.99),
        millis(0.999),
        latency.max() as f64 / 1000.0,
        cross,
        server_cores,
        cpu_per_position,
        rss,
        rss_per_connection,
        generator_cores,
        sent_of_schedule.map_or("-".into(), |share| format!("{:.1}%", 100.0 * share)),
        closed_early,
        reordered,
        valid,
    );
    Ok(())
}

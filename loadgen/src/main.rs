//! `cursors-loadgen`: drives a running cursors server with simulated users
//! over real WebSockets and prints one row of figures per run.
//!
//! It is a benchmark, not a test: it measures and prints, and asserts
//! nothing. `scripts/bench.sh` runs the scenarios of docs/BENCHMARKS.md in one go.
//!
//! Two tables. The relay table (the default) measures rooms where
//! everybody moves and everybody sees everybody, against N(N−1)·Hz. The
//! crowd table (`--crowd`) measures what each receiver gets in a room
//! where every user has a spot on the board and only some move
//! (`--moving-fraction`), and, in a second window, what people joining and
//! leaving (`--churn-rate`) cost the others.
//!
//! The generator runs on one thread unless told otherwise (`--threads`),
//! so on a 2-core machine the server keeps the other core; a run in which
//! the generator itself used ≥ 95% of what it may use, fell behind its
//! schedule, or (in the crowd table) left frames unread in its sockets, is
//! marked invalid, because its figures would measure the generator.

mod backlog;
mod churn;
mod coords;
mod hearing;
mod procstat;
mod user;
mod validity;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use user::{Deliveries, Report, Traffic};

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
    /// Moves per second per moving user; 0 makes every user idle.
    #[arg(long, default_value_t = 60.0)]
    rate: f64,
    /// Share of the users that move (spread evenly over the user numbers:
    /// with 0.1, every tenth); the others only listen.
    #[arg(long, default_value_t = 1.0)]
    moving_fraction: f64,
    /// The crowd scenario and its table: every user first places its
    /// pointer at its own spot of the board; per-receiver figures.
    #[arg(long)]
    crowd: bool,
    /// Measured seconds (of each window, with churn).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of moving before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// People joining (and, once the first have stayed `--churn-stay`,
    /// leaving) per second in a second measured window after the steady
    /// one, into room 0; they never move. 0: no churn window.
    #[arg(long, default_value_t = 0.0)]
    churn_rate: f64,
    /// Seconds each of them stays.
    #[arg(long, default_value_t = 3.0)]
    churn_stay: f64,
    /// At the end, check that every observer heard every moving member of
    /// its room within about this many seconds of the end, and print the
    /// pairs that did not (0: no check).
    #[arg(long, default_value_t = 0.0)]
    final_check: f64,
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
    /// Loopback addresses to connect from (127.0.0.1, 127.0.0.2...), in
    /// turn, so that ten thousand connections never run one address out of
    /// ephemeral ports. 1: the kernel's choice.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..))]
    source_addresses: u8,
    /// Runtime threads of the generator (1: a single-threaded runtime).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Users per room that time what they receive (the rest only count
    /// frames and bytes): latency and delivery are measured on them.
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
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(args.threads))
            .enable_all()
            .build()?
    };
    runtime.block_on(run(args))
}

/// The windows of a run, in order: warm-up, steady, then (with churn) the
/// churners' ramp (the first ones join, none leaves yet) and the churn.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    measure_from: Instant,
    stop_at: Instant,
    /// The measured churn window, after the ramp from `stop_at`.
    churn: Option<(Instant, Instant)>,
}

impl Timeline {
    fn end(&self) -> Instant {
        self.churn.map_or(self.stop_at, |(_, until)| until)
    }
}

/// Who a user is in the run.
#[derive(Debug, Clone, Copy)]
struct Role {
    room: u64,
    stalled: bool,
    mover: bool,
    observer: bool,
}

fn role_of(args: &Args, user: u64) -> Role {
    let rooms = args.rooms.max(1);
    // Users are dealt round-robin, so room 0 holds users 0, R, 2R...; its
    // first `stall_users` members stall.
    let stalled =
        args.stall_users > 0 && user.is_multiple_of(rooms) && user / rooms < args.stall_users;
    Role {
        room: user % rooms,
        stalled,
        mover: args.rate > 0.0 && user::is_mover(user, args.moving_fraction),
        observer: user / rooms < args.observers_per_room,
    }
}

/// The server's and the generator's CPU over one window.
struct WindowCpu {
    server: Option<(procstat::Sample, procstat::Sample)>,
    generator: (procstat::Sample, procstat::Sample),
}

impl WindowCpu {
    fn server_cores(&self) -> Option<f64> {
        self.server
            .map(|(start, end)| procstat::cores_between(&start, &end))
    }

    fn generator_cores(&self) -> f64 {
        procstat::cores_between(&self.generator.0, &self.generator.1)
    }
}

/// Every user's report, added up.
struct Totals {
    steady_deliveries: DeliveryTotals,
    churn_deliveries: DeliveryTotals,
    reordered: u64,
    closed_early: u64,
    sent: u64,
    sent_during_churn: u64,
    largest_cursors_frame: usize,
    /// Users that are not stalled: the receivers of the per-receiver figures.
    receivers: u64,
    /// Observers among them.
    observers: u64,
    steady: PerReceiver,
    during_churn: PerReceiver,
}

/// One window's traffic over all receivers: sums, and the extremes.
#[derive(Debug, Clone, Copy)]
struct PerReceiver {
    frames: u64,
    bytes: u64,
    cursor_frames: u64,
    fewest_cursor_frames: u64,
    most_bytes: u64,
}

impl Default for PerReceiver {
    fn default() -> Self {
        Self {
            frames: 0,
            bytes: 0,
            cursor_frames: 0,
            fewest_cursor_frames: u64::MAX,
            most_bytes: 0,
        }
    }
}

impl PerReceiver {
    fn add(&mut self, traffic: &Traffic) {
        self.frames += traffic.frames;
        self.bytes += traffic.bytes;
        self.cursor_frames += traffic.cursor_frames;
        self.fewest_cursor_frames = self.fewest_cursor_frames.min(traffic.cursor_frames);
        self.most_bytes = self.most_bytes.max(traffic.bytes);
    }
}

impl Totals {
    fn new() -> Self {
        Self {
            steady_deliveries: DeliveryTotals::new(),
            churn_deliveries: DeliveryTotals::new(),
            reordered: 0,
            closed_early: 0,
            sent: 0,
            sent_during_churn: 0,
            largest_cursors_frame: 0,
            receivers: 0,
            observers: 0,
            steady: PerReceiver::default(),
            during_churn: PerReceiver::default(),
        }
    }

    fn add(&mut self, role: Role, report: &Report) -> Result<()> {
        self.closed_early += u64::from(report.closed_early);
        if role.stalled {
            return Ok(()); // the disturbance: neither scheduled nor measured
        }
        self.sent += report.sent;
        self.sent_during_churn += report.sent_during_churn;
        self.receivers += 1;
        self.steady.add(&report.steady);
        self.during_churn.add(&report.during_churn);
        if !role.observer {
            return Ok(()); // non-observers only load the server and count
        }
        self.observers += 1;
        self.steady_deliveries.add(&report.steady_deliveries)?;
        self.churn_deliveries.add(&report.churn_deliveries)?;
        self.reordered += report.reordered;
        self.largest_cursors_frame = self.largest_cursors_frame.max(report.largest_cursors_frame);
        Ok(())
    }
}

/// One window's deliveries over all observers.
struct DeliveryTotals {
    latency: Histogram<u64>,
    cross_server: Histogram<u64>,
    delivered: u64,
    fresh: u64,
}

impl DeliveryTotals {
    fn new() -> Self {
        Self {
            latency: user::new_latency_histogram(),
            cross_server: user::new_latency_histogram(),
            delivered: 0,
            fresh: 0,
        }
    }

    fn add(&mut self, deliveries: &Deliveries) -> Result<()> {
        for (total, histogram) in [
            (&mut self.latency, &deliveries.latency_micros),
            (&mut self.cross_server, &deliveries.cross_server_micros),
        ] {
            if let Some(histogram) = histogram {
                total.add(histogram)?;
            }
        }
        self.delivered += deliveries.delivered;
        self.fresh += deliveries.fresh;
        Ok(())
    }
}

/// The port of each server URL, to find the generator's sockets.
fn server_ports(urls: &[String]) -> Result<Vec<u16>> {
    urls.iter()
        .map(|url| {
            let request = url.as_str().into_client_request()?;
            request
                .uri()
                .port_u16()
                .with_context(|| format!("{url} names no port"))
        })
        .collect()
}

async fn run(args: Args) -> Result<()> {
    let server_pids: Vec<String> = args.server_pid.iter().map(u32::to_string).collect();
    let server_sample = || procstat::sample_all(&server_pids);
    let servers = user::ServerMap {
        servers: args.url.len().max(1) as u64,
        rooms: args.rooms.max(1),
    };
    let sources = user::Sources {
        addresses: args.source_addresses,
    };
    let churners_at_once = (args.churn_rate * (args.churn_stay + 1.0)).ceil() as u64;
    let descriptors = args.users + churners_at_once + 64;
    let limit = procstat::open_files_limit()?;
    if descriptors > limit {
        bail!(
            "{descriptors} connections need more open files than the limit of {limit}: raise `ulimit -n`"
        );
    }
    let room_prefix = format!("bench{}", std::process::id());
    let room_url = |user: u64| {
        let base = &args.url[servers.server_of(user) as usize % args.url.len().max(1)];
        format!(
            "{}/ws?room={room_prefix}-{}",
            base.trim_end_matches('/'),
            user % args.rooms.max(1)
        )
    };

    // Connect everyone first, so the measured window has no handshakes.
    let before_connect = server_sample()?;
    let urls: Vec<String> = (0..args.users).map(room_url).collect();
    let mut sockets = Vec::with_capacity(urls.len());
    let mut connecting =
        futures_util::stream::iter(urls.iter().enumerate().map(|(index, url)| {
            user::connect(url, args.binary, sources.for_connection(index as u64))
        }))
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
    let churning = args.churn_rate > 0.0;
    let timeline = Timeline {
        measure_from,
        stop_at,
        churn: churning.then(|| {
            // The first churners need `churn_stay` to be due to leave: from
            // then on, as many leave as join each second.
            let from = stop_at + Duration::from_secs_f64(args.churn_stay);
            (from, from + Duration::from_secs_f64(args.duration))
        }),
    };
    let stall_window = (args.stall_users > 0).then(|| {
        let from = measure_from + Duration::from_secs_f64(args.stall_after);
        (from, from + Duration::from_secs_f64(args.stall_for))
    });
    let period = 1.0 / args.rate.max(0.001);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, socket) in sockets.into_iter().enumerate() {
        let user = index as u64;
        let role = role_of(&args, user);
        let plan = user::Plan {
            user,
            users: args.users,
            rate: if role.mover { args.rate } else { 0.0 },
            place: args.crowd,
            phase: Duration::from_secs_f64(period * (user as f64 * 0.618_034).fract()),
            start,
            measure_from,
            stop_at,
            churn: timeline.churn,
            stall: stall_window.filter(|_| role.stalled),
            fresh_within: Duration::from_millis(args.fresh_ms),
            observer: role.observer,
            servers,
        };
        let clock = clock.clone();
        tasks.spawn(async move { (user, role, user::run(socket, plan, clock).await) });
    }
    let churn = churning.then(|| {
        let (measure_from, until) = timeline.churn.unwrap_or((stop_at, stop_at));
        tokio::spawn(churn::run(churn::Plan {
            url: room_url(0),
            binary: args.binary,
            rate: args.churn_rate,
            joins_from: stop_at,
            stay: Duration::from_secs_f64(args.churn_stay),
            measure_from,
            until,
            first_connection: args.users,
            sources,
        }))
    });
    // The generator's read backlog, sampled once a second in the measured
    // windows (in the crowd table only: reading the kernel's socket table
    // takes milliseconds with ten thousand sockets, so it runs on the
    // blocking pool, off the users' thread).
    let backlog = args.crowd.then(|| {
        let ports = server_ports(&args.url);
        tokio::spawn(sample_backlog(ports, timeline))
    });

    // Watch the server's memory while the run goes on.
    tokio::time::sleep_until(measure_from).await;
    let mut peak_rss = server_sample()?.map_or(0, |sample| sample.rss_bytes);
    let steady = measure_window(stop_at, &server_sample, &mut peak_rss).await?;
    let during_churn = match timeline.churn {
        Some((from, until)) => {
            tokio::time::sleep_until(from).await;
            Some(measure_window(until, &server_sample, &mut peak_rss).await?)
        }
        None => None,
    };
    let measure_end = server_sample()?;

    let mut totals = Totals::new();
    let mut last_sequence = vec![0; args.users as usize];
    let mut heard = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (user, role, mut report) = joined?;
        totals.add(role, &report)?;
        last_sequence[user as usize] = report.last_sequence;
        if role.observer && !role.stalled && args.final_check > 0.0 {
            heard.push((user, std::mem::take(&mut report.newest_seen)));
        }
    }
    let churned = match churn {
        Some(task) => Some(task.await?),
        None => None,
    };
    let backlog_bytes = match backlog {
        Some(task) => Some(task.await??),
        None => None,
    };

    let memory = Memory {
        before_connect,
        connected,
        end: measure_end,
        peak_rss,
        users: args.users,
    };
    if args.crowd {
        print_crowd_row(
            &args,
            &totals,
            &timeline,
            &steady,
            during_churn.as_ref(),
            churned,
            backlog_bytes.as_deref(),
            &memory,
        );
    } else {
        let steady_window = RelayWindow {
            scenario: args.scenario.clone(),
            deliveries: &totals.steady_deliveries,
            sent: totals.sent,
            cpu: &steady,
        };
        print_relay_row(
            &args,
            &steady_window,
            &totals,
            &memory,
            servers,
            args.header,
        );
        // With churn, a second row: the same figures over the churn window.
        if let Some(cpu) = &during_churn {
            let churn_window = RelayWindow {
                scenario: format!("{}, {} joins+leaves/s", args.scenario, args.churn_rate),
                deliveries: &totals.churn_deliveries,
                sent: totals.sent_during_churn,
                cpu,
            };
            print_relay_row(&args, &churn_window, &totals, &memory, servers, false);
        }
    }
    if args.final_check > 0.0 {
        let room_mates = |observer: u64, sender: u64| {
            let (observer_role, sender_role) = (role_of(&args, observer), role_of(&args, sender));
            observer != sender
                && observer_role.room == sender_role.room
                && sender_role.mover
                && !sender_role.stalled
        };
        let slack = (args.rate * args.final_check).ceil() as u64;
        let found = hearing::unheard(&heard, &last_sequence, room_mates, slack);
        println!(
            "\nAt the end: {} of {} observer–sender pairs in a room were more than {} s behind; {} of {} observers short.",
            found.unheard_pairs,
            found.pairs,
            args.final_check,
            found.observers_short,
            heard.len()
        );
    }
    Ok(())
}

/// Samples the server's memory every half second until `until`, and
/// returns the window's CPU, the server's and the generator's.
async fn measure_window(
    until: Instant,
    server_sample: &impl Fn() -> Result<Option<procstat::Sample>>,
    peak_rss: &mut u64,
) -> Result<WindowCpu> {
    let start = (server_sample()?, procstat::sample("self")?);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500).min(until - Instant::now())).await;
        if let Some(sample) = server_sample()? {
            *peak_rss = (*peak_rss).max(sample.rss_bytes);
        }
    }
    let end = (server_sample()?, procstat::sample("self")?);
    Ok(WindowCpu {
        server: start.0.zip(end.0),
        generator: (start.1, end.1),
    })
}

/// The generator's unread bytes, once a second in the measured windows.
async fn sample_backlog(ports: Result<Vec<u16>>, timeline: Timeline) -> Result<Vec<u64>> {
    let ports = ports?;
    let mut samples = Vec::new();
    let mut next = timeline.measure_from + Duration::from_millis(500);
    while next < timeline.end() {
        tokio::time::sleep_until(next).await;
        next += Duration::from_secs(1);
        let in_window = Instant::now() < timeline.stop_at
            || timeline
                .churn
                .is_some_and(|(from, _)| Instant::now() >= from);
        if !in_window {
            continue;
        }
        let ports = ports.clone();
        samples.push(tokio::task::spawn_blocking(move || backlog::unread_bytes(&ports)).await??);
    }
    Ok(samples)
}

/// The server's memory around the run.
struct Memory {
    before_connect: Option<procstat::Sample>,
    connected: Option<procstat::Sample>,
    end: Option<procstat::Sample>,
    peak_rss: u64,
    users: u64,
}

impl Memory {
    /// RSS after connecting → peak, in MiB, and the growth while
    /// connecting per connection, in KiB.
    fn columns(&self) -> (String, String) {
        let mib = |bytes: u64| format!("{:.1}", bytes as f64 / (1024.0 * 1024.0));
        match (self.before_connect, self.connected, self.end) {
            (Some(before), Some(connected), Some(_)) => (
                format!("{}→{}", mib(connected.rss_bytes), mib(self.peak_rss)),
                format!(
                    "{:.1}",
                    connected.rss_bytes.saturating_sub(before.rss_bytes) as f64
                        / self.users.max(1) as f64
                        / 1024.0
                ),
            ),
            _ => ("-".into(), "-".into()),
        }
    }
}

/// Per second over `seconds`, for a count summed over `receivers`.
fn per_receiver_per_second(count: u64, receivers: u64, seconds: f64) -> f64 {
    count as f64 / receivers.max(1) as f64 / seconds.max(f64::EPSILON)
}

fn millis_at(histogram: &Histogram<u64>, quantile: f64) -> String {
    if histogram.is_empty() {
        "-".into()
    } else {
        format!(
            "{:.1}",
            histogram.value_at_quantile(quantile) as f64 / 1000.0
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn print_crowd_row(
    args: &Args,
    totals: &Totals,
    timeline: &Timeline,
    steady: &WindowCpu,
    during_churn: Option<&WindowCpu>,
    churned: Option<churn::Report>,
    backlog_bytes: Option<&[u64]>,
    memory: &Memory,
) {
    let seconds = args.duration;
    let movers = (0..args.users)
        .filter(|user| {
            let role = role_of(args, *user);
            role.mover && !role.stalled
        })
        .count() as u64;
    let windows = if timeline.churn.is_some() { 2.0 } else { 1.0 };
    let scheduled = movers as f64 * args.rate * seconds * windows;
    let sent = totals.sent + totals.sent_during_churn;
    let sent_of_schedule = (scheduled > 0.0).then(|| sent as f64 / scheduled);

    let receivers = totals.receivers;
    let updates = per_receiver_per_second(totals.steady.cursor_frames, receivers, seconds);
    let fewest_updates = if receivers > 0 {
        totals.steady.fewest_cursor_frames as f64 / seconds
    } else {
        0.0
    };
    let bytes = per_receiver_per_second(totals.steady.bytes, receivers, seconds);
    let most_bytes = totals.steady.most_bytes as f64 / seconds;
    // Observers are a sample of receivers: their deliveries, scaled to all.
    let delivered_per_second = per_receiver_per_second(
        totals.steady_deliveries.delivered,
        totals.observers,
        seconds,
    ) * receivers as f64;
    let server_cores = steady.server_cores();
    let nanos_per_delivered = server_cores
        .filter(|_| delivered_per_second > 0.0)
        .map_or("-".into(), |cores| {
            format!("{:.0}", cores * 1e9 / delivered_per_second)
        });
    let (rss, rss_per_connection) = memory.columns();

    // What the joins and leaves cost each receiver: the churn window's
    // traffic over the steady window's.
    let churn_columns = match (churned, during_churn) {
        (Some(churned), Some(cpu)) => {
            let per_second = |count: u64| per_receiver_per_second(count, receivers, seconds);
            let extra_frames =
                per_second(totals.during_churn.frames) - per_second(totals.steady.frames);
            // The news about people (joined, left, view, crowd...), apart
            // from the cursor updates: a larger room may also be flushed
            // at another pace (the server spreads its frame budget over
            // the members), which changes the cursor frames, not the news.
            let extra_news =
                per_second(totals.during_churn.frames - totals.during_churn.cursor_frames)
                    - per_second(totals.steady.frames - totals.steady.cursor_frames);
            let extra_bytes =
                per_receiver_per_second(totals.during_churn.bytes, receivers, seconds) - bytes;
            [
                format!(
                    "{:.1} / {:.1}{}",
                    churned.joins as f64 / seconds,
                    churned.leaves as f64 / seconds,
                    if churned.failed > 0 {
                        format!(" ({} failed)", churned.failed)
                    } else {
                        String::new()
                    }
                ),
                format!("{extra_frames:+.2} / {extra_news:+.2}"),
                format!("{:+.2}", extra_bytes / 1000.0),
                millis_at(&totals.churn_deliveries.latency, 0.99),
                cpu.server_cores()
                    .map_or("-".into(), |cores| format!("{cores:.2}")),
            ]
        }
        _ => ["-".into(), "-".into(), "-".into(), "-".into(), "-".into()],
    };

    // The backlog in milliseconds of the generator's own reading.
    let read_per_milli =
        (totals.steady.bytes + totals.during_churn.bytes) as f64 / (seconds * windows * 1000.0);
    let backlog_ms = backlog_bytes
        .filter(|samples| !samples.is_empty() && read_per_milli > 0.0)
        .map(|samples| {
            let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
            let most = samples.iter().copied().max().unwrap_or(0) as f64;
            (mean / read_per_milli, most / read_per_milli)
        });
    let generator_cores = steady
        .generator_cores()
        .max(during_churn.map_or(0.0, WindowCpu::generator_cores));
    let verdict = validity::verdict(validity::Generator {
        cores: generator_cores,
        threads: usize::from(args.threads),
        sent_of_schedule,
        read_backlog_ms: backlog_ms.map(|(mean, _)| mean),
    });

    if args.header {
        println!(
            "| scenario | users | moving | Hz | p50 ms | p99 ms | updates/s per receiver (mean / min) | KB/s per receiver (mean / max) | most positions in a frame | delivered/s | server CPU | server ns per delivered | server RSS MiB (idle→peak) | RSS/conn KiB | churn joins / leaves per s | churn: extra frames/s per receiver (all / not cursors) | churn: extra KB/s per receiver | churn: p99 ms | churn: server CPU | gen CPU | gen read backlog ms (mean / max) | sent of schedule | closed early | out of order | valid |"
        );
        println!(
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
    }
    println!(
        "| {} | {} | {} | {} | {} | {} | {:.1} / {:.1} | {:.1} / {:.1} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} | {} | {} | {} |",
        args.scenario,
        args.users,
        movers,
        args.rate,
        millis_at(&totals.steady_deliveries.latency, 0.5),
        millis_at(&totals.steady_deliveries.latency, 0.99),
        updates,
        fewest_updates,
        bytes / 1000.0,
        most_bytes / 1000.0,
        totals.largest_cursors_frame,
        delivered_per_second,
        server_cores.map_or("-".into(), |cores| format!("{cores:.2}")),
        nanos_per_delivered,
        rss,
        rss_per_connection,
        churn_columns[0],
        churn_columns[1],
        churn_columns[2],
        churn_columns[3],
        churn_columns[4],
        generator_cores,
        backlog_ms.map_or("-".into(), |(mean, most)| format!("{mean:.1} / {most:.1}")),
        sent_of_schedule.map_or("-".into(), |share| format!("{:.1}%", 100.0 * share)),
        totals.closed_early,
        totals.reordered,
        verdict.map_or("yes", validity::Invalid::reason),
    );
}

/// One measured window of the relay table: its deliveries, the moves sent
/// in it and the CPU spent over it.
struct RelayWindow<'a> {
    scenario: String,
    deliveries: &'a DeliveryTotals,
    sent: u64,
    cpu: &'a WindowCpu,
}

fn print_relay_row(
    args: &Args,
    window: &RelayWindow<'_>,
    totals: &Totals,
    memory: &Memory,
    servers: user::ServerMap,
    header: bool,
) {
    // What the observers should have received (every moving member of their
    // room but themselves, at the rate), and what the whole room should have.
    let rooms = args.rooms.max(1);
    let (mut expected_per_second, mut observed_expected_per_second) = (0.0, 0.0);
    let mut scheduled_per_second = 0.0;
    let mut members = vec![0u64; rooms as usize];
    let mut movers = vec![0u64; rooms as usize];
    for user in 0..args.users {
        let role = role_of(args, user);
        members[role.room as usize] += 1;
        movers[role.room as usize] += u64::from(role.mover && !role.stalled);
    }
    for room in 0..rooms as usize {
        scheduled_per_second += movers[room] as f64 * args.rate;
        expected_per_second += (movers[room] * members[room].saturating_sub(1)) as f64 * args.rate;
    }
    for user in 0..args.users {
        let role = role_of(args, user);
        if role.observer && !role.stalled {
            let others_moving = movers[role.room as usize] - u64::from(role.mover);
            observed_expected_per_second += others_moving as f64 * args.rate;
        }
    }
    let seconds = args.duration;
    let latency = &window.deliveries.latency;
    let millis = |quantile: f64| latency.value_at_quantile(quantile) as f64 / 1000.0;
    let generator_cores = window.cpu.generator_cores();
    let server_cores = window
        .cpu
        .server_cores()
        .map_or("-".into(), |cores| format!("{cores:.2}"));
    let (rss, rss_per_connection) = memory.columns();
    // The generator must keep its own schedule: moves it failed to send
    // would be charged to the server as positions never delivered.
    let sent_of_schedule = (scheduled_per_second > 0.0)
        .then(|| window.sent as f64 / (scheduled_per_second * args.duration));
    let verdict = validity::verdict(validity::Generator {
        cores: generator_cores,
        threads: usize::from(args.threads),
        sent_of_schedule,
        read_backlog_ms: None,
    });
    let fraction = |count: u64| {
        (observed_expected_per_second > 0.0)
            .then(|| count as f64 / (observed_expected_per_second * seconds))
    };
    let share = |count: u64| {
        fraction(count).map_or("-".into(), |fraction| format!("{:.1}%", 100.0 * fraction))
    };
    // Observers are a sample of receivers: scale their share to the room.
    let delivered_per_second = fraction(window.deliveries.delivered)
        .map_or(0.0, |fraction| fraction * expected_per_second);
    // Server CPU per delivered position, in microseconds: what coalescing
    // (and, across servers, the backplane) costs per position that arrives.
    let cpu_per_position = match window.cpu.server_cores() {
        Some(cores) if delivered_per_second > 0.0 => {
            format!("{:.3}", cores * 1e6 / delivered_per_second)
        }
        _ => "-".into(),
    };
    let cross_server = &window.deliveries.cross_server;
    let cross = if servers.servers > 1 && !cross_server.is_empty() {
        let at = |quantile: f64| cross_server.value_at_quantile(quantile) as f64 / 1000.0;
        format!("{:.2} / {:.2} / {:.2}", at(0.5), at(0.99), at(0.999))
    } else {
        "-".into()
    };
    if header {
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
        window.scenario,
        args.fanout,
        if args.binary { "binary" } else { "JSON" },
        args.users,
        rooms,
        servers.servers,
        args.rate,
        delivered_per_second,
        share(window.deliveries.delivered),
        if window.deliveries.delivered > 0 {
            format!(
                "{:.1}%",
                100.0 * window.deliveries.fresh as f64 / window.deliveries.delivered as f64
            )
        } else {
            "-".into()
        },
        // The strict reading: every position sent counts, so one merged
        // into a newer one by coalescing counts as not fresh.
        share(window.deliveries.fresh),
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
        totals.closed_early,
        totals.reordered,
        verdict.map_or("yes", validity::Invalid::reason),
    );
}

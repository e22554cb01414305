//! CPU time, resident memory and the open-files limit of a process, from
//! Linux's /proc.

use std::time::Instant;

use anyhow::{Context, Result};

/// Clock ticks per second of /proc's CPU counters (`getconf CLK_TCK`; 100 on
/// every Linux this runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// A reading of one process.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// User plus system CPU seconds so far.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// The sum of several processes (CPU added, memory added, the latest
/// instant), or `None` for none.
pub fn sample_all(pids: &[String]) -> Result<Option<Sample>> {
    let mut total: Option<Sample> = None;
    for pid in pids {
        let one = sample(pid)?;
        total = Some(match total {
            None => one,
            Some(sum) => Sample {
                at: sum.at.max(one.at),
                cpu_seconds: sum.cpu_seconds + one.cpu_seconds,
                rss_bytes: sum.rss_bytes + one.rss_bytes,
            },
        });
    }
    Ok(total)
}

/// `pid` is a number, or "self".
pub fn sample(pid: &str) -> Result<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid}"))?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after it.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("stat format")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields.get(11).context("utime")?.parse::<f64>()?
        + fields.get(12).context("stime")?.parse::<f64>()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .context("VmRSS")?
        .parse()?;
    Ok(Sample {
        at: Instant::now(),
        cpu_seconds: ticks / TICKS_PER_SECOND,
        rss_bytes: rss_kib * 1024,
    })
}

/// CPU used between two samples, in cores (1.0 = one core busy).
pub fn cores_between(start: &Sample, end: &Sample) -> f64 {
    let wall = end.at.duration_since(start.at).as_secs_f64();
    if wall > 0.0 {
        (end.cpu_seconds - start.cpu_seconds) / wall
    } else {
        0.0
    }
}

/// How many files this process may open (the soft limit), from
/// `/proc/self/limits`: each connection is one.
pub fn open_files_limit() -> Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .context("no open files limit")?;
    // "Max open files   <soft>   <hard>   files"
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()
        .context("open files limit format")?;
    Ok(if soft == "unlimited" {
        u64::MAX
    } else {
        soft.parse()?
    })
}

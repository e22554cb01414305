//! When a run does not count: the generator shares the machine with the
//! server, and a generator that falls behind would have its own delays and
//! omissions charged to the server. These rules take the run's figures and
//! say whether it measured the server, and if not, why.

/// The generator's side of a run.
#[derive(Debug, Clone, Copy)]
pub struct Generator {
    /// CPU it used, in cores (the most of its measured windows).
    pub cores: f64,
    /// Runtime threads it may use: one core each at most.
    pub threads: usize,
    /// Moves sent, of those its schedule asked for (`None` when nobody
    /// moves).
    pub sent_of_schedule: Option<f64>,
    /// Bytes the server had written that the generator had not read yet,
    /// in milliseconds of the generator's reading (mean of the samples), if
    /// sampled.
    pub read_backlog_ms: Option<f64>,
}

/// Why a run does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// It used ≥ 95% of the cores it may use: it measured itself.
    Saturated,
    /// It sent < 99% of its moves: those never sent would count as
    /// positions never delivered.
    BehindSchedule,
    /// Its receivers read late: what waits in its sockets is latency it
    /// would charge to the server.
    ReceiversBehind,
}

impl Invalid {
    /// The table's wording.
    pub fn reason(self) -> &'static str {
        match self {
            Invalid::Saturated => "NO: generator saturated",
            Invalid::BehindSchedule => "NO: generator behind its schedule",
            Invalid::ReceiversBehind => "NO: generator's receivers behind",
        }
    }
}

/// Share of its cores past which the generator counts as saturated.
const SATURATED: f64 = 0.95;
/// Least share of its schedule it must send.
const ON_SCHEDULE: f64 = 0.99;
/// Most reading the generator may have waiting, on average, in ms: a
/// crowd's receiver is updated every 100 ms, so a backlog of half of that
/// would already move the measured latency by a visible share.
const MOST_BACKLOG_MS: f64 = 50.0;

/// The first reason the run does not count, if any.
pub fn verdict(generator: Generator) -> Option<Invalid> {
    if generator.cores >= SATURATED * generator.threads.max(1) as f64 {
        Some(Invalid::Saturated)
    } else if generator
        .sent_of_schedule
        .is_some_and(|share| share < ON_SCHEDULE)
    {
        Some(Invalid::BehindSchedule)
    } else if generator
        .read_backlog_ms
        .is_some_and(|backlog| backlog > MOST_BACKLOG_MS)
    {
        Some(Invalid::ReceiversBehind)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEALTHY: Generator = Generator {
        cores: 0.6,
        threads: 1,
        sent_of_schedule: Some(0.999),
        read_backlog_ms: Some(3.0),
    };

    #[test]
    fn a_generator_with_room_to_spare_makes_a_valid_run() {
        assert_eq!(verdict(HEALTHY), None);
        let idle = Generator {
            sent_of_schedule: None,
            read_backlog_ms: None,
            ..HEALTHY
        };
        assert_eq!(verdict(idle), None);
    }

    #[test]
    fn saturation_is_judged_against_the_threads_it_may_use() {
        let one_thread = Generator {
            cores: 0.96,
            ..HEALTHY
        };
        assert_eq!(verdict(one_thread), Some(Invalid::Saturated));
        let two_threads = Generator {
            threads: 2,
            ..one_thread
        };
        assert_eq!(verdict(two_threads), None);
        let both_full = Generator {
            cores: 1.91,
            ..two_threads
        };
        assert_eq!(verdict(both_full), Some(Invalid::Saturated));
    }

    #[test]
    fn a_generator_behind_its_schedule_or_its_reading_does_not_count() {
        let behind = Generator {
            sent_of_schedule: Some(0.985),
            ..HEALTHY
        };
        assert_eq!(verdict(behind), Some(Invalid::BehindSchedule));
        let reading_late = Generator {
            read_backlog_ms: Some(80.0),
            ..HEALTHY
        };
        assert_eq!(verdict(reading_late), Some(Invalid::ReceiversBehind));
        assert_eq!(
            Invalid::BehindSchedule.reason(),
            "NO: generator behind its schedule"
        );
    }
}

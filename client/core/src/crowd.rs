//! The crowd as this page shows it (issue 18): how many are here in all,
//! the faint heat of where their cursors are, and what the top bar and the
//! screen reader are told about it.
//!
//! In a crowd the server sends this page only the people in its view (at
//! most `--visible-cursors`), and once a second at most a `crowd` count of
//! everyone with their cursors per cell of an 8 × 8 grid. The roster
//! (which imports this module) keeps that count as a [`CrowdCount`]; the
//! rules here turn it into what is drawn and said. They are pure, so they
//! are unit-tested natively; the page's components (`crowd_view`) only
//! read their results.

/// The board's grid for the heat: this many cells a side, row by row from
/// the top left (as the server counts them).
pub const HEAT_SIDE: usize = 8;
/// Cells of the heat grid.
pub const HEAT_CELLS: usize = HEAT_SIDE * HEAT_SIDE;

/// The last `crowd` count of an active crowd.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrowdCount {
    /// Everyone in the room, this page included.
    pub total: u64,
    /// Cursors on the board per cell (see [`HEAT_SIDE`]).
    pub heat: Vec<u32>,
}

/// How strongly each cell of the heat is drawn, from 0 (nobody) to 1 (the
/// busiest cell), always [`HEAT_CELLS`] values. The square root lets a
/// cell with a few people still show beside one with hundreds. A grid of
/// the wrong size (a server speaking another version) draws nothing rather
/// than a misplaced heat.
pub fn heat_levels(heat: &[u32]) -> Vec<f64> {
    let busiest = heat.iter().copied().max().unwrap_or(0);
    if heat.len() != HEAT_CELLS || busiest == 0 {
        return vec![0.0; HEAT_CELLS];
    }
    let busiest = f64::from(busiest).sqrt();
    heat.iter()
        .map(|&count| f64::from(count).sqrt() / busiest)
        .collect()
}

/// A count with thousands separated ("10,000"), as the top bar shows it.
pub fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// The top bar's head count. Outside a crowd it counts the people listed
/// (`known`, this page included), as it always did; in a crowd the total
/// and how many of them this page draws ("10,000 here · 49 shown").
pub fn headcount_label(known: usize, crowd: Option<&CrowdCount>, shown: usize) -> String {
    match (crowd, known) {
        (Some(crowd), _) => format!("{} here · {} shown", grouped(crowd.total), shown),
        (None, 0) => String::new(),
        (None, 1) => "just you here".to_owned(),
        (None, count) => format!("{count} people here"),
    }
}

/// How many people the presence list counts as "+N more" beyond the
/// `listed` it names out of the `known` this page knows: in a crowd the
/// rest of the total, most of whom this page is never told about.
pub fn unlisted(known: usize, listed: usize, crowd: Option<&CrowdCount>) -> u64 {
    let listed = listed.min(known) as u64;
    match crowd {
        Some(crowd) => crowd.total.saturating_sub(listed),
        None => known as u64 - listed,
    }
}

/// Shortest time between two spoken counts of a crowd.
pub const SPEAK_COUNT_EVERY_MS: f64 = 10_000.0;

/// What the page's polite live region says about the crowd. A crowd's
/// count may change every second; saying each would drown whatever else
/// the screen reader has to say, so the count is said when the crowd
/// begins and ends, and otherwise at most every [`SPEAK_COUNT_EVERY_MS`]
/// when it has changed since it was last said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CountSpeaker {
    /// The total last said and when (`Date.now()` ms); `None` outside a
    /// crowd.
    last: Option<(u64, f64)>,
}

impl CountSpeaker {
    /// The crowd's count is now `crowd` (`None`: no crowd) at `now`: what
    /// to say, if anything.
    pub fn heard(&mut self, crowd: Option<&CrowdCount>, now: f64) -> Option<String> {
        match (crowd, self.last) {
            (None, None) => None,
            (None, Some(_)) => {
                self.last = None;
                Some("The crowd has thinned: everyone is shown again.".to_owned())
            }
            (Some(crowd), None) => {
                self.last = Some((crowd.total, now));
                Some(format!(
                    "{} people here, a crowd: only those near your pointer are shown.",
                    grouped(crowd.total)
                ))
            }
            (Some(crowd), Some((said, at))) => {
                if crowd.total == said || now - at < SPEAK_COUNT_EVERY_MS {
                    return None;
                }
                self.last = Some((crowd.total, now));
                Some(format!("{} people here.", grouped(crowd.total)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crowd(total: u64) -> CrowdCount {
        CrowdCount {
            total,
            heat: vec![0; HEAT_CELLS],
        }
    }

    #[test]
    fn heat_levels_scale_to_the_busiest_cell() {
        let mut heat = vec![0; HEAT_CELLS];
        heat[0] = 100;
        heat[9] = 25;
        heat[63] = 1;
        let levels = heat_levels(&heat);
        assert_eq!(levels.len(), HEAT_CELLS);
        assert_eq!(levels[0], 1.0);
        assert_eq!(levels[9], 0.5, "a quarter of the people, half as strong");
        assert_eq!(levels[63], 0.1, "one person still shows");
        assert_eq!(levels[1], 0.0);
    }

    #[test]
    fn an_empty_or_misshapen_heat_draws_nothing() {
        assert_eq!(heat_levels(&[0; HEAT_CELLS]), vec![0.0; HEAT_CELLS]);
        assert_eq!(heat_levels(&[]), vec![0.0; HEAT_CELLS]);
        assert_eq!(heat_levels(&[5; 16]), vec![0.0; HEAT_CELLS]);
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(10_000), "10,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn the_headcount_is_unchanged_outside_a_crowd_and_totals_in_one() {
        assert_eq!(headcount_label(0, None, 0), "");
        assert_eq!(headcount_label(1, None, 0), "just you here");
        assert_eq!(headcount_label(3, None, 2), "3 people here");
        assert_eq!(
            headcount_label(50, Some(&crowd(10_000)), 49),
            "10,000 here · 49 shown"
        );
    }

    #[test]
    fn the_rest_beyond_the_listed_is_counted_from_the_total_in_a_crowd() {
        assert_eq!(unlisted(5, 12, None), 0);
        assert_eq!(unlisted(30, 12, None), 18);
        assert_eq!(unlisted(50, 12, Some(&crowd(10_000))), 9_988);
        // Fewer known than the list could hold: all of them are listed.
        assert_eq!(unlisted(3, 12, Some(&crowd(300))), 297);
    }

    #[test]
    fn the_count_is_said_at_the_edges_of_a_crowd_and_rarely_in_between() {
        let mut speaker = CountSpeaker::default();
        assert_eq!(speaker.heard(None, 0.0), None, "no crowd, nothing to say");
        assert!(
            speaker
                .heard(Some(&crowd(300)), 0.0)
                .is_some_and(|said| said.starts_with("300 people here, a crowd"))
        );
        assert_eq!(
            speaker.heard(Some(&crowd(310)), 1_000.0),
            None,
            "too soon after the last"
        );
        assert_eq!(
            speaker.heard(Some(&crowd(300)), 20_000.0),
            None,
            "back where it was last said"
        );
        assert_eq!(
            speaker.heard(Some(&crowd(1_200)), 20_000.0).as_deref(),
            Some("1,200 people here.")
        );
        assert_eq!(speaker.heard(Some(&crowd(1_250)), 25_000.0), None);
        assert!(speaker.heard(None, 26_000.0).is_some(), "the crowd ended");
        assert_eq!(speaker.heard(None, 40_000.0), None);
    }
}

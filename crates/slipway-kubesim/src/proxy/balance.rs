//! Deterministic weighted balancing: smooth weighted round robin (nginx's) across a Service's
//! destinations, then plain round robin across a destination's pods. Over any run of `W` requests
//! (`W` the sum of the weights) each destination gets exactly its weight, interleaved rather than in
//! bursts, so an 80/20 split of 1,000 requests is 800/200.

use std::collections::HashMap;

/// The balancing state of one Service.
#[derive(Debug, Default)]
pub(crate) struct Balancer {
    /// Smooth WRR's current weight per destination key.
    current: HashMap<String, i128>,
    /// The next pod index per destination key.
    next_pod: HashMap<String, usize>,
}

impl Balancer {
    /// Picks one of `choices` (key, weight); `None` when every weight is 0. Keys that are gone are
    /// forgotten; a new key starts at 0, as a weight change would leave it.
    pub fn pick_destination(&mut self, choices: &[(String, u64)]) -> Option<usize> {
        self.current
            .retain(|k, _| choices.iter().any(|(c, w)| c == k && *w > 0));
        self.next_pod
            .retain(|k, _| choices.iter().any(|(c, _)| c == k));
        let total: i128 = choices.iter().map(|(_, w)| i128::from(*w)).sum();
        if total == 0 {
            return None;
        }
        let mut best: Option<(usize, i128)> = None;
        for (i, (key, weight)) in choices.iter().enumerate() {
            if *weight == 0 {
                continue;
            }
            let current = self.current.entry(key.clone()).or_insert(0);
            *current += i128::from(*weight);
            if best.is_none_or(|(_, b)| *current > b) {
                best = Some((i, *current));
            }
        }
        let (chosen, _) = best?;
        if let Some(c) = self.current.get_mut(&choices[chosen].0) {
            *c -= total;
        }
        Some(chosen)
    }

    /// The index of the next of `count` pods of destination `key` (round robin).
    pub fn pick_pod(&mut self, key: &str, count: usize) -> usize {
        if count == 0 {
            return 0;
        }
        let next = self.next_pod.entry(key.to_owned()).or_insert(0);
        let i = *next % count;
        *next = next.wrapping_add(1);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_weighted_round_robin_is_exact_and_interleaved() {
        let mut b = Balancer::default();
        let choices = vec![("stable".to_owned(), 80), ("canary".to_owned(), 20)];
        let picks: Vec<usize> = (0..1000)
            .map(|_| b.pick_destination(&choices).expect("a pick"))
            .collect();
        assert_eq!(picks.iter().filter(|&&i| i == 1).count(), 200);
        // Interleaved: never more than 4 stable picks in a row for 4:1.
        assert!(picks.windows(5).all(|w| w.contains(&1)));
        let choices = vec![("a".to_owned(), 0), ("b".to_owned(), 3)];
        assert_eq!(b.pick_destination(&choices), Some(1));
        assert_eq!(b.pick_destination(&[("a".to_owned(), 0)]), None);
        let pods: Vec<usize> = (0..5).map(|_| b.pick_pod("a", 2)).collect();
        assert_eq!(pods, vec![0, 1, 0, 1, 0]);
    }
}

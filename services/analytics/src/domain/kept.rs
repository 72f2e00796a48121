//! The funnels asked for last, kept current deal by deal as deals change:
//! a dashboard polling its funnel costs the changed deals, not a pass over
//! the pipeline. Each kept count always equals a fresh count of the same
//! funnel (the test below checks it after every kind of change).

use super::{
    History, Period,
    funnel::{self, Counts},
};

/// The funnels per pipeline whose counts are kept current.
pub const FUNNELS: usize = 8;

/// The counts of the funnels asked for last (by owner and period), kept
/// current deal by deal as deals change: a dashboard polling its funnel
/// costs the changed deals, not a pass over the pipeline.
#[derive(Debug, Default)]
pub struct KeptFunnels {
    tick: u64,
    kept: Vec<Kept>,
}

/// One kept funnel.
#[derive(Debug)]
struct Kept {
    owner: Option<String>,
    period: Period,
    counts: Counts,
    // The tick it was last asked for at.
    used: u64,
}

impl KeptFunnels {
    /// The kept funnel of `owner` in `period`, if any.
    fn find(&mut self, owner: Option<&str>, period: Period) -> Option<&mut Kept> {
        self.kept
            .iter_mut()
            .find(|k| k.owner.as_deref() == owner && k.period == period)
    }

    /// The counts of `owner`'s funnel (or everyone's) in `period`, if they
    /// are kept; marks them used.
    pub fn get(&mut self, owner: Option<&str>, period: Period) -> Option<Counts> {
        self.tick += 1;
        let tick = self.tick;
        let kept = self.find(owner, period)?;
        kept.used = tick;
        Some(kept.counts.clone())
    }

    /// Keeps `counts` of `owner`'s funnel in `period` (unless another reader
    /// kept them meanwhile), dropping the one used least lately past [`FUNNELS`].
    pub fn keep(&mut self, owner: Option<&str>, period: Period, counts: Counts) {
        if self.find(owner, period).is_some() {
            return;
        }
        if self.kept.len() >= FUNNELS
            && let Some(oldest) = (0..self.kept.len()).min_by_key(|&i| self.kept[i].used)
        {
            self.kept.swap_remove(oldest);
        }
        let used = self.tick;
        self.kept.push(Kept {
            owner: owner.map(str::to_owned),
            period,
            counts,
            used,
        });
    }

    /// Forgets every kept funnel (the board changed: positions may have moved).
    pub fn clear(&mut self) {
        self.kept.clear();
    }

    /// Applies `change` (which touches the distinct deals `ids` only) to `h`, and
    /// keeps the counts current: each deal's share out before, in after.
    pub fn change(&mut self, h: &mut History, ids: &[String], now: i64, change: impl FnOnce(&mut History)) {
        let share = |h: &History, sign: i64, kept: &mut Vec<Kept>| {
            for k in kept.iter_mut() {
                let v = h.view(k.owner.as_deref(), now);
                for id in ids {
                    k.counts.add(&funnel::deal_counts(&v, k.period, id), sign);
                }
            }
        };
        share(h, -1, &mut self.kept);
        change(h);
        share(h, 1, &mut self.kept);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crm_proto::common::v1::{DealStatus, StageKind};

    use super::*;
    use crate::domain::{DAY, DealRow, Stage, Transition, rng::SplitMix64};

    const STAGES: [(&str, StageKind); 5] = [
        ("lead", StageKind::Open),
        ("demo", StageKind::Open),
        ("offer", StageKind::Open),
        ("won", StageKind::Won),
        ("lost", StageKind::Lost),
    ];

    /// A deal `i` with a random history of up to four moves from day 0 on.
    fn random_deal(r: &mut SplitMix64, i: u64) -> (DealRow, Vec<Transition>) {
        let mut at = (r.next_u64() % 30) as i64 * DAY;
        let mut ts = vec![Transition {
            version: 1,
            to_stage_id: "lead".into(),
            at,
        }];
        for v in 2..=(1 + r.next_u64() % 4) as i64 {
            at += (r.next_u64() % 10) as i64 * DAY;
            let to = STAGES[(r.next_u64() % 5) as usize].0;
            ts.push(Transition {
                version: v,
                to_stage_id: to.into(),
                at,
            });
        }
        let last = ts.last().unwrap();
        let status = match last.to_stage_id.as_str() {
            "won" => DealStatus::Won,
            "lost" => DealStatus::Lost,
            _ => DealStatus::Open,
        };
        let currency = ["EUR", "USD"][(r.next_u64() % 2) as usize];
        let row = DealRow {
            id: format!("d{i}"),
            stage_id: last.to_stage_id.clone(),
            status,
            title: String::new(),
            owner_id: ["ana", "bo", "cy"][(r.next_u64() % 3) as usize].into(),
            amount: (!r.next_u64().is_multiple_of(4)).then(|| (currency.into(), (r.next_u64() % 5) as i64 * 100)),
            expected_close: None,
            create_time: ts[0].at,
            closed_at: (status != DealStatus::Open).then_some(last.at),
            fields: Vec::new(),
        };
        (row, ts)
    }

    #[test]
    fn kept_funnels_equal_a_fresh_count_after_every_change() {
        let stages = STAGES
            .iter()
            .map(|(id, kind)| Stage {
                id: (*id).into(),
                name: (*id).into(),
                kind: *kind,
                probability: 50,
                rotting_days: 0,
            })
            .collect();
        let mut h = History::new(stages);
        let mut r = SplitMix64::new(5);
        for i in 0..300 {
            let (d, ts) = random_deal(&mut r, i);
            h.put(d, ts);
        }
        let asked = [
            (None, Period { from: 0, to: 20 * DAY }),
            (
                Some("bo"),
                Period {
                    from: 5 * DAY,
                    to: 40 * DAY,
                },
            ),
            // An owner nobody has yet.
            (Some("dee"), Period { from: 0, to: 90 * DAY }),
        ];
        let mut f = KeptFunnels::default();
        for (owner, period) in asked {
            let counts = funnel::counts(&h.view(owner, 0), period);
            f.kept.push(Kept {
                owner: owner.map(str::to_owned),
                period,
                counts,
                used: 0,
            });
        }
        for round in 0..100 {
            // Some deals replaced (moved, reassigned, closed), some removed, some new.
            let ids: BTreeSet<String> = (0..5).map(|_| format!("d{}", r.next_u64() % 320)).collect();
            let ids: Vec<String> = ids.into_iter().collect();
            let mut rng = SplitMix64::new(round);
            f.change(&mut h, &ids, 0, |h| {
                for (k, id) in ids.iter().enumerate() {
                    if k == 0 {
                        h.remove(id);
                        continue;
                    }
                    let (mut d, ts) = random_deal(&mut rng, 0);
                    if k == 1 {
                        d.owner_id = "dee".into();
                    }
                    d.id.clone_from(id);
                    h.put(d, ts);
                }
            });
            for k in &f.kept {
                let fresh = funnel::counts(&h.view(k.owner.as_deref(), 0), k.period);
                assert_eq!(k.counts, fresh, "round {round}, {:?}", k.owner);
            }
        }
        assert!(
            f.kept.iter().all(|k| k.counts != Counts::default()),
            "the funnels count something"
        );
    }
}

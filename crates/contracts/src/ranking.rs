//! The monthly 红黑榜: each unit's composite score from its figures of the month by
//! the district's weights (`assessment.toml`), its rank, and the change from the
//! month before.
//!
//! A unit's score is the weighted mean, in per mille, of its rates that have a
//! denominator in the month: a rate the unit had nothing to be measured on (no
//! callbacks, say) leaves the mean, with its weight. Rates where less is better
//! (回退率, 重办率) count as 1000 − the rate. Units rank by score, highest first;
//! equal scores share a rank (1, 2, 2, 4); ties list by unit id. A unit without any
//! measured rate is not ranked.

use crate::query::{Rate, StatsRow, StatsView};
use serde::{Deserialize, Serialize};

/// The weights of each rate in the composite score (integers; only their ratios count).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// 响应率.
    pub response: u32,
    /// 及时签收率.
    pub timely_sign: u32,
    /// 按时办结率.
    pub on_time_reply: u32,
    /// 解决率.
    pub resolution: u32,
    /// 满意率.
    pub satisfaction: u32,
    /// 办结率.
    pub completion: u32,
    /// 回退率 (less is better).
    pub returns: u32,
    /// 重办率 (less is better).
    pub reopens: u32,
}

impl Weights {
    pub fn total(&self) -> u32 {
        self.response
            + self.timely_sign
            + self.on_time_reply
            + self.resolution
            + self.satisfaction
            + self.completion
            + self.returns
            + self.reopens
    }

    /// (weight, rate, less is better) of each measure of a row.
    fn measures(&self, r: &StatsRow) -> [(u32, Rate, bool); 8] {
        [
            (self.response, r.response, false),
            (self.timely_sign, r.timely_sign, false),
            (self.on_time_reply, r.on_time_reply, false),
            (self.resolution, r.resolution, false),
            (self.satisfaction, r.satisfaction, false),
            (self.completion, r.completion, false),
            (self.returns, r.returns, true),
            (self.reopens, r.reopens, true),
        ]
    }

    /// The composite score of a row in per mille, rounded half up; `None` when no
    /// weighted rate has a denominator.
    pub fn score(&self, r: &StatsRow) -> Option<u32> {
        let (mut sum, mut weights) = (0u64, 0u64);
        for (w, rate, inverted) in self.measures(r) {
            let Some(p) = rate.permille.filter(|_| w > 0) else {
                continue;
            };
            let p = if inverted { 1000 - p.min(1000) } else { p };
            sum += u64::from(w) * u64::from(p);
            weights += u64::from(w);
        }
        (weights > 0).then(|| ((sum * 2 + weights) / (2 * weights)) as u32)
    }
}

/// The 红黑榜 configuration: weights and how many units each list names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingConfig {
    pub weights: Weights,
    /// The red list (红榜) names the best this many units, the black list (黑榜) the worst.
    #[serde(default = "default_list_size")]
    pub list_size: u32,
}

fn default_list_size() -> u32 {
    3
}

impl Default for RankingConfig {
    fn default() -> Self {
        Self {
            weights: Weights {
                timely_sign: 20,
                on_time_reply: 30,
                resolution: 10,
                satisfaction: 30,
                returns: 10,
                ..Weights::default()
            },
            list_size: default_list_size(),
        }
    }
}

/// One unit of the month's ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankingRow {
    pub unit: String,
    /// Composite score in per mille.
    pub score: u32,
    /// 1 is best.
    pub rank: u32,
    /// Its rank the month before, if it was ranked then.
    pub previous_rank: Option<u32>,
    /// Places gained since the month before (previous rank − rank; negative: lost).
    pub change: Option<i64>,
    /// `red` (红榜), `black` (黑榜), or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    /// The figures behind the score.
    pub figures: StatsRow,
}

/// `GET /stats/ranking`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankingView {
    /// `2026-11`.
    pub month: String,
    pub previous_month: String,
    pub weights: Weights,
    pub rows: Vec<RankingRow>,
}

/// (unit, score) ranked: highest first, ties sharing a rank, then by unit.
fn ranked(view: &StatsView, weights: &Weights) -> Vec<(StatsRow, u32, u32)> {
    let mut scored: Vec<(StatsRow, u32)> = view
        .rows
        .iter()
        .filter(|r| r.key.is_some())
        .filter_map(|r| weights.score(r).map(|s| (r.clone(), s)))
        .collect();
    scored.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.key.cmp(&b.0.key)));
    let mut out: Vec<(StatsRow, u32, u32)> = Vec::with_capacity(scored.len());
    for (i, (row, score)) in scored.into_iter().enumerate() {
        let rank = match out.last() {
            Some((_, last, rank)) if *last == score => *rank,
            _ => i as u32 + 1,
        };
        out.push((row, score, rank));
    }
    out
}

/// The ranking of `month` from the units' figures of that month (`this`, one row per
/// unit) and of the month before (`last`).
pub fn rank(
    month: &str,
    previous_month: &str,
    this: &StatsView,
    last: &StatsView,
    config: &RankingConfig,
) -> RankingView {
    let before = ranked(last, &config.weights);
    let now = ranked(this, &config.weights);
    let n = now.len();
    let size = (config.list_size as usize).min(n / 2);
    let rows = now
        .into_iter()
        .enumerate()
        .map(|(i, (row, score, rank))| {
            let unit = row.key.clone().unwrap_or_default();
            let previous_rank = before
                .iter()
                .find(|(r, _, _)| r.key.as_deref() == Some(unit.as_str()))
                .map(|(_, _, rank)| *rank);
            let list = if i < size {
                Some("red".to_owned())
            } else if i >= n - size {
                Some("black".to_owned())
            } else {
                None
            };
            RankingRow {
                unit,
                score,
                rank,
                previous_rank,
                change: previous_rank.map(|p| i64::from(p) - i64::from(rank)),
                list,
                figures: row,
            }
        })
        .collect();
    RankingView {
        month: month.to_owned(),
        previous_month: previous_month.to_owned(),
        weights: config.weights.clone(),
        rows,
    }
}

/// The month before `YYYY-MM`, and the local instants (RFC 3339 with `offset`, e.g.
/// `+08:00`) that bound both months: `(previous, [previous start, start, end])`.
/// `None` when `month` is not `YYYY-MM`.
/// The months [`month_bounds`] takes, as a pattern for the API document: `YYYY-MM`,
/// year 0001 to 9999.
pub const MONTH_PATTERN: &str =
    "^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(0[1-9]|1[0-2])$";

pub fn month_bounds(month: &str, offset: &str) -> Option<(String, [String; 3])> {
    let (y, m) = month.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=9999).contains(&y) {
        return None;
    }
    let prev = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let at = |(y, m): (i32, u32)| format!("{y:04}-{m:02}-01T00:00:00{offset}");
    Some((
        format!("{:04}-{:02}", prev.0, prev.1),
        [at(prev), at((y, m)), at(next)],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{GroupBy, Period};

    fn row(unit: &str, timely: (u64, u64), returns: (u64, u64)) -> StatsRow {
        let mut r: StatsRow = serde_json::from_value(serde_json::json!({
            "key": unit, "period": "all",
            "response": {"count": 0, "of": 0, "permille": null},
            "resolution": {"count": 0, "of": 0, "permille": null},
            "satisfaction": {"count": 0, "of": 0, "permille": null},
            "satisfied": 0, "basically_satisfied": 0,
            "completion": {"count": 0, "of": 0, "permille": null},
        }))
        .unwrap();
        r.timely_sign = Rate::new(timely.0, timely.1);
        r.returns = Rate::new(returns.0, returns.1);
        r
    }

    fn view(rows: Vec<StatsRow>) -> StatsView {
        StatsView {
            group_by: GroupBy::Department,
            period: Period::All,
            rows,
        }
    }

    #[test]
    fn scores_rank_with_shared_places_and_lists() {
        let config = RankingConfig {
            weights: Weights {
                timely_sign: 3,
                returns: 1,
                ..Weights::default()
            },
            list_size: 1,
        };
        // a: (3*500 + 1*1000)/4 = 625; b: 3*1000/3... returns unmeasured → 1000;
        // c: 625 (ties a); d: (0 + 0)/4 = 0.
        let this = view(vec![
            row("a", (1, 2), (0, 2)),
            row("b", (1, 1), (0, 0)),
            row("c", (1, 2), (0, 2)),
            row("d", (0, 1), (1, 1)),
            row("e", (0, 0), (0, 0)),
        ]);
        let last = view(vec![row("a", (1, 1), (0, 1)), row("d", (1, 2), (0, 2))]);
        let r = rank("2026-11", "2026-10", &this, &last, &config);
        type Place<'a> = (&'a str, u32, u32, Option<i64>, Option<&'a str>);
        let got: Vec<Place<'_>> = r
            .rows
            .iter()
            .map(|x| {
                (
                    x.unit.as_str(),
                    x.score,
                    x.rank,
                    x.change,
                    x.list.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("b", 1000, 1, None, Some("red")),
                ("a", 625, 2, Some(-1), None),
                ("c", 625, 2, None, None),
                ("d", 0, 4, Some(-2), Some("black")),
            ]
        );
    }

    #[test]
    fn months_and_their_bounds() {
        assert_eq!(
            month_bounds("2026-01", "+08:00"),
            Some((
                "2025-12".to_owned(),
                [
                    "2025-12-01T00:00:00+08:00".to_owned(),
                    "2026-01-01T00:00:00+08:00".to_owned(),
                    "2026-02-01T00:00:00+08:00".to_owned(),
                ]
            ))
        );
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "x"] {
            assert_eq!(month_bounds(bad, "Z"), None, "{bad}");
        }
    }
}

//! Duplicate candidates (重复件): open cases like one case, or like a draft being typed
//! at intake. Answered by projection ([`crate::subjects::PROJECTION_SIMILAR`]); merging
//! stays a person's decision.

use crate::views::CaseView;
use casegrid_domain::CaseId;
use serde::{Deserialize, Serialize};

/// What to find candidates for: a filed case (`case_id`: its category, grid, text and
/// coordinates are read from the read model, and the case itself is left out), or a
/// draft (`category`, `grid`, `title`, `description`, optional `lat`/`long`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimilarQuery {
    #[serde(default)]
    pub case_id: Option<CaseId>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub grid: Option<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Decimal degrees as text (`"30.25"`), as Open311 keeps them.
    #[serde(default)]
    pub lat: Option<String>,
    #[serde(default)]
    pub long: Option<String>,
    /// Candidates filed at most this many days before the case (or before now, for a
    /// draft); filled in by the gateway from `[duplicates] window_days`.
    #[serde(default)]
    pub window_days: Option<u32>,
    /// With coordinates on both sides, a case in another grid within this many metres
    /// is a candidate too (`[duplicates] max_distance_m`).
    #[serde(default)]
    pub max_distance_m: Option<u32>,
    /// Least similarity (per mille) a candidate needs (`[duplicates] min_score`).
    #[serde(default)]
    pub min_score: Option<u32>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One candidate: the case and how alike it is (per mille, 1000 = same text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimilarCandidate {
    pub score: u32,
    /// Metres between the two, when both carry coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<u32>,
    pub case: CaseView,
}

/// Candidates, most similar first (ties: the earlier filing first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimilarView {
    pub items: Vec<SimilarCandidate>,
}

//! Duplicate candidates (重复件): the open cases of the same category in the same grid
//! (or, when both carry coordinates, within a distance) filed within a window of days,
//! ranked by the likeness of title and description ([`crate::ngram`]). Read off the
//! `cases` table: no table of its own, so nothing to keep in step with the fold.

use crate::model::case_from_row;
use crate::ngram::case_likeness;
use crate::{ReadModel, ReadModelError, Result};
use casegrid_contracts::similar::{SimilarCandidate, SimilarQuery, SimilarView};
use casegrid_domain::Status;
use serde_json::Value;
use sqlx::Row;
use time::OffsetDateTime;

/// Defaults when the query leaves them out (the gateway fills them from settings).
pub const WINDOW_DAYS: u32 = 30;
pub const MAX_DISTANCE_M: u32 = 300;
pub const MIN_SCORE: u32 = 300;
pub const LIMIT: u32 = 10;
const LIMIT_MAX: u32 = 100;
const DAY_MS: i64 = 86_400_000;

/// Decimal degrees from a JSON string (`"30.25"`) or integer.
fn degrees(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
    .filter(|d: &f64| d.is_finite())
}

fn pair(lat: &Value, long: &Value) -> Option<(f64, f64)> {
    let (lat, long) = (degrees(lat)?, degrees(long)?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&long)).then_some((lat, long))
}

/// Coordinates of a filing (`CaseFiled` data as JSON): `location.lat`/`long` when the
/// location carries them, else those Open311 kept in `source.open311`.
pub fn coordinates(filed: &Value) -> Option<(f64, f64)> {
    let location = &filed["location"];
    pair(&location["lat"], &location["long"]).or_else(|| {
        pair(
            &filed["source"]["open311"]["lat"],
            &filed["source"]["open311"]["long"],
        )
    })
}

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> u32 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    (2.0 * 6_371_000.0 * h.sqrt().asin()).round() as u32
}

/// The filing inside a `cases.state` (the domain's `Case` as JSON).
fn filed_of(row: &sqlx::any::AnyRow) -> Result<Value> {
    let state: String = row.try_get("state")?;
    let state: Value = serde_json::from_str(&state)
        .map_err(|e| ReadModelError::Corrupt(format!("cases.state: {e}")))?;
    Ok(state["filed"].clone())
}

struct Reference {
    id: Option<String>,
    category: String,
    grid: Option<String>,
    title: String,
    description: String,
    at_ms: i64,
    coordinates: Option<(f64, f64)>,
}

impl ReadModel {
    /// Candidates for `q`; `None` when `q.case_id` names no case. `now` anchors a
    /// draft's window.
    pub async fn similar(
        &self,
        q: &SimilarQuery,
        now: OffsetDateTime,
    ) -> Result<Option<SimilarView>> {
        let Some(reference) = self.reference(q, now).await? else {
            return Ok(None);
        };
        let window = i64::from(q.window_days.unwrap_or(WINDOW_DAYS)) * DAY_MS;
        let max_distance = q.max_distance_m.unwrap_or(MAX_DISTANCE_M);
        let min_score = q.min_score.unwrap_or(MIN_SCORE);
        let limit = q.limit.unwrap_or(LIMIT).clamp(1, LIMIT_MAX) as usize;
        if reference.grid.is_none() && reference.coordinates.is_none() {
            return Ok(Some(SimilarView::default()));
        }
        let open: Vec<String> = Status::names(Status::is_open)
            .iter()
            .map(|s| format!("'{s}'"))
            .collect();
        // Without coordinates only the grid can place a case: ask the database for that
        // grid alone; with them, the distance decides in the loop below.
        let mut sql = format!(
            "SELECT * FROM cases WHERE category = $1 AND filed_ms >= $2 AND filed_ms <= $3 \
             AND status IN ({})",
            open.join(", ")
        );
        let by_grid = reference.coordinates.is_none();
        if by_grid {
            sql.push_str(" AND grid = $4");
        }
        sql.push_str(" ORDER BY filed_seq");
        let upper = if reference.id.is_some() {
            reference.at_ms + window
        } else {
            reference.at_ms
        };
        let mut query = sqlx::query(&sql)
            .bind(reference.category.clone())
            .bind(reference.at_ms - window)
            .bind(upper);
        if by_grid {
            query = query.bind(reference.grid.clone().unwrap_or_default());
        }
        let rows = query.fetch_all(self.pool()).await?;
        let mut items = Vec::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            if reference.id.as_deref() == Some(id.as_str()) {
                continue;
            }
            let grid: Option<String> = row.try_get("grid")?;
            let distance = match reference.coordinates {
                Some(here) => coordinates(&filed_of(row)?).map(|there| distance_m(here, there)),
                None => None,
            };
            let same_grid = grid.is_some() && grid == reference.grid;
            if !same_grid && distance.is_none_or(|d| d > max_distance) {
                continue;
            }
            let title: String = row.try_get("title")?;
            let description: String = row.try_get("description")?;
            let score = case_likeness(
                &reference.title,
                &reference.description,
                &title,
                &description,
            );
            if score < min_score {
                continue;
            }
            items.push(SimilarCandidate {
                score,
                distance_m: distance,
                case: case_from_row(row)?,
            });
        }
        // Rows come in filing order and the sort is stable: ties keep the earlier filing first.
        items.sort_by_key(|c| std::cmp::Reverse(c.score));
        items.truncate(limit);
        Ok(Some(SimilarView { items }))
    }

    async fn reference(&self, q: &SimilarQuery, now: OffsetDateTime) -> Result<Option<Reference>> {
        let draft_coordinates = match (&q.lat, &q.long) {
            (Some(lat), Some(long)) => Some(
                pair(&Value::String(lat.clone()), &Value::String(long.clone())).ok_or_else(
                    || {
                        ReadModelError::BadQuery(format!(
                            "lat/long: {lat:?}, {long:?} are not degrees"
                        ))
                    },
                )?,
            ),
            (None, None) => None,
            _ => {
                return Err(ReadModelError::BadQuery(
                    "lat/long: give both or neither".into(),
                ))
            }
        };
        let Some(id) = q.case_id else {
            let category = q
                .category
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .ok_or_else(|| ReadModelError::BadQuery("category: required for a draft".into()))?;
            return Ok(Some(Reference {
                id: None,
                category: category.to_owned(),
                grid: q.grid.clone().filter(|g| !g.trim().is_empty()),
                title: q.title.clone(),
                description: q.description.clone(),
                at_ms: crate::fold::millis(now),
                coordinates: draft_coordinates,
            }));
        };
        let Some(row) = sqlx::query("SELECT * FROM cases WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Reference {
            id: Some(id.to_string()),
            category: row.try_get("category")?,
            grid: row.try_get("grid")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            at_ms: row.try_get("filed_ms")?,
            coordinates: coordinates(&filed_of(&row)?),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_come_from_the_location_or_open311() {
        let open311 =
            serde_json::json!({"source": {"open311": {"lat": "30.25", "long": "120.16"}}});
        assert_eq!(coordinates(&open311), Some((30.25, 120.16)));
        let location = serde_json::json!({"location": {"lat": "30.25", "long": "120.16"}});
        assert_eq!(coordinates(&location), Some((30.25, 120.16)));
        assert_eq!(
            coordinates(&serde_json::json!({"location": {"lat": "95", "long": "1"}})),
            None
        );
    }

    #[test]
    fn a_thousandth_of_a_degree_of_latitude_is_about_111_metres() {
        assert_eq!(distance_m((30.25, 120.16), (30.251, 120.16)), 111);
    }
}

//! Case lists with filters and keyset pagination, the overdue list, and the figures
//! (响应率, 解决率, 满意率, 办结率) by department, street, category and period.
//!
//! The request and answer types are the contracts' (`casegrid_contracts::query`): the
//! JSON the projection's NATS endpoints take and answer.

use crate::model::case_from_row;
use crate::{ReadModel, ReadModelError, Result};
use casegrid_domain::Status;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Default and largest page of a case list.
pub const LIST_LIMIT: u32 = 50;
pub const LIST_MAX: u32 = 500;
/// The most cases one public (Open311) list answers: GeoReport v2's default window.
pub const PUBLIC_MAX: u32 = 1000;

/// Statuses in which a case no longer runs against its handling deadline.
/// The statuses whose deadline clock runs, as an SQL list (the domain's class).
fn overdue_able() -> String {
    Status::names(Status::is_overdue_able)
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub use casegrid_contracts::query::{
    CaseFilter, CasePage, GroupBy, ListQuery, OverdueQuery, Period, PublicNote, PublicPage,
    PublicQuery, PublicRequest, Rate, StatsQuery, StatsRow, StatsView,
};

#[derive(Default)]
struct Clause {
    conditions: Vec<String>,
    args: Vec<Arg>,
}

enum Arg {
    Text(String),
    Int(i64),
}

impl Clause {
    /// The placeholder of a new argument.
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    fn text(&mut self, v: &str) -> String {
        self.arg(Arg::Text(v.to_owned()))
    }

    fn int(&mut self, v: i64) -> String {
        self.arg(Arg::Int(v))
    }

    fn and(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    fn sql(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    fn bind<'q>(
        &self,
        mut q: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// `s` for a `LIKE … ESCAPE '\'` pattern: `%`, `_` and `\` match themselves.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `column` is the grid `g` or lies below it (`NH.HB` matches `NH.HB.BJ.03`, never
/// `NH.HBX`).
fn in_grid(c: &mut Clause, column: &str, g: &str) -> String {
    let g = g.trim_end_matches('.');
    let (p1, p2) = (c.text(g), c.text(&format!("{}.%", escape_like(g))));
    format!("({column} = {p1} OR {column} LIKE {p2} ESCAPE '\\')")
}

/// `LIKE` pattern matching `s` anywhere.
fn contains_pattern(s: &str) -> String {
    format!("%{}%", escape_like(s))
}

fn instant_ms(what: &str, s: &str) -> Result<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(crate::fold::millis)
        .map_err(|e| {
            ReadModelError::BadQuery(format!("{what}: {s:?} is not an RFC 3339 instant: {e}"))
        })
}

fn bad_cursor(cursor: &str) -> ReadModelError {
    ReadModelError::BadQuery(format!("cursor {cursor:?} is not one this service gave"))
}

impl ReadModel {
    /// Cases matching `q.filter`, newest filing first, a page at a time: pass the
    /// answer's `next_cursor` back for the next page. `now` decides `overdue`.
    pub async fn list(&self, q: &ListQuery, now: OffsetDateTime) -> Result<CasePage> {
        let limit = q.limit.unwrap_or(LIST_LIMIT).clamp(1, LIST_MAX);
        let mut clause = Clause::default();
        self.filter(&mut clause, &q.filter, now)?;
        if let Some(cursor) = &q.cursor {
            // The cursor is the filing sequence of the page's last case.
            let after: i64 = cursor.parse().map_err(|_| bad_cursor(cursor))?;
            let p = clause.int(after);
            clause.and(format!("filed_seq < {p}"));
        }
        self.page(clause, "filed_seq DESC", limit, |row| {
            Ok(row.try_get::<i64, _>("filed_seq")?.to_string())
        })
        .await
    }

    /// Cases past their handling deadline while its clock runs (`Case::is_overdue`:
    /// never suspended or in mediation), most overdue first.
    pub async fn overdue(&self, q: &OverdueQuery, now: OffsetDateTime) -> Result<CasePage> {
        let limit = q.limit.unwrap_or(LIST_LIMIT).clamp(1, LIST_MAX);
        let filter = CaseFilter {
            department: q.department.clone(),
            street: q.street.clone(),
            category: q.category.clone(),
            grid_prefix: q.grid_prefix.clone(),
            filed_by: q.filed_by.clone(),
            or_grid: q.or_grid.clone(),
            mediator: q.mediator.clone(),
            overdue: Some(true),
            ..CaseFilter::default()
        };
        let mut clause = Clause::default();
        self.filter(&mut clause, &filter, now)?;
        if let Some(cursor) = &q.cursor {
            // `<handle_due_ms>.<filed_seq>` of the page's last case.
            let (due, seq) = cursor
                .split_once('.')
                .and_then(|(d, s)| Some((d.parse::<i64>().ok()?, s.parse::<i64>().ok()?)))
                .ok_or_else(|| bad_cursor(cursor))?;
            let (d1, d2, s) = (clause.int(due), clause.int(due), clause.int(seq));
            clause.and(format!(
                "(handle_due_ms > {d1} OR (handle_due_ms = {d2} AND filed_seq > {s}))"
            ));
        }
        self.page(clause, "handle_due_ms, filed_seq", limit, |row| {
            Ok(format!(
                "{}.{}",
                row.try_get::<i64, _>("handle_due_ms")?,
                row.try_get::<i64, _>("filed_seq")?
            ))
        })
        .await
    }

    /// The Open311 list in one go: the cases `q` names (newest filing first) and, for
    /// each, its notes of the public event types ([`crate::summary::PUBLIC_EVENTS`]),
    /// said by [`crate::summary::public`] — two statements, however many cases.
    pub async fn public(&self, q: &PublicQuery, now: OffsetDateTime) -> Result<PublicPage> {
        let limit = q.limit.unwrap_or(LIST_LIMIT).clamp(1, PUBLIC_MAX);
        let mut clause = Clause::default();
        self.filter(&mut clause, &q.filter, now)?;
        if !q.ids.is_empty() {
            let ps: Vec<String> = q
                .ids
                .iter()
                .map(|id| clause.text(&id.to_string()))
                .collect();
            clause.and(format!("id IN ({})", ps.join(", ")));
        }
        let page = self
            .page(clause, "filed_seq DESC", limit, |_| Ok(String::new()))
            .await?;
        let mut notes: BTreeMap<String, Vec<PublicNote>> = BTreeMap::new();
        let mut filings: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        if !page.items.is_empty() {
            let mut clause = Clause::default();
            let ids: Vec<String> = page
                .items
                .iter()
                .map(|v| clause.text(&v.id.to_string()))
                .collect();
            let types: Vec<String> = crate::summary::PUBLIC_EVENTS
                .iter()
                .map(|t| clause.text(t))
                .collect();
            clause.and(format!("case_id IN ({})", ids.join(", ")));
            clause.and(format!("type IN ({})", types.join(", ")));
            let sql = format!(
                "SELECT case_id, version, type, occurred_at, data FROM timeline {} \
                 ORDER BY case_id, version",
                clause.sql()
            );
            let rows = clause
                .bind(sqlx::query(&sql))
                .fetch_all(self.pool())
                .await?;
            for row in rows {
                let event_type: String = row.try_get("type")?;
                let data: serde_json::Value =
                    serde_json::from_str(&row.try_get::<String, _>("data")?)
                        .map_err(|e| ReadModelError::Corrupt(format!("timeline data: {e}")))?;
                let Some(summary) = crate::summary::public(&event_type, &data) else {
                    continue;
                };
                let case_id: String = row.try_get("case_id")?;
                if event_type == "CaseFiled" {
                    filings.insert(case_id.clone(), data);
                }
                notes.entry(case_id).or_default().push(PublicNote {
                    version: row.try_get::<i64, _>("version")? as u64,
                    datetime: row.try_get("occurred_at")?,
                    event_type,
                    summary,
                });
            }
        }
        let items = page
            .items
            .into_iter()
            .map(|case| {
                let id = case.id.to_string();
                let filed = filings.remove(&id).unwrap_or_default();
                let source = &filed["source"];
                let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
                PublicRequest {
                    notes: notes.remove(&id).unwrap_or_default(),
                    lat: text(&source["open311"]["lat"]),
                    long: text(&source["open311"]["long"]),
                    media_url: text(&source["attachments"][0]),
                    case,
                }
            })
            .collect();
        Ok(PublicPage { items })
    }

    /// One page of cases under `clause` in `order`: one row more than `limit` says
    /// whether another page follows; its cursor is `cursor_of` the page's last row.
    async fn page(
        &self,
        mut clause: Clause,
        order: &str,
        limit: u32,
        cursor_of: impl Fn(&sqlx::any::AnyRow) -> Result<String>,
    ) -> Result<CasePage> {
        let p = clause.int(i64::from(limit) + 1);
        let sql = format!(
            "SELECT * FROM cases {} ORDER BY {order} LIMIT {p}",
            clause.sql()
        );
        let rows = clause
            .bind(sqlx::query(&sql))
            .fetch_all(self.pool())
            .await?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows.iter().take(limit as usize) {
            items.push(case_from_row(row)?);
            last = Some(row);
        }
        let next_cursor = match (more, last) {
            (true, Some(row)) => Some(cursor_of(row)?),
            _ => None,
        };
        Ok(CasePage { items, next_cursor })
    }

    fn filter(&self, c: &mut Clause, f: &CaseFilter, now: OffsetDateTime) -> Result<()> {
        if !f.status.is_empty() {
            let ps: Vec<String> = f.status.iter().map(|s| c.text(s)).collect();
            c.and(format!("status IN ({})", ps.join(", ")));
        }
        if let Some(d) = &f.department {
            let (p1, p2) = (c.text(d), c.text(d));
            let p3 = c.text(d);
            c.and(format!(
                "(lead = {p1} OR EXISTS (SELECT 1 FROM inbox i
                   WHERE i.case_id = cases.id AND i.department = {p3})
                 OR EXISTS (SELECT 1 FROM dispatches d
                   WHERE d.case_id = cases.id AND d.department = {p2}
                     AND d.version = (SELECT MAX(version) FROM dispatches d2
                                      WHERE d2.case_id = cases.id)))"
            ));
        }
        if let Some(s) = &f.street {
            let p = c.text(s);
            c.and(format!("street = {p}"));
        }
        if let Some(g) = &f.grid_prefix {
            let condition = in_grid(c, "grid", g);
            c.and(condition);
        }
        if let Some(me) = &f.filed_by {
            let p = c.text(me);
            let mine = format!("filed_by = {p}");
            let condition = match &f.or_grid {
                Some(g) => format!("({mine} OR {})", in_grid(c, "grid", g)),
                None => mine,
            };
            c.and(condition);
        }
        if let Some(m) = &f.mediator {
            let p = c.text(m);
            c.and(format!("mediator = {p}"));
        }
        if !f.categories.is_empty() {
            let ps: Vec<String> = f.categories.iter().map(|s| c.text(s)).collect();
            c.and(format!("category IN ({})", ps.join(", ")));
        }
        if !f.not_kinds.is_empty() {
            let ps: Vec<String> = f.not_kinds.iter().map(|s| c.text(s)).collect();
            c.and(format!("kind NOT IN ({})", ps.join(", ")));
        }
        for (column, value) in [
            ("category", &f.category),
            ("channel", &f.channel),
            ("urgency", &f.urgency),
        ] {
            if let Some(v) = value {
                let p = c.text(v);
                c.and(format!("{column} = {p}"));
            }
        }
        if let Some(overdue) = f.overdue {
            let p = c.int(crate::fold::millis(now));
            // `handle_due_ms` is the running handling deadline (`Case::running_handle_due`):
            // null while the clock is stopped.
            let condition = format!(
                "(handle_due_ms IS NOT NULL AND handle_due_ms < {p} AND status IN ({}))",
                overdue_able()
            );
            c.and(if overdue {
                condition
            } else {
                format!("NOT {condition}")
            });
        }
        if let Some(from) = &f.filed_from {
            let p = c.int(instant_ms("filed_from", from)?);
            c.and(format!("filed_ms >= {p}"));
        }
        if let Some(to) = &f.filed_to {
            let p = c.int(instant_ms("filed_to", to)?);
            c.and(format!("filed_ms < {p}"));
        }
        if let Some(text) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            for word in text.split_whitespace() {
                let (p1, p2) = (
                    c.text(&contains_pattern(&word.to_lowercase())),
                    c.text(&contains_pattern(&word.to_lowercase())),
                );
                c.and(format!(
                    "(LOWER(title) LIKE {p1} ESCAPE '\\' OR LOWER(description) LIKE {p2} ESCAPE '\\')"
                ));
            }
        }
        Ok(())
    }

    /// The figures by `q.group_by` and `q.period`, each rate with its counts, sorted by
    /// key then period. A group appears when any of its counts is not zero.
    pub async fn stats(&self, q: &StatsQuery) -> Result<StatsView> {
        let from = q
            .from
            .as_deref()
            .map(|s| instant_ms("from", s))
            .transpose()?;
        let to = q.to.as_deref().map(|s| instant_ms("to", s)).transpose()?;
        let key = |table: &str| match q.group_by {
            GroupBy::Department if table == "c" => "c.lead".to_owned(),
            GroupBy::Department => format!("{table}.department"),
            GroupBy::Street => "c.street".to_owned(),
            GroupBy::Category => "c.category".to_owned(),
        };
        let period = |day: &str| match q.period {
            Period::Day => day.to_owned(),
            Period::Month => format!("SUBSTR({day}, 1, 7)"),
            Period::All => "'all'".to_owned(),
        };
        let group = |k: &str, p: &str| match q.period {
            Period::All => format!("GROUP BY {k}"),
            _ => format!("GROUP BY {k}, {p}"),
        };
        let window = |column: &str| {
            let mut clause = Clause::default();
            if let Some(g) = &q.grid_prefix {
                let condition = in_grid(&mut clause, "c.grid", g);
                clause.and(condition);
            }
            if let Some(from) = from {
                let p = clause.int(from);
                clause.and(format!("{column} >= {p}"));
            }
            if let Some(to) = to {
                let p = clause.int(to);
                clause.and(format!("{column} < {p}"));
            }
            clause
        };

        // Counts per (key, period): [orders, on time, callbacks, resolved, satisfied,
        // basically satisfied, filed, completed, appealed].
        let mut counts: BTreeMap<(Option<String>, String), [u64; 9]> = BTreeMap::new();
        // Escalating never counts against the unit that escalated: its work orders,
        // callbacks and completions of an escalated case leave its own figures.
        let by_unit = q.group_by == GroupBy::Department;
        let (k, p) = (key("d"), period("d.day"));
        let mut clause = window("d.dispatched_ms");
        if by_unit {
            clause.and("d.excused = 0".to_owned());
        }
        let sql = format!(
            "SELECT {k} AS k, {p} AS p, COUNT(*) AS n1,
                    SUM(CASE WHEN d.on_time = 1 THEN 1 ELSE 0 END) AS n2
             FROM dispatches d JOIN cases c ON c.id = d.case_id {} {}",
            clause.sql(),
            group(&k, &p)
        );
        self.count_into(&mut counts, &clause, &sql, 0, 2).await?;
        let (k, p) = (key("b"), period("b.day"));
        let mut clause = window("b.at_ms");
        if by_unit {
            clause.and("b.excused = 0".to_owned());
        }
        // A callback whose appeal was accepted counts on its own line, not in the rates.
        let accepted = "EXISTS (SELECT 1 FROM appeals a WHERE a.case_id = b.case_id
                  AND a.callback_version = b.version AND a.accepted = 1)";
        let mut appealed = window("b.at_ms");
        if by_unit {
            appealed.and("b.excused = 0".to_owned());
        }
        appealed.and(accepted.to_owned());
        let sql = format!(
            "SELECT {k} AS k, {p} AS p, COUNT(*) AS n1
             FROM callbacks b JOIN cases c ON c.id = b.case_id {} {}",
            appealed.sql(),
            group(&k, &p)
        );
        self.count_into(&mut counts, &appealed, &sql, 8, 1).await?;
        clause.and(format!("NOT {accepted}"));
        let sql = format!(
            "SELECT {k} AS k, {p} AS p, COUNT(*) AS n1,
                    SUM(CASE WHEN b.resolved = 1 THEN 1 ELSE 0 END) AS n2,
                    SUM(CASE WHEN b.satisfaction = 'satisfied' THEN 1 ELSE 0 END) AS n3,
                    SUM(CASE WHEN b.satisfaction = 'basically_satisfied' THEN 1 ELSE 0 END) AS n4
             FROM callbacks b JOIN cases c ON c.id = b.case_id {} {}",
            clause.sql(),
            group(&k, &p)
        );
        self.count_into(&mut counts, &clause, &sql, 2, 4).await?;
        let (k, p) = (key("c"), period("c.filed_day"));
        let mut clause = window("c.filed_ms");
        if by_unit {
            clause.and("c.lead_excused = 0".to_owned());
        }
        let sql = format!(
            "SELECT {k} AS k, {p} AS p, COUNT(*) AS n1,
                    SUM(CASE WHEN c.status IN ('replied', 'closed') THEN 1 ELSE 0 END) AS n2
             FROM cases c {} {}",
            clause.sql(),
            group(&k, &p)
        );
        self.count_into(&mut counts, &clause, &sql, 6, 2).await?;

        // The lead's handling of each dispatch: working time needs the calendar, so
        // the rows are summed here rather than in SQL.
        let (k, p) = (key("h"), period("h.day"));
        let mut clause = window("h.dispatched_ms");
        if by_unit {
            clause.and("h.excused = 0".to_owned());
        }
        let sql = format!(
            "SELECT {k} AS k, {p} AS p, h.* FROM handlings h JOIN cases c ON c.id = h.case_id {}",
            clause.sql()
        );
        let mut handled: BTreeMap<(Option<String>, String), crate::assessment::Counts> =
            BTreeMap::new();
        for row in clause
            .bind(sqlx::query(&sql))
            .fetch_all(self.pool())
            .await?
        {
            let key: Option<String> = row.try_get("k")?;
            let period: String = row.try_get("p")?;
            handled
                .entry((key, period))
                .or_default()
                .add(&row, &self.working)?;
        }
        for (group, h) in &handled {
            if h.any() {
                counts.entry(group.clone()).or_default();
            }
        }

        let rows = counts
            .into_iter()
            .map(|((key, period), n)| {
                let mut row = StatsRow {
                    key,
                    period,
                    response: Rate::new(n[1], n[0]),
                    resolution: Rate::new(n[3], n[2]),
                    satisfaction: Rate::new(n[4] + n[5], n[2]),
                    satisfied: n[4],
                    basically_satisfied: n[5],
                    completion: Rate::new(n[7], n[6]),
                    timely_sign: Rate::default(),
                    on_time_reply: Rate::default(),
                    returns: Rate::default(),
                    reopens: Rate::default(),
                    overdue: 0,
                    sign_time: Default::default(),
                    reply_time: Default::default(),
                    appealed: n[8],
                };
                if let Some(h) = handled.get(&(row.key.clone(), row.period.clone())) {
                    h.fill(&mut row);
                }
                row
            })
            .collect();
        Ok(StatsView {
            group_by: q.group_by,
            period: q.period,
            rows,
        })
    }

    /// Runs a grouped count and adds columns `n1..=n{width}` at `at..at+width`.
    async fn count_into(
        &self,
        counts: &mut BTreeMap<(Option<String>, String), [u64; 9]>,
        clause: &Clause,
        sql: &str,
        at: usize,
        width: usize,
    ) -> Result<()> {
        let rows = clause.bind(sqlx::query(sql)).fetch_all(self.pool()).await?;
        for row in rows {
            let key: Option<String> = row.try_get("k")?;
            let period: String = row.try_get("p")?;
            let entry = counts.entry((key, period)).or_default();
            for i in 0..width {
                let n: Option<i64> = row.try_get(format!("n{}", i + 1).as_str())?;
                entry[at + i] += n.unwrap_or(0).max(0) as u64;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_half_up_in_per_mille() {
        assert_eq!(Rate::new(2, 3).permille, Some(667));
        assert_eq!(Rate::new(1, 3).permille, Some(333));
        assert_eq!(Rate::new(1, 8).permille, Some(125));
        assert_eq!(Rate::new(1, 2000).permille, Some(1));
        assert_eq!(Rate::new(0, 0).permille, None);
    }

    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(contains_pattern("5%_a\\"), "%5\\%\\_a\\\\%");
    }
}

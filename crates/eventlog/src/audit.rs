//! Whole-log verification (`casegrid audit verify`): every stored message is
//! classified ([`crate::classify`]) from sequence 1, so every case's versions are
//! contiguous from 1 and every hash chains and recomputes, or the message is named.

use crate::classify::{Classified, Heads, Quarantined};
use crate::envelope::ChainBreak;
use crate::error::LogError;
use crate::log::EventLog;
use casegrid_domain::CaseId;
use futures_util::StreamExt;
use std::collections::HashSet;

/// What a full verification saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Stored messages read.
    pub events: u64,
    /// Cases with at least one valid event.
    pub cases: u64,
    /// The first broken case and version, in stream order.
    pub first_break: Option<ChainBreak>,
    /// How many messages failed a check.
    pub broken_events: u64,
    /// Every message that failed a check, in stream order, and why.
    pub quarantined: Vec<Quarantined>,
}

/// Reads the log from sequence 1 to its current end and classifies every message.
pub async fn verify_log(log: &EventLog) -> Result<AuditReport, LogError> {
    verify_log_with_progress(log, &|_, _| {}).await
}

/// How many messages between two calls of a progress callback.
const PROGRESS_EVERY: u64 = 10_000;

/// [`verify_log`], calling `progress(done, total)` every [`PROGRESS_EVERY`] messages
/// and at the end, for a progress display.
pub async fn verify_log_with_progress(
    log: &EventLog,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<AuditReport, LogError> {
    let last = log.last_sequence().await?;
    let mut report = AuditReport::default();
    if last == 0 {
        return Ok(report);
    }
    let mut heads = Heads::new(1);
    let mut cases: HashSet<CaseId> = HashSet::new();
    let mut messages = std::pin::pin!(log.read_raw_from(1).await?);
    while let Some(message) = messages.next().await {
        let message = message?;
        report.events += 1;
        match heads.classify(log, &message).await? {
            Classified::Valid(e) => {
                cases.insert(e.envelope.case_id);
            }
            // A knowledge-base entry's chain is checked like a case's; it is no case.
            Classified::Kb(_) => {}
            Classified::Quarantined(q) => {
                report.broken_events += 1;
                report.first_break.get_or_insert_with(|| ChainBreak {
                    case_id: q
                        .case_id
                        .unwrap_or_else(|| CaseId::for_filing("unreadable", &q.seq.to_string())),
                    version: q.version.unwrap_or(0),
                    reason: format!("stream sequence {} ({}): {}", q.seq, q.reason, q.detail),
                });
                report.quarantined.push(q);
            }
        }
        if report.events % PROGRESS_EVERY == 0 || message.seq >= last {
            progress(message.seq, last);
        }
        if message.seq >= last {
            break;
        }
    }
    report.cases = cases.len() as u64;
    Ok(report)
}

//! Whole-log verification (`casegrid audit verify`): every case's versions are
//! contiguous from 1 and every hash chains and recomputes.

use crate::envelope::{hash_of, ChainBreak, GENESIS_HASH};
use crate::error::LogError;
use crate::log::EventLog;
use casegrid_domain::CaseId;
use futures_util::StreamExt;
use std::collections::HashMap;

/// What a full verification saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub events: u64,
    pub cases: u64,
    /// The first broken case and version, in stream order.
    pub first_break: Option<ChainBreak>,
    /// How many events failed a check.
    pub broken_events: u64,
}

/// Reads the log from sequence 1 to its current end and checks every case.
pub async fn verify_log(log: &EventLog) -> Result<AuditReport, LogError> {
    let last = log.last_sequence().await?;
    let mut report = AuditReport::default();
    if last == 0 {
        return Ok(report);
    }
    // Per case: the last version seen and its hash.
    let mut heads: HashMap<CaseId, (u64, String)> = HashMap::new();
    let mut events = std::pin::pin!(log.read_from(1).await?);
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(e) => e,
            Err(LogError::Corrupt { seq, reason }) => {
                report.events += 1;
                report.broken_events += 1;
                report.first_break.get_or_insert(ChainBreak {
                    case_id: CaseId::for_filing("unreadable", &seq.to_string()),
                    version: 0,
                    reason: format!("stream sequence {seq}: {reason}"),
                });
                if seq >= last {
                    break;
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        report.events += 1;
        let e = &event.envelope;
        let (version, prev) = heads
            .get(&e.case_id)
            .cloned()
            .unwrap_or((0, GENESIS_HASH.to_owned()));
        let problem = if e.version != version + 1 {
            Some(format!(
                "found version {} after version {version}",
                e.version
            ))
        } else if e.prev_hash != prev {
            Some(format!(
                "prev_hash {} is not the previous hash {prev}",
                e.prev_hash
            ))
        } else {
            match hash_of(&event.raw) {
                Ok(h) if h == e.hash => None,
                Ok(h) => Some(format!(
                    "stored hash {} but the content hashes to {h}",
                    e.hash
                )),
                Err(reason) => Some(reason),
            }
        };
        if let Some(reason) = problem {
            report.broken_events += 1;
            report.first_break.get_or_insert(ChainBreak {
                case_id: e.case_id,
                version: e.version,
                reason: format!("stream sequence {}: {reason}", event.seq),
            });
        }
        heads.insert(e.case_id, (e.version, e.hash.clone()));
        if event.seq >= last {
            break;
        }
    }
    report.cases = heads.len() as u64;
    Ok(report)
}

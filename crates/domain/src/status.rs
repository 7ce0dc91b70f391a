//! The classes of case statuses, defined once: the read models, the gateway, the
//! Open311 facade and the OpenAPI document ask these instead of listing statuses.
//! A new status changes [`Status::ALL`] and the classes here, nothing else.

use crate::case::Status;

impl Status {
    /// Every status, in the order of the lifecycle.
    pub const ALL: [Status; 11] = [
        Status::Received,
        Status::Dispatched,
        Status::InProgress,
        Status::Suspended,
        Status::Replied,
        Status::Closed,
        Status::InMediation,
        Status::Referred,
        Status::Merged,
        Status::Declined,
        Status::Withdrawn,
    ];

    /// Still waiting for an answer to the citizen: received, being handled or in
    /// mediation. Replied, referred and final cases are not open.
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            Self::Received
                | Self::Dispatched
                | Self::InProgress
                | Self::Suspended
                | Self::InMediation
        )
    }

    /// A department holds the case: dispatched, in progress or suspended.
    pub fn is_in_handling(&self) -> bool {
        matches!(self, Self::Dispatched | Self::InProgress | Self::Suspended)
    }

    /// The deadline clock runs: dispatched or in progress (it stops while suspended or
    /// in mediation). Only such a case can be overdue or miss a deadline.
    pub fn is_overdue_able(&self) -> bool {
        matches!(self, Self::Dispatched | Self::InProgress)
    }

    /// What Open311 GeoReport v2 calls the status: `open` or `closed`.
    pub fn open311(&self) -> &'static str {
        if self.is_open() {
            "open"
        } else {
            "closed"
        }
    }

    /// The statuses of a class, as their wire names (`Status::names(Status::is_open)`).
    pub fn names(class: impl Fn(&Status) -> bool) -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|s| class(s))
            .map(Status::as_str)
            .collect()
    }

    /// The status with this wire name.
    pub fn parse(name: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_one_wire_name_and_the_classes_nest() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
            if s.is_overdue_able() {
                assert!(s.is_in_handling(), "{s}");
            }
            if s.is_in_handling() {
                assert!(s.is_open(), "{s}");
            }
            if s.is_final() {
                assert!(!s.is_open(), "{s}");
            }
        }
        assert_eq!(
            Status::names(Status::is_open),
            [
                "received",
                "dispatched",
                "in_progress",
                "suspended",
                "in_mediation"
            ]
        );
        assert_eq!(Status::Replied.open311(), "closed");
        assert_eq!(Status::Suspended.open311(), "open");
    }
}

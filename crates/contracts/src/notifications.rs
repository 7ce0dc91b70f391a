//! Notifications' delivery records as supervisors see them (`GET /api/v1/notifications`,
//! answered by routing's notifier on [`crate::subjects::ROUTING_NOTIFICATIONS`]).

use casegrid_domain::CaseId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not attempted yet.
    Pending,
    Sent,
    /// The last attempt failed; another follows at `next_at`.
    Failed,
    /// Every attempt failed: the dead-letter list.
    Dead,
}

impl DeliveryState {
    /// Sent or dead-lettered: nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryState::Sent | DeliveryState::Dead)
    }
}

/// What the notifications list is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<DeliveryState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One notification and its delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotificationView {
    /// Deterministic: SHA-256 of rule, trigger and recipient (32 hex digits).
    pub id: String,
    /// The rule of `notifications.toml`.
    pub rule: String,
    pub case_id: CaseId,
    /// The event type that started it, or `deadline_ahead`.
    pub trigger: String,
    /// The event id, or `<case>:<deadline>:<unit>:<due>` of a reminder.
    pub trigger_id: String,
    /// `webhook` or `sms`.
    pub channel: String,
    /// A department id, a role name, or `reporter` (the citizen, whose phone is never shown).
    pub recipient: String,
    /// The webhook URL or a staff SMS number; absent for the reporter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub text: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// RFC 3339.
    pub created_at: String,
    /// The earliest next attempt, RFC 3339.
    pub next_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
}

/// The answer of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotificationsView {
    pub items: Vec<NotificationView>,
}

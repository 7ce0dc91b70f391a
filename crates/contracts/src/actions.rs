//! API actions: who owns each, and how its JSON body becomes a command.
//!
//! Every body denies unknown fields and every error names the field. Most bodies
//! parse straight into a [`Command`] ([`Parsed::Command`]). A few commands carry
//! values only the owning service can compute — deadlines from configuration and
//! the working calendar, or personal data to seal — so their bodies parse into a
//! request the service completes ([`Parsed::Incomplete`]):
//!
//! | action | body | the service adds |
//! | --- | --- | --- |
//! | `dispatch` | [`DispatchRequest`] | `sign_due`, `handle_due`, `return_due` (routing rules, calendar) |
//! | `request_extension` | [`ExtensionRequest`] | `request_by`: the handling deadline less the configured cutoff |
//! | `resume` | [`ResumeRequest`] | `handle_due`: the working time left at suspension, from now |
//! | `whistle` | [`WhistleRequest`] | `report_due`: now plus the configured report-in time |
//! | `open_mediation` | [`MediationRequest`] | sealed party names and phones; `mediation_due` |
//! | `record_agreement` | [`AgreementRequest`] | `court_confirmation_due`: now plus the configured window |
//! | `appeal_rating` | [`AppealRequest`] | `appeal_by`: the callback's instant plus the configured working days |

use crate::Problem;
use casegrid_domain::command::{
    AddAttachment, Annotate, AppealRating, BlowWhistle, Close, DecideAppeal, DecideExtension,
    Decline, Dispatch, Escalate, Merge, OpenMediation, RateReportIn, Reason, RecordAgreement,
    RecordCallback, RecordMediationSession, RecordProgress, Refer, Reply, ReplyAtIntake,
    RequestExtension, Resume, Return, Supervise, Suspend,
};
use casegrid_domain::event::{Party, PartyRole};
use casegrid_domain::personal::Sealed;
use casegrid_domain::time::OffsetDateTime;
use casegrid_domain::{Command, DepartmentId};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The service that decides an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Intake,
    Routing,
}

/// Every action the API accepts, with its owner. Filing is `POST /cases`;
/// `MarkDeadlineMissed` is routing's own and has no action.
pub const ACTIONS: &[(&str, Owner)] = &[
    ("reply_at_intake", Owner::Intake),
    ("decline", Owner::Intake),
    ("dispatch", Owner::Routing),
    ("sign", Owner::Routing),
    ("return", Owner::Routing),
    ("request_extension", Owner::Routing),
    ("decide_extension", Owner::Routing),
    ("record_progress", Owner::Routing),
    ("request_suspension", Owner::Routing),
    ("suspend", Owner::Routing),
    ("resume", Owner::Routing),
    ("reply", Owner::Routing),
    ("whistle", Owner::Routing),
    ("report_in", Owner::Routing),
    ("rate_report_in", Owner::Routing),
    ("escalate", Owner::Routing),
    ("supervise", Owner::Routing),
    ("callback", Owner::Intake),
    ("reopen", Owner::Intake),
    ("close", Owner::Intake),
    ("open_mediation", Owner::Routing),
    ("record_mediation_session", Owner::Routing),
    ("record_agreement", Owner::Routing),
    ("record_mediation_failure", Owner::Routing),
    ("refer", Owner::Routing),
    ("merge", Owner::Intake),
    ("annotate", Owner::Intake),
    ("add_attachment", Owner::Intake),
    ("withdraw", Owner::Intake),
    ("reveal", Owner::Intake),
    ("request_erasure", Owner::Intake),
    ("erase", Owner::Intake),
    ("appeal_rating", Owner::Routing),
    ("decide_appeal", Owner::Routing),
];

pub fn owner(action: &str) -> Option<Owner> {
    ACTIONS.iter().find(|(a, _)| *a == action).map(|(_, o)| *o)
}

/// An action's body, parsed (short-lived, so its size does not matter).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Decide as is.
    Command(Command),
    /// The owning service completes it into a command (see the module docs).
    Incomplete(Incomplete),
}

/// Bodies of commands that need service-computed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incomplete {
    Dispatch(DispatchRequest),
    RequestExtension(ExtensionRequest),
    Resume(ResumeRequest),
    Whistle(WhistleRequest),
    OpenMediation(MediationRequest),
    RecordAgreement(AgreementRequest),
    AppealRating(AppealRequest),
}

/// `dispatch` by a supervisor (派单 by hand, or re-dispatch after a return or reopen).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    pub lead: DepartmentId,
    #[serde(default)]
    pub assisting: Vec<DepartmentId>,
}

/// Deadlines routing computes for a dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchDeadlines {
    pub sign_due: OffsetDateTime,
    pub handle_due: OffsetDateTime,
    pub return_due: Option<OffsetDateTime>,
}

impl DispatchRequest {
    pub fn complete(self, deadlines: DispatchDeadlines) -> Command {
        Command::Dispatch(Dispatch {
            lead: self.lead,
            assisting: self.assisting,
            sign_due: deadlines.sign_due,
            handle_due: deadlines.handle_due,
            rule: "manual".to_owned(),
            return_due: deadlines.return_due,
        })
    }
}

/// `request_extension`: the new handling deadline asked for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    #[schemars(regex(pattern = casegrid_domain::schema::NOT_BLANK))]
    pub reason: String,
    #[serde(with = "casegrid_domain::time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub handle_due: OffsetDateTime,
}

impl ExtensionRequest {
    /// `request_by`: the current handling deadline less the configured cutoff.
    pub fn complete(self, request_by: OffsetDateTime) -> Command {
        Command::RequestExtension(RequestExtension {
            reason: self.reason,
            handle_due: self.handle_due,
            request_by,
        })
    }
}

/// `resume`: an empty body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {}

impl ResumeRequest {
    /// `handle_due`: the working time left when suspended, counted from now.
    pub fn complete(self, handle_due: OffsetDateTime) -> Command {
        Command::Resume(Resume { handle_due })
    }
}

/// `whistle`: the departments summoned and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhistleRequest {
    pub departments: Vec<DepartmentId>,
    #[schemars(regex(pattern = casegrid_domain::schema::NOT_BLANK))]
    pub reason: String,
}

impl WhistleRequest {
    pub fn complete(self, report_due: OffsetDateTime) -> Command {
        Command::BlowWhistle(BlowWhistle {
            departments: self.departments,
            report_due,
            reason: self.reason,
        })
    }
}

/// `open_mediation`: parties in clear, as the mediator typed them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediationRequest {
    #[serde(deserialize_with = "casegrid_domain::object::objects")]
    pub parties: Vec<PartyRequest>,
    /// The mediator the mediation is assigned to (a mediator principal, checked by
    /// the service); absent, the mediator who opens it.
    #[serde(default)]
    pub mediator: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyRequest {
    pub role: PartyRole,
    #[schemars(regex(pattern = casegrid_domain::schema::NOT_BLANK))]
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    pub consent: bool,
}

impl MediationRequest {
    /// Seals every party's personal fields with `seal(field, clear)` (fields named
    /// `parties[i].name`, `parties[i].phone`, as the case lists them) and adds the
    /// configured mediation deadline.
    pub fn complete<E>(
        self,
        mut seal: impl FnMut(&str, &str) -> Result<Sealed, E>,
        mediation_due: OffsetDateTime,
    ) -> Result<Command, E> {
        let mut parties = Vec::with_capacity(self.parties.len());
        for (i, p) in self.parties.into_iter().enumerate() {
            let name = seal(&format!("parties[{i}].name"), &p.name)?;
            let phone = match &p.phone {
                Some(phone) => Some(seal(&format!("parties[{i}].phone"), phone)?),
                None => None,
            };
            parties.push(Party {
                role: p.role,
                name,
                phone,
                consent: p.consent,
            });
        }
        Ok(Command::OpenMediation(OpenMediation {
            parties,
            mediation_due,
            mediator: self.mediator,
        }))
    }
}

/// `record_agreement`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementRequest {
    #[schemars(regex(pattern = casegrid_domain::schema::NOT_BLANK))]
    pub terms: String,
    /// The parties apply jointly for court confirmation (司法确认).
    #[serde(default)]
    pub court_confirmation: bool,
}

impl AgreementRequest {
    pub fn complete(self, court_confirmation_due: OffsetDateTime) -> Command {
        Command::RecordAgreement(RecordAgreement {
            terms: self.terms,
            court_confirmation: self.court_confirmation,
            court_confirmation_due,
        })
    }
}

/// `appeal_rating` (申诉): why the callback should not count against the department.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealRequest {
    #[schemars(regex(pattern = casegrid_domain::schema::NOT_BLANK))]
    pub reason: String,
}

impl AppealRequest {
    /// `appeal_by`: the end of the configured window after the callback (`None`
    /// when the callback carries no instant).
    pub fn complete(self, appeal_by: Option<OffsetDateTime>) -> Command {
        Command::AppealRating(AppealRating {
            reason: self.reason,
            appeal_by,
        })
    }
}

/// Parses an action's body; errors name the field.
pub fn parse(action: &str, body: &serde_json::Value) -> Result<Parsed, Problem> {
    use Parsed::{Command as Ready, Incomplete as Needs};
    let b = body;
    Ok(match action {
        "reply_at_intake" => Ready(Command::ReplyAtIntake(from_body::<ReplyAtIntake>(
            action, b,
        )?)),
        "decline" => Ready(Command::Decline(from_body::<Decline>(action, b)?)),
        "dispatch" => Needs(Incomplete::Dispatch(from_body(action, b)?)),
        "sign" => {
            expect_empty(b)?;
            Ready(Command::Sign)
        }
        "return" => Ready(Command::Return(from_body::<Return>(action, b)?)),
        "request_extension" => Needs(Incomplete::RequestExtension(from_body(action, b)?)),
        "decide_extension" => Ready(Command::DecideExtension(from_body::<DecideExtension>(
            action, b,
        )?)),
        "record_progress" => Ready(Command::RecordProgress(from_body::<RecordProgress>(
            action, b,
        )?)),
        "request_suspension" => Ready(Command::RequestSuspension(from_body::<Reason>(action, b)?)),
        "suspend" => Ready(Command::Suspend(from_body::<Suspend>(action, b)?)),
        "resume" => Needs(Incomplete::Resume(from_body(action, b)?)),
        "reply" => Ready(Command::Reply(from_body::<Reply>(action, b)?)),
        "whistle" => Needs(Incomplete::Whistle(from_body(action, b)?)),
        "report_in" => {
            expect_empty(b)?;
            Ready(Command::ReportIn)
        }
        "rate_report_in" => Ready(Command::RateReportIn(from_body::<RateReportIn>(action, b)?)),
        "escalate" => Ready(Command::Escalate(from_body::<Escalate>(action, b)?)),
        "supervise" => Ready(Command::Supervise(from_body::<Supervise>(action, b)?)),
        "callback" => Ready(Command::RecordCallback(from_body::<RecordCallback>(
            action, b,
        )?)),
        "reopen" => Ready(Command::Reopen(from_body::<Reason>(action, b)?)),
        "close" => Ready(Command::Close(from_body::<Close>(action, b)?)),
        "open_mediation" => Needs(Incomplete::OpenMediation(from_body(action, b)?)),
        "record_mediation_session" => Ready(Command::RecordMediationSession(from_body::<
            RecordMediationSession,
        >(action, b)?)),
        "record_agreement" => Needs(Incomplete::RecordAgreement(from_body(action, b)?)),
        "record_mediation_failure" => Ready(Command::RecordMediationFailure(from_body::<Reason>(
            action, b,
        )?)),
        "refer" => Ready(Command::Refer(from_body::<Refer>(action, b)?)),
        "merge" => Ready(Command::Merge(from_body::<Merge>(action, b)?)),
        "annotate" => Ready(Command::Annotate(from_body::<Annotate>(action, b)?)),
        "add_attachment" => Ready(Command::AddAttachment(from_body::<AddAttachment>(
            action, b,
        )?)),
        "withdraw" => Ready(Command::Withdraw(from_body::<Reason>(action, b)?)),
        "reveal" => Ready(Command::RevealPersonalData(from_body::<Reason>(action, b)?)),
        "request_erasure" => Ready(Command::RequestErasure(from_body::<Reason>(action, b)?)),
        "erase" => Ready(Command::ErasePersonalData(from_body::<Reason>(action, b)?)),
        "appeal_rating" => Needs(Incomplete::AppealRating(from_body(action, b)?)),
        "decide_appeal" => Ready(Command::DecideAppeal(from_body::<DecideAppeal>(action, b)?)),
        other => return Err(unknown_action(other)),
    })
}

pub fn unknown_action(action: &str) -> Problem {
    let known: Vec<&str> = ACTIONS.iter().map(|(a, _)| *a).collect();
    Problem::new(
        404,
        "unknown-action",
        "Unknown action",
        format!(
            "unknown action {action:?}; known actions: {}",
            known.join(", ")
        ),
    )
}

/// An empty body (`{}`, or none at all): `sign`, `report_in`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The JSON Schema of an action's body as [`parse`] takes it (a `$ref` into `generator`'s
/// definitions); `None` for an unknown action. The gateway's document uses it.
pub fn body_schema(action: &str, generator: &mut SchemaGenerator) -> Option<Schema> {
    fn of<T: JsonSchema>(g: &mut SchemaGenerator) -> Option<Schema> {
        Some(g.subschema_for::<T>())
    }
    let g = generator;
    match action {
        "reply_at_intake" => of::<ReplyAtIntake>(g),
        "decline" => of::<Decline>(g),
        "dispatch" => of::<DispatchRequest>(g),
        "sign" | "report_in" => of::<Empty>(g),
        "return" => of::<Return>(g),
        "request_extension" => of::<ExtensionRequest>(g),
        "decide_extension" => of::<DecideExtension>(g),
        "record_progress" => of::<RecordProgress>(g),
        "request_suspension"
        | "reopen"
        | "record_mediation_failure"
        | "withdraw"
        | "reveal"
        | "request_erasure"
        | "erase" => of::<Reason>(g),
        "suspend" => of::<Suspend>(g),
        "resume" => of::<ResumeRequest>(g),
        "reply" => of::<Reply>(g),
        "whistle" => of::<WhistleRequest>(g),
        "rate_report_in" => of::<RateReportIn>(g),
        "escalate" => of::<Escalate>(g),
        "supervise" => of::<Supervise>(g),
        "callback" => of::<RecordCallback>(g),
        "close" => of::<Close>(g),
        "open_mediation" => of::<MediationRequest>(g),
        "record_mediation_session" => of::<RecordMediationSession>(g),
        "record_agreement" => of::<AgreementRequest>(g),
        "refer" => of::<Refer>(g),
        "merge" => of::<Merge>(g),
        "annotate" => of::<Annotate>(g),
        "add_attachment" => of::<AddAttachment>(g),
        "appeal_rating" => of::<AppealRequest>(g),
        "decide_appeal" => of::<DecideAppeal>(g),
        _ => None,
    }
}

fn expect_empty(body: &serde_json::Value) -> Result<(), Problem> {
    match body {
        serde_json::Value::Null => Ok(()),
        serde_json::Value::Object(m) if m.is_empty() => Ok(()),
        serde_json::Value::Object(m) => Err(Problem::unprocessable(format!(
            "unknown field {:?}: this action takes an empty body",
            m.keys().next().expect("non-empty")
        ))),
        _ => Err(Problem::unprocessable("the body must be a JSON object")),
    }
}

/// Deserializes a body, naming the offending field in the error.
pub fn from_body<T: DeserializeOwned>(what: &str, body: &serde_json::Value) -> Result<T, Problem> {
    let body = if body.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        body.clone()
    };
    serde_json::from_value(body).map_err(|e| Problem::unprocessable(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_parse_and_errors_name_the_field() {
        assert!(matches!(
            parse("sign", &json!({})),
            Ok(Parsed::Command(Command::Sign))
        ));
        assert!(parse("reply", &json!({"result": "resolved", "text": "ok"})).is_ok());
        let p = parse("reply", &json!({"result": "done", "text": "ok"})).unwrap_err();
        assert_eq!(p.status, 422);
        assert!(p.detail.contains("unknown variant `done`"), "{}", p.detail);
        let p = parse("callback", &json!({"resolved": true})).unwrap_err();
        assert!(
            p.detail.contains("missing field `satisfaction`"),
            "{}",
            p.detail
        );
        let p = parse("fly", &json!({})).unwrap_err();
        assert_eq!((p.status, p.slug.as_str()), (404, "unknown-action"));
        assert_eq!(owner("sign"), Some(Owner::Routing));
        assert_eq!(owner("callback"), Some(Owner::Intake));
    }

    /// One valid body per action of DESIGN.md's list.
    fn examples() -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("reply_at_intake", json!({"text": "营业时间为9点至17点"})),
            ("decline", json!({"reason": "in_litigation"})),
            (
                "dispatch",
                json!({"lead": "dept.housing", "assisting": ["street.hubin"]}),
            ),
            ("sign", json!({})),
            (
                "return",
                json!({"reason": "非本单位职责", "suggested_owner": "dept.water"}),
            ),
            (
                "request_extension",
                json!({"reason": "需第三方检测", "handle_due": "2026-12-10T18:00:00Z"}),
            ),
            ("decide_extension", json!({"granted": true})),
            ("record_progress", json!({"text": "已现场查看"})),
            ("request_suspension", json!({"reason": "等待司法鉴定"})),
            ("suspend", json!({"reason": "等待司法鉴定"})),
            ("resume", json!({})),
            (
                "reply",
                json!({"result": "resolved", "text": "已处理", "summary_for_citizen": "已停工"}),
            ),
            (
                "whistle",
                json!({"departments": ["dept.police", "dept.urban"], "reason": "联合执法"}),
            ),
            ("report_in", json!({})),
            (
                "rate_report_in",
                json!({"ratings": [{"department": "dept.police", "score": 5}]}),
            ),
            (
                "escalate",
                json!({"level": "street", "reason": "村居无法解决"}),
            ),
            ("supervise", json!({"text": "请尽快办理"})),
            (
                "callback",
                json!({"satisfaction": "unsatisfied", "resolved": false}),
            ),
            ("reopen", json!({"reason": "群众不满意"})),
            ("close", json!({})),
            (
                "open_mediation",
                json!({"parties": [
                    {"role": "applicant", "name": "王女士", "consent": true},
                    {"role": "respondent", "name": "李先生", "phone": "13800001234", "consent": true}
                ]}),
            ),
            ("record_mediation_session", json!({"summary": "双方陈述"})),
            (
                "record_agreement",
                json!({"terms": "赔偿2000元", "court_confirmation": true}),
            ),
            (
                "record_mediation_failure",
                json!({"reason": "被申请人拒绝"}),
            ),
            (
                "refer",
                json!({"to": "court", "institution": "南湖区人民法院"}),
            ),
            (
                "merge",
                json!({"into": "6f1c2a0e-4b7d-5c3e-9a41-7c2d0e5b8f13"}),
            ),
            ("annotate", json!({"text": "来电人再次来电"})),
            (
                "add_attachment",
                json!({
                    "name": "6f1c2a0e-4b7d-5c3e-9a41-7c2d0e5b8f13/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "media_type": "image/png",
                    "size": 1024,
                    "personal": true
                }),
            ),
            ("withdraw", json!({"reason": "来电人撤回"})),
            ("reveal", json!({"reason": "回访"})),
            ("request_erasure", json!({"reason": "本人申请"})),
            ("erase", json!({"reason": "依法删除"})),
            ("appeal_rating", json!({"reason": "诉求超出职权"})),
            (
                "decide_appeal",
                json!({"accepted": true, "reason": "诉求不合理"}),
            ),
        ]
    }

    #[test]
    fn every_action_has_an_owner_and_parses_its_body() {
        let examples = examples();
        assert_eq!(examples.len(), ACTIONS.len());
        for (action, body) in &examples {
            assert!(owner(action).is_some(), "{action} has no owner");
            parse(action, body).unwrap_or_else(|p| panic!("{action}: {}", p.detail));
        }
        for action in [
            "reply_at_intake",
            "decline",
            "callback",
            "reopen",
            "merge",
            "withdraw",
            "annotate",
            "add_attachment",
            "close",
            "reveal",
            "request_erasure",
            "erase",
        ] {
            assert_eq!(owner(action), Some(Owner::Intake), "{action}");
        }
        assert_eq!(
            ACTIONS.iter().filter(|(_, o)| *o == Owner::Routing).count(),
            ACTIONS.len() - 12
        );
    }

    /// The document's body of each action (`body_schema`) takes the example `parse`
    /// takes, and refuses what `parse` refuses: unknown members, missing ones, bad enums.
    #[test]
    fn every_action_body_has_a_schema_that_agrees_with_parse() {
        let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/$defs".into();
        });
        for (action, body) in examples() {
            let mut g = settings.clone().into_generator();
            let schema = body_schema(action, &mut g).unwrap_or_else(|| panic!("{action}"));
            let mut root = serde_json::to_value(&schema).unwrap();
            root["$defs"] = serde_json::Value::Object(g.take_definitions(true));
            let v = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap();
            assert!(v.is_valid(&body), "{action}: {body} against {root}");
            let mut extra = body.as_object().cloned().unwrap_or_default();
            extra.insert("colour".into(), json!("blue"));
            assert!(
                !v.is_valid(&json!(extra)),
                "{action}: an unknown member passes"
            );
            // Never looser than the parser (it may be stricter: the domain's rules, such
            // as scores from 1 to 5, are in the schema too).
            for bad in [
                json!({"reason": 5}),
                json!({"ratings": [{"department": "x", "score": 9}]}),
                json!({"ratings": [{"department": "x", "score": 300}]}),
            ] {
                if parse(action, &bad).is_err() {
                    assert!(
                        !v.is_valid(&bad),
                        "{action}: {bad} passes the schema, not parse"
                    );
                }
            }
            if action == "rate_report_in" {
                assert!(!v.is_valid(&json!({"ratings": [{"department": "x", "score": 9}]})));
            }
        }
        assert!(body_schema("fly", &mut settings.into_generator()).is_none());
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        for (action, body) in examples() {
            let mut body = body.as_object().cloned().unwrap_or_default();
            body.insert("colour".into(), json!("blue"));
            let p = parse(action, &serde_json::Value::Object(body)).unwrap_err();
            assert_eq!(p.status, 422, "{action}");
            assert!(p.detail.contains("colour"), "{action}: {}", p.detail);
        }
    }

    #[test]
    fn bad_values_name_their_field() {
        let p = parse(
            "request_extension",
            &json!({"reason": "x", "handle_due": "tomorrow"}),
        )
        .unwrap_err();
        assert!(p.detail.contains("request_extension"), "{}", p.detail);
        let p = parse(
            "whistle",
            &json!({"departments": ["Police"], "reason": "x"}),
        )
        .unwrap_err();
        assert!(p.detail.contains("department"), "{}", p.detail);
        let p = parse("decline", &json!({"reason": "bored"})).unwrap_err();
        assert!(p.detail.contains("unknown variant `bored`"), "{}", p.detail);
        let p = parse(
            "open_mediation",
            &json!({"parties": [{"role": "applicant", "name": "王"}]}),
        )
        .unwrap_err();
        assert!(p.detail.contains("missing field `consent`"), "{}", p.detail);
    }

    #[test]
    fn incomplete_bodies_are_completed_by_the_service() {
        let due = OffsetDateTime::from_unix_timestamp(1_795_975_200).unwrap();
        let Ok(Parsed::Incomplete(Incomplete::OpenMediation(m))) = parse(
            "open_mediation",
            &json!({"parties": [
                {"role": "applicant", "name": "王女士", "consent": true},
                {"role": "respondent", "name": "李先生", "phone": "13800001234", "consent": true}
            ]}),
        ) else {
            panic!("open_mediation needs completing")
        };
        let mut fields = Vec::new();
        let command = m
            .complete(
                |field, clear| {
                    fields.push(field.to_owned());
                    Ok::<_, ()>(Sealed {
                        masked: casegrid_domain::ids::mask_name(clear),
                        sealed: "c2VhbGVk".into(),
                    })
                },
                due,
            )
            .unwrap();
        assert_eq!(
            fields,
            ["parties[0].name", "parties[1].name", "parties[1].phone"]
        );
        let Command::OpenMediation(open) = command else {
            panic!("not a mediation")
        };
        assert_eq!(open.parties[0].name.masked, "王**");
        assert_eq!(open.mediation_due, due);
        assert_eq!(open.mediator, None);
        let Ok(Parsed::Incomplete(Incomplete::OpenMediation(m))) = parse(
            "open_mediation",
            &json!({"mediator": "med.li", "parties": []}),
        ) else {
            panic!("open_mediation needs completing")
        };
        assert_eq!(m.mediator.as_deref(), Some("med.li"));
        let Ok(Parsed::Incomplete(Incomplete::Dispatch(d))) =
            parse("dispatch", &json!({"lead": "dept.housing"}))
        else {
            panic!("dispatch needs completing")
        };
        let Command::Dispatch(d) = d.complete(DispatchDeadlines {
            sign_due: due,
            handle_due: due,
            return_due: None,
        }) else {
            panic!("not a dispatch")
        };
        assert_eq!(
            (d.lead.as_str(), d.rule.as_str()),
            ("dept.housing", "manual")
        );
    }
}

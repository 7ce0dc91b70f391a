//! The OpenAPI 3.1 document (`/openapi.json`), generated from the route table: every
//! route is an [`Endpoint`] declared once, next to its handler in `routes` or `events`,
//! carrying both the axum handler and its documentation; [`document`] writes them out
//! with the shared component schemas below (the views of `casegrid_contracts`).
//!
//! Schemas use the JSON Schema subset `type` (a name or a list, for nullables),
//! `properties`, `required`, `items`, `enum` and `$ref`, which the tests validate real
//! answers against.

use crate::startup::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use serde_json::{json, Map, Value};

/// One route: its handler and how the document describes it.
pub(crate) struct Endpoint {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) handler: MethodRouter<AppState>,
    summary: &'static str,
    description: Option<&'static str>,
    authenticated: bool,
    parameters: Vec<Value>,
    request: Option<Value>,
    /// The media type of the request body.
    request_media: &'static str,
    /// status → response object.
    responses: Map<String, Value>,
}

impl Endpoint {
    /// An authenticated endpoint; 401, 429 and 504 are documented for it.
    pub(crate) fn new<H, T>(
        method: Method,
        path: &'static str,
        handler: H,
        summary: &'static str,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        Self {
            method,
            path,
            handler: axum::routing::on(filter, handler),
            summary,
            description: None,
            authenticated: true,
            parameters: Vec::new(),
            request: None,
            request_media: "application/json",
            responses: Map::new(),
        }
        .problems(&[401, 429, 504])
    }

    /// No token needed.
    pub(crate) fn public(mut self) -> Self {
        self.authenticated = false;
        for status in ["401", "429"] {
            self.responses.remove(status);
        }
        self
    }

    /// Whether a token is needed.
    pub(crate) fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    pub(crate) fn describe(mut self, description: &'static str) -> Self {
        self.description = Some(description);
        self
    }

    fn parameter(
        mut self,
        name: &str,
        within: &str,
        required: bool,
        doc: &str,
        schema: Value,
    ) -> Self {
        self.parameters.push(json!({
            "name": name, "in": within, "required": required,
            "description": doc, "schema": schema,
        }));
        self
    }

    pub(crate) fn path_param(self, name: &str, doc: &str, schema: Value) -> Self {
        self.parameter(name, "path", true, doc, schema)
    }

    pub(crate) fn query(self, name: &str, doc: &str, schema: Value) -> Self {
        self.parameter(name, "query", false, doc, schema)
    }

    pub(crate) fn header(self, name: &str, doc: &str, schema: Value) -> Self {
        self.parameter(name, "header", false, doc, schema)
    }

    /// A JSON request body; 400 (not JSON) and 413 (too large) are documented with it.
    pub(crate) fn body(mut self, schema: Value) -> Self {
        self.request = Some(schema);
        self.problems(&[400, 413])
    }

    /// A form-encoded request body (`application/x-www-form-urlencoded`).
    pub(crate) fn form_body(mut self, schema: Value) -> Self {
        self.request = Some(schema);
        self.request_media = "application/x-www-form-urlencoded";
        self
    }

    /// A JSON answer.
    pub(crate) fn json(self, status: u16, doc: &str, schema: Value) -> Self {
        self.content(status, doc, "application/json", schema)
    }

    /// An answer of this media type; several media types may share a status.
    pub(crate) fn content(mut self, status: u16, doc: &str, media: &str, schema: Value) -> Self {
        let response = self
            .responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": doc, "content": {} }));
        response["content"][media] = json!({ "schema": schema });
        self
    }

    /// Problem answers (`application/problem+json`).
    pub(crate) fn problems(mut self, statuses: &[u16]) -> Self {
        for status in statuses {
            self.responses.insert(
                status.to_string(),
                json!({
                    "description": problem_description(*status),
                    "content": { "application/problem+json": { "schema": reference("Problem") } },
                }),
            );
        }
        self
    }

    fn operation(&self) -> Value {
        let mut op = json!({
            "operationId": operation_id(&self.method, self.path),
            "summary": self.summary,
            "responses": self.responses,
        });
        if let Some(d) = self.description {
            op["description"] = json!(d);
        }
        if !self.parameters.is_empty() {
            op["parameters"] = json!(self.parameters);
        }
        if let Some(schema) = &self.request {
            op["requestBody"] = json!({
                "required": false,
                "content": { (self.request_media): { "schema": schema } },
            });
        }
        op["security"] = if self.authenticated {
            json!([{ "bearer": [] }])
        } else {
            json!([])
        };
        op
    }
}

fn operation_id(method: &Method, path: &str) -> String {
    let words: Vec<&str> = path
        .split(['/', '.', '{', '}'])
        .filter(|w| !w.is_empty() && *w != "api" && *w != "v1")
        .collect();
    format!("{}_{}", method.as_str().to_lowercase(), words.join("_"))
}

fn problem_description(status: u16) -> &'static str {
    match status {
        400 => "The request is malformed (bad JSON, header or query).",
        401 => {
            "No token, or a token that is unknown, expired, badly signed or for another audience."
        }
        403 => "The principal may not do this.",
        404 => "No such case or route, or a case outside the principal's scope.",
        405 => "The route does not accept this method.",
        409 => "Not possible in the case's state.",
        412 => "The case changed since the version in If-Match.",
        413 => "The request body is too large.",
        422 => "The body is JSON but not what the action needs; the detail names the field.",
        429 => "The principal exceeded its rate limit; see Retry-After.",
        502 => "A service answered something the gateway could not read.",
        503 => "A service behind the gateway is not running or the stream is unreachable.",
        504 => "A service did not answer in time.",
        _ => "A problem.",
    }
}

/// The whole document.
pub(crate) fn document(endpoints: &[Endpoint]) -> Value {
    let mut paths = Map::new();
    for e in endpoints {
        let item = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
        item[e.method.as_str().to_lowercase()] = e.operation();
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "casegrid gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Case handling for 12345 hotlines: file, dispatch, sign, reply, call back, \
                supervise; every change is an event in an append-only log.",
        },
        "paths": paths,
        "components": {
            "schemas": components(),
            "securitySchemes": {
                "bearer": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "A JWT (HS256 or RS256; `sub`, `kind`, `aud`, `exp`, optional \
                        `scope`), or in development a static token from principals.toml.",
                },
            },
        },
    })
}

// Schema helpers.

pub(crate) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(crate) fn string() -> Value {
    json!({ "type": "string" })
}

pub(crate) fn nullable_string() -> Value {
    json!({ "type": ["string", "null"] })
}

pub(crate) fn integer() -> Value {
    json!({ "type": "integer" })
}

pub(crate) fn boolean() -> Value {
    json!({ "type": "boolean" })
}

pub(crate) fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

pub(crate) fn one_of(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

/// An object with these properties, the `required` ones listed.
pub(crate) fn object(properties: &[(&str, Value)], required: &[&str]) -> Value {
    let props: Map<String, Value> = properties
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    json!({ "type": "object", "properties": props, "required": required })
}

/// Case statuses (DESIGN.md "Contract examples"): the domain's list.
pub(crate) const STATUSES: &[&str] = &{
    let all = casegrid_domain::Status::ALL;
    let mut names = [""; casegrid_domain::Status::ALL.len()];
    let mut i = 0;
    while i < all.len() {
        names[i] = all[i].as_str();
        i += 1;
    }
    names
};

const ACTOR_KINDS: &[&str] = &[
    "operator",
    "grid_worker",
    "department",
    "street",
    "mediator",
    "supervisor",
    "public",
    "system",
];

/// The schemas shared by several endpoints: the problem and the contracts' views,
/// and those of the modules that declare their own ([`crate::similar::components`]).
fn components() -> Value {
    let mut all = shared_components();
    for more in [crate::similar::components(), crate::kb::components()] {
        if let (Some(all), Value::Object(more)) = (all.as_object_mut(), more) {
            all.extend(more);
        }
    }
    all
}

fn shared_components() -> Value {
    json!({
        "Problem": object(
            &[
                ("type", string()),
                ("title", string()),
                ("status", integer()),
                ("detail", string()),
            ],
            &["type", "title", "status", "detail"],
        ),
        "Status": one_of(STATUSES),
        "Actor": object(&[("kind", one_of(ACTOR_KINDS)), ("id", string())], &["kind", "id"]),
        "CommandAnswer": object(
            &[
                ("id", string()),
                ("version", integer()),
                ("status", reference("Status")),
                ("personal_data", json!({
                    "type": "object",
                    "description": "`reveal` only, and only for operators and supervisors: the clear \
                        personal fields by name (`reporter.phone`), `[erased]` once erased.",
                })),
            ],
            &["id", "version", "status"],
        ),
        "CaseView": object(
            &[
                ("id", string()),
                ("number", string()),
                ("status", reference("Status")),
                ("version", integer()),
                ("channel", string()),
                ("kind", string()),
                ("category", string()),
                ("urgency", string()),
                ("title", string()),
                ("description", string()),
                ("address", nullable_string()),
                ("grid", nullable_string()),
                ("reporter_name", nullable_string()),
                ("reporter_phone", nullable_string()),
                ("lead", nullable_string()),
                ("assisting", array(string())),
                ("signed", array(string())),
                ("summoned", array(string())),
                ("whistled_by", array(string())),
                ("level", nullable_string()),
                ("sign_due", nullable_string()),
                ("handle_due", nullable_string()),
                ("rule", nullable_string()),
                ("reply_result", nullable_string()),
                ("satisfaction", nullable_string()),
                ("filed_at", string()),
                ("updated_at", string()),
                ("filed_by", nullable_string()),
                ("mediator", nullable_string()),
                ("deadlines", array(reference("Deadline"))),
            ],
            &[
                "id", "number", "status", "version", "channel", "kind", "category", "urgency",
                "title", "description", "filed_at", "updated_at",
            ],
        ),
        "Deadline": object(
            &[
                ("kind", one_of(&["sign", "handle", "report"])),
                ("unit", string()),
                ("due", string()),
                ("missed", boolean()),
            ],
            &["kind", "unit", "due", "missed"],
        ),
        "TimelineEntry": object(
            &[
                ("version", integer()),
                ("type", string()),
                ("occurred_at", string()),
                ("actor", reference("Actor")),
                ("actor_name", string()),
                ("summary", string()),
                ("data", json!({ "type": "object" })),
                ("prev_hash", string()),
                ("hash", string()),
            ],
            &["version", "type", "occurred_at", "actor", "actor_name", "summary", "data", "prev_hash", "hash"],
        ),
        "TimelineView": object(
            &[
                ("case_id", string()),
                ("number", string()),
                ("events", array(reference("TimelineEntry"))),
            ],
            &["case_id", "number", "events"],
        ),
        "InboxItem": object(
            &[
                ("id", string()),
                ("number", string()),
                ("title", string()),
                ("category", string()),
                ("urgency", string()),
                ("status", reference("Status")),
                ("role", one_of(&["lead", "assisting", "summoned", "whistling"])),
                ("signed", boolean()),
                ("sign_due", nullable_string()),
                ("handle_due", nullable_string()),
                ("version", integer()),
                ("due", nullable_string()),
            ],
            &["id", "number", "title", "category", "urgency", "status", "role", "signed", "version"],
        ),
        "CasePage": object(
            &[
                ("items", array(reference("CaseView"))),
                ("next_cursor", nullable_string()),
            ],
            &["items"],
        ),
        "AsOfView": object(
            &[
                ("case_id", string()),
                ("as_of", string()),
                ("version", integer()),
                ("status", reference("Status")),
                ("state", json!({
                    "type": "object",
                    "description": "The case folded from its events up to `as_of` (the domain's \
                        state), personal data masked.",
                })),
            ],
            &["case_id", "as_of", "version", "status", "state"],
        ),
        "Rate": object(
            &[
                ("count", integer()),
                ("of", integer()),
                ("permille", json!({ "type": ["integer", "null"] })),
            ],
            &["count", "of", "permille"],
        ),
        "StatsRow": object(
            &[
                ("key", nullable_string()),
                ("period", string()),
                ("response", reference("Rate")),
                ("resolution", reference("Rate")),
                ("satisfaction", reference("Rate")),
                ("satisfied", integer()),
                ("basically_satisfied", integer()),
                ("completion", reference("Rate")),
                ("timely_sign", reference("Rate")),
                ("on_time_reply", reference("Rate")),
                ("returns", reference("Rate")),
                ("reopens", reference("Rate")),
                ("overdue", integer()),
                ("sign_time", reference("WorkingTime")),
                ("reply_time", reference("WorkingTime")),
                ("appealed", integer()),
            ],
            &["key", "period", "response", "resolution", "satisfaction", "completion"],
        ),
        "WorkingTime": object(
            &[
                ("total_minutes", integer()),
                ("of", integer()),
                ("average_minutes", json!({ "type": ["integer", "null"] })),
            ],
            &["total_minutes", "of", "average_minutes"],
        ),
        "RankingRow": object(
            &[
                ("unit", string()),
                ("score", integer()),
                ("rank", integer()),
                ("previous_rank", json!({ "type": ["integer", "null"] })),
                ("change", json!({ "type": ["integer", "null"] })),
                ("list", one_of(&["red", "black"])),
                ("figures", reference("StatsRow")),
            ],
            &["unit", "score", "rank", "previous_rank", "change", "figures"],
        ),
        "RankingView": object(
            &[
                ("month", string()),
                ("previous_month", string()),
                ("weights", json!({ "type": "object" })),
                ("rows", array(reference("RankingRow"))),
            ],
            &["month", "previous_month", "weights", "rows"],
        ),
        "StatsView": object(
            &[
                ("group_by", one_of(&["department", "street", "category"])),
                ("period", one_of(&["day", "month", "all"])),
                ("rows", array(reference("StatsRow"))),
            ],
            &["group_by", "period", "rows"],
        ),
        "Open311Errors": array(object(
            &[("code", integer()), ("description", string())],
            &["code", "description"],
        )),
        "InboxView": object(
            &[("department", string()), ("items", array(reference("InboxItem")))],
            &["department", "items"],
        ),
    })
}

//! The OpenAPI 3.1 document (`/openapi.json`), generated from the route table: every
//! route is an [`Endpoint`] declared once, next to its handler in `routes` or `events`,
//! carrying both the axum handler and its documentation; [`document`] writes them out.
//!
//! Schemas come from the types the handlers parse and answer: the contract types derive
//! `schemars::JsonSchema` (`casegrid_contracts`, the domain's command bodies), and every
//! type an endpoint names lands in `components/schemas` under its type name. Adding a
//! typed endpoint:
//!
//! ```ignore
//! Endpoint::new(Method::POST, "/api/v1/things", handler, "Make a thing")
//!     .header("Idempotency-Key", "…", idempotency_key_schema())
//!     .body_of::<ThingBody>()                  // #[derive(Deserialize, JsonSchema)]
//!     .json_of::<ThingView>(201, "Made.")      // #[derive(Serialize, JsonSchema)]
//!     .problems(&[403, 422, 503])
//! ```
//!
//! `body_of`/`json_of` register the type with the document's generator and refer to it by
//! `$ref`; `body`/`json` take a hand-made schema (the helpers below) where no type exists.
//! Query and header parameters are hand-made: say the formats (`date_time()`), bounds and
//! enums exactly as the handler enforces them, since schemathesis checks both directions.
//! A path parameter whose values take different bodies ([`Endpoint::per_value`]) is
//! documented as one path per value.

use crate::startup::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

/// Registers a type's schema with the document's generator.
type Register = fn(&mut SchemaGenerator);

/// The schema of a path parameter's value's body (`casegrid_contracts::actions::body_schema`).
type BodyOf = fn(&str, &mut SchemaGenerator) -> Option<Schema>;

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
    /// Whether the handler needs a body (an action takes none as `{}`).
    request_required: bool,
    /// status → response object.
    responses: Map<String, Value>,
    /// The types named by `$ref` in this endpoint's schemas.
    types: Vec<Register>,
    /// Documented once per value of this path parameter, each with its own body.
    per_value: Option<(&'static str, Vec<&'static str>, BodyOf)>,
    /// status → the path prefix whose operations this answer links to, giving their `id`
    /// from the answer's `id`.
    links: Vec<(u16, &'static str)>,
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
            request_required: true,
            responses: Map::new(),
            types: Vec::new(),
            per_value: None,
            links: Vec::new(),
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

    /// A query parameter the handler refuses to go without (400 names it).
    pub(crate) fn required_query(self, name: &str, doc: &str, schema: Value) -> Self {
        self.parameter(name, "query", true, doc, schema)
    }

    pub(crate) fn header(self, name: &str, doc: &str, schema: Value) -> Self {
        self.parameter(name, "header", false, doc, schema)
    }

    /// A JSON request body; 400 (not JSON) and 413 (too large) are documented with it.
    pub(crate) fn body(mut self, schema: Value) -> Self {
        self.request = Some(schema);
        self.problems(&[400, 413])
    }

    /// A JSON request body of type `T` (what the handler parses).
    pub(crate) fn body_of<T: JsonSchema>(mut self) -> Self {
        let schema = self.type_ref::<T>();
        self.body(schema)
    }

    /// A JSON answer of type `T`.
    pub(crate) fn json_of<T: JsonSchema>(mut self, status: u16, doc: &str) -> Self {
        let schema = self.type_ref::<T>();
        self.json(status, doc, schema)
    }

    /// A `$ref` to `T`'s schema, which the document will hold.
    pub(crate) fn type_ref<T: JsonSchema>(&mut self) -> Value {
        self.types.push(|g| {
            g.subschema_for::<T>();
        });
        reference(&T::schema_name())
    }

    /// Documents the route once per value of the path parameter `param` (the route
    /// itself stays one), each with the JSON body `body(value)` describes: an action
    /// endpoint whose body depends on the action.
    pub(crate) fn per_value(
        mut self,
        param: &'static str,
        values: Vec<&'static str>,
        body: BodyOf,
    ) -> Self {
        self.per_value = Some((param, values, body));
        self.problems(&[400, 413])
    }

    /// The answer `status` links to every operation under `prefix` (a path with an
    /// `{id}` parameter), the `id` taken from the answer's body: how stateful tests
    /// (schemathesis) go from filing a case to acting on it.
    pub(crate) fn links_to(mut self, status: u16, prefix: &'static str) -> Self {
        self.links.push((status, prefix));
        self
    }

    /// A form-encoded request body (`application/x-www-form-urlencoded`).
    pub(crate) fn form_body(mut self, schema: Value) -> Self {
        self.request = Some(schema);
        self.request_media = "application/x-www-form-urlencoded";
        self
    }

    /// A `multipart/form-data` request body (file uploads).
    pub(crate) fn multipart_body(mut self, schema: Value) -> Self {
        self.request = Some(schema);
        self.request_media = "multipart/form-data";
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

    fn operation(&self, path: &str) -> Value {
        let mut op = json!({
            "operationId": operation_id(&self.method, path),
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
                "required": self.request_required,
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
        410 => "Gone: erased with the case's personal data.",
        413 => "The request body is too large.",
        415 => "The file's type (sniffed from its bytes) is not accepted.",
        422 => "The body is JSON but not what the action needs; the detail names the field.",
        429 => "The principal exceeded its rate limit; see Retry-After.",
        502 => "A service answered something the gateway could not read.",
        503 => "A service behind the gateway is not running or the stream is unreachable.",
        504 => "A service did not answer in time.",
        _ => "A problem.",
    }
}

/// The generator of the document's component schemas: JSON Schema 2020-12 (OpenAPI 3.1's
/// dialect), definitions under `#/components/schemas`, describing what is deserialized.
fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .for_deserialize()
        .into_generator()
}

/// The types every document holds, named by hand-made schemas (`reference`).
fn shared_types(g: &mut SchemaGenerator) {
    use casegrid_contracts::query::{AsOfView, CasePage, StatsView};
    use casegrid_contracts::views::{CaseView, InboxView, QuarantineView, TimelineView};
    g.subschema_for::<casegrid_domain::Status>();
    g.subschema_for::<casegrid_domain::Actor>();
    g.subschema_for::<CaseView>();
    g.subschema_for::<TimelineView>();
    g.subschema_for::<InboxView>();
    g.subschema_for::<CasePage>();
    g.subschema_for::<AsOfView>();
    g.subschema_for::<StatsView>();
    g.subschema_for::<QuarantineView>();
}

/// The whole document.
pub(crate) fn document(endpoints: &[Endpoint]) -> Value {
    let mut g = generator();
    shared_types(&mut g);
    let mut paths = Map::new();
    for e in endpoints {
        for register in &e.types {
            register(&mut g);
        }
        let method = e.method.as_str().to_lowercase();
        let Some((param, values, body)) = &e.per_value else {
            let item = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
            item[&method] = e.operation(e.path);
            continue;
        };
        for value in values {
            let path = e.path.replace(&format!("{{{param}}}"), value);
            let mut op = e.operation(&path);
            if let Some(ps) = op["parameters"].as_array_mut() {
                ps.retain(|p| p["name"] != *param || p["in"] != "path");
            }
            if let Some(schema) = body(value, &mut g) {
                // No body reads as `{}`: needed only when the body has required members.
                let name = schema
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.rsplit('/').next())
                    .unwrap_or_default();
                let required = g
                    .definitions()
                    .get(name)
                    .and_then(|d| d.get("required"))
                    .and_then(Value::as_array)
                    .is_some_and(|r| !r.is_empty());
                op["requestBody"] = json!({
                    "required": required,
                    "content": { "application/json": { "schema": schema } },
                });
            }
            let item = paths.entry(path).or_insert_with(|| json!({}));
            item[&method] = op;
        }
    }
    add_links(endpoints, &mut paths);
    let mut schemas = components();
    for (name, schema) in g.take_definitions(true) {
        schemas[name] = schema;
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
            "schemas": schemas,
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

/// What only the district's configuration knows, as the services enforce it: the
/// categories a filing may name (its routing rules) and the grids it may be in.
pub(crate) fn with_district(mut doc: Value, district: &casegrid_config::District) -> Value {
    let categories: Vec<&str> = district.rules.keys().map(|c| c.as_str()).collect();
    let grids: Vec<&str> = district.grids.keys().map(|g| g.as_str()).collect();
    let schemas = &mut doc["components"]["schemas"];
    if let Some(category) = schemas.pointer_mut("/FileBody/properties/category") {
        category["enum"] = json!(categories);
    }
    if let Some(grid) = schemas.pointer_mut("/LocationBody/properties/grid") {
        // `Option<String>`: a string or null, and the string one of the grids.
        grid["enum"] = json!(grids
            .iter()
            .map(|g| json!(g))
            .chain([Value::Null])
            .collect::<Vec<_>>());
    }
    let mut mediators: Vec<&str> = district
        .principals
        .values()
        .filter(|p| p.kind == casegrid_domain::ActorKind::Mediator)
        .map(|p| p.id.as_str())
        .collect();
    mediators.sort_unstable();
    mediators.dedup();
    if let Some(mediator) = schemas.pointer_mut("/MediationRequest/properties/mediator") {
        mediator["enum"] = json!(mediators
            .iter()
            .map(|m| json!(m))
            .chain([Value::Null])
            .collect::<Vec<_>>());
    }
    doc
}

/// The links of [`Endpoint::links_to`]: to each operation under the prefix, `id` from
/// the answer's `id`.
fn add_links(endpoints: &[Endpoint], paths: &mut Map<String, Value>) {
    let targets: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter_map(move |(_, op)| {
                    Some((path.clone(), op["operationId"].as_str()?.to_owned()))
                })
        })
        .collect();
    for e in endpoints {
        for (status, prefix) in &e.links {
            let links: Map<String, Value> = targets
                .iter()
                .filter(|(path, _)| path.starts_with(prefix) && path.contains("{id}"))
                .map(|(_, id)| {
                    (
                        id.clone(),
                        json!({ "operationId": id, "parameters": { "id": "$response.body#/id" } }),
                    )
                })
                .collect();
            let method = e.method.as_str().to_lowercase();
            if let Some(response) = paths
                .get_mut(e.path)
                .and_then(|item| item.get_mut(&method))
                .and_then(|op| op["responses"].get_mut(status.to_string()))
            {
                response["links"] = Value::Object(links);
            }
        }
    }
}

// Schema helpers.

/// An RFC 3339 instant, as `queries::instant` parses it.
pub(crate) fn date_time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

/// `Idempotency-Key` as `routes::idempotency_key` takes it: 1 to 200 printable ASCII
/// characters, no space at either end.
pub(crate) fn idempotency_key_schema() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX,
        "pattern": "^[!-~]([ -~]*[!-~])?$",
    })
}

/// The longest `Idempotency-Key` accepted (it becomes part of the command id and the
/// NATS message id).
pub(crate) const IDEMPOTENCY_KEY_MAX: usize = 200;

/// A page size `1..=max`.
pub(crate) fn page_size(max: u32) -> Value {
    json!({ "type": "integer", "minimum": 1, "maximum": max })
}

pub(crate) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(crate) fn string() -> Value {
    json!({ "type": "string" })
}

pub(crate) fn uuid() -> Value {
    json!({ "type": "string", "format": "uuid" })
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

/// The hand-made schemas: what the gateway writes itself (problems, command answers,
/// Open311 errors) and those of the modules that declare their own
/// ([`crate::similar::components`], [`crate::kb::components`], the ranking); the
/// contracts' views are generated ([`shared_types`]).
fn components() -> Value {
    let mut all = own_components();
    for more in [
        crate::similar::components(),
        crate::kb::components(),
        ranking_components(),
    ] {
        if let (Some(all), Value::Object(more)) = (all.as_object_mut(), more) {
            all.extend(more);
        }
    }
    all
}

/// The monthly ranking (红黑榜).
fn ranking_components() -> Value {
    json!({
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
    })
}

fn own_components() -> Value {
    json!({
        "Problem": {
            "type": "object",
            "properties": {
                "type": { "type": "string", "format": "uri" },
                "title": string(),
                "status": { "type": "integer", "minimum": 400, "maximum": 599 },
                "detail": string(),
            },
            "required": ["type", "title", "status", "detail"],
            "additionalProperties": false,
        },
        "CommandAnswer": {
            "type": "object",
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "version": { "type": "integer", "minimum": 1 },
                "status": reference("Status"),
                "personal_data": {
                    "type": "object",
                    "description": "`reveal` only, and only for operators and supervisors: the clear \
                        personal fields by name (`reporter.phone`), `[erased]` once erased.",
                    "additionalProperties": { "type": "string" },
                },
            },
            "required": ["id", "version", "status"],
            "additionalProperties": false,
        },
        "Open311Errors": array(object(
            &[("code", integer()), ("description", string())],
            &["code", "description"],
        )),
    })
}

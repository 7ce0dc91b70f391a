//! The Open311 GeoReport v2 facade under `/open311/v2/`, so existing Open311 clients
//! (FixMyStreet's Open311 client, `three`, Mark-a-Spot) and civic apps can file and
//! follow cases. Every resource answers `.json` (`application/json`) or `.xml`
//! (`text/xml; charset=utf-8`, as the spec says).
//!
//! - `discovery`: the service discovery document (the GeoReport v2 endpoint, its
//!   formats, a changeset: when this gateway loaded the district).
//! - `services`: the district's categories (`rules.toml`), `service_code` = category;
//!   `services/{code}` defines the attributes a request may carry (`kind`, `urgency`,
//!   `grid`).
//! - `requests` GET (public, no key): only cases of the categories the district marks
//!   `public = true` in `rules.toml`, never disputes (kind `dispute`); public fields only
//!   (title, description, address, `lat`/`long` and `media_url` as filed, status, the
//!   lead department's name, the handling deadline — never the reporter), `status`
//!   open/closed, and the `notes` extension: the events of the public types alone
//!   (`casegrid_readmodel::summary::PUBLIC_EVENTS`: filed, dispatched, replied with its
//!   result, reopened, closed), each said in fixed words — no mediation, agreement,
//!   reason, supervision, note or reply text. One projection query
//!   (`casegrid.projection.public`) answers a whole list, notes included: a list never
//!   fans out per item. `status` and `service_code` take comma lists; without
//!   `service_request_id` (which overrides every other parameter) a list covers a
//!   window of at most 90 days (default: the last 90 days, or the 90 days before
//!   `end_date` / after `start_date`) and 1,000 requests; a longer range is refused.
//!   Parameters the facade has no use for (`jurisdiction_id`, `api_key`, `page`,
//!   `page_size`, `limit`, `extensions`, …) are ignored, as clients send them.
//! - `servicerequestupdates` GET (FixMyStreet's extension, how it pulls status changes
//!   back): the public notes of the public requests as updates (`update_id` =
//!   `<request id>.<version>`), within `start_date`/`end_date` (same window rules).
//! - Every route here needs no token and is limited per client address (`limit`).
//! - `requests` POST (form-encoded, `api_key`): files through intake like
//!   `POST /api/v1/cases`. The `api_key` is a principal's token, authenticated exactly
//!   as `/api/v1` authenticates bearer tokens (`auth::principal`): an operator's (channel
//!   hotline), a grid worker's (grid_patrol) or a public principal's (suggestion_box);
//!   in development also the built-in public key [`PUBLIC_KEY`]. A location is
//!   required (`lat` and `long`, `address_string` or `address_id`); `lat`/`long` are
//!   kept as given (decimal text, events hold no floats) under the case's
//!   `source.open311`, `media_url` as the case's attachment reference
//!   (`source.attachments`), attributes other than `kind`, `urgency` and `grid` (such
//!   as FixMyStreet's `report_url`, `fixmystreet_id`) under `source.open311.attributes`
//!   — except names that look personal (`email`, `phone`, `name`), which are dropped.
//!   `first_name`, `last_name` and `phone` become the reporter (sealed by intake);
//!   `email` is not kept (intake has no sealed field for it, and the log never holds
//!   personal data in clear). `description` holds at most 4,000 characters. A
//!   multipart request may carry one picture in `media`, from any api_key that may file
//!   (within the same rate limits): judged by `[attachments]` before anything is filed
//!   (413, 415), stored and recorded on the new case like
//!   `POST /api/v1/cases/{id}/attachments`; a citizen's (a public api_key's) is recorded
//!   as personal (it may show people) and erased with the case's personal data, a staff
//!   one is not. The answer carries `service_request_id` only
//!   (the spec: the id or a token; casegrid knows the id at once). `Idempotency-Key`
//!   makes a filing retriable.
//! - `requests/{id}`, `tokens/{token}` (a filing's idempotency key → the request id).
//!
//! Errors are Open311's: `[{"code": 400, "description": "…"}]` or `<errors>` in XML,
//! with the same HTTP status.

use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::openapi::{array, nullable_string, object, reference, string, Endpoint};
use crate::startup::AppState;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use casegrid_contracts::query::{CaseFilter, PublicPage, PublicQuery, PublicRequest};
use casegrid_contracts::subjects::{INTAKE_FILE, PROJECTION_PUBLIC};
use casegrid_contracts::{CommandReply, FileRequest};
use casegrid_domain::{Actor, ActorKind, CaseId, Status};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// The built-in public `api_key` (development, with static tokens): files anonymous
/// suggestion-box cases as the principal [`PUBLIC_ID`], unless `principals.toml` names
/// a principal with this token.
pub(crate) const PUBLIC_KEY: &str = "open311-public";
/// The id of the built-in public principal.
pub(crate) const PUBLIC_ID: &str = "public.open311";

/// Requests answered by one `GET requests` at most (GeoReport v2's default window).
const LIST_LIMIT: u32 = 1000;

/// The longest span of one list, and its default (GeoReport v2's default window).
const WINDOW: time::Duration = time::Duration::days(90);

/// The longest `description` accepted, in characters.
const DESCRIPTION_MAX: usize = 4000;

/// Form fields that answer where the request is; one of them is required.
const LOCATION_FIELDS: &str = "lat and long, address_string or address_id";

/// Case kinds never published, whatever their category says.
const NEVER_PUBLIC_KINDS: &[&str] = &["dispute"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Xml,
}

impl Format {
    /// `noise.json` → (`noise`, Json).
    fn split(name: &str) -> Option<(&str, Self)> {
        if let Some(stem) = name.strip_suffix(".json") {
            Some((stem, Self::Json))
        } else {
            name.strip_suffix(".xml").map(|stem| (stem, Self::Xml))
        }
    }

    const fn pick(self, json: &'static str, xml: &'static str) -> &'static str {
        match self {
            Self::Json => json,
            Self::Xml => xml,
        }
    }

    /// The `Content-Type` of an answer (the spec: `text/xml` for XML).
    const fn content_type(self) -> &'static str {
        self.pick("application/json; charset=utf-8", "text/xml; charset=utf-8")
    }
}

/// An Open311 error answer.
#[derive(Debug)]
pub(crate) struct Open311Error {
    status: u16,
    description: String,
    format: Format,
    retry_after: Option<u64>,
}

impl Open311Error {
    fn new(status: u16, description: impl Into<String>, format: Format) -> Self {
        Self {
            status,
            description: description.into(),
            format,
            retry_after: None,
        }
    }

    /// An [`ApiError`] in Open311's form (internal causes are logged, not shown).
    fn from_api(e: ApiError, format: Format) -> Self {
        if matches!(e, ApiError::Internal { .. }) {
            tracing::error!(error = %e, "open311 request failed");
        }
        let retry_after = match &e {
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let problem = e.problem();
        Self {
            status: problem.status,
            description: problem.detail,
            format,
            retry_after,
        }
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let errors = [json!({ "code": self.status, "description": self.description })];
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = answer(status, self.format, "errors", "error", &errors);
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A refusal made outside a handler (the per-address rate limit) in Open311's form.
pub(crate) fn refusal(path: &str, e: ApiError) -> Response {
    let format = if path.ends_with(".xml") {
        Format::Xml
    } else {
        Format::Json
    };
    Open311Error::from_api(e, format).into_response()
}

/// An unknown route under `/open311/`.
pub(crate) fn unknown(path: &str) -> Response {
    let format = if path.ends_with(".xml") {
        Format::Xml
    } else {
        Format::Json
    };
    Open311Error::new(404, format!("no Open311 resource {path}"), format).into_response()
}

/// A list answer: a JSON array, or an XML document `<root><item>…</item>…</root>`.
fn answer(status: StatusCode, format: Format, root: &str, item: &str, items: &[Value]) -> Response {
    let body = match format {
        Format::Json => Value::Array(items.to_vec()).to_string(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            out.push_str(&format!("<{root}>"));
            for v in items {
                xml_element(&mut out, item, v);
            }
            out.push_str(&format!("</{root}>\n"));
            out
        }
    };
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

/// A single-document answer: a JSON object, or the XML element `<root>…</root>`.
fn document(format: Format, root: &str, value: &Value) -> Response {
    let body = match format {
        Format::Json => value.to_string(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            xml_element(&mut out, root, value);
            out.push('\n');
            out
        }
    };
    ([(header::CONTENT_TYPE, format.content_type())], body).into_response()
}

/// `<name>value</name>`: objects by member, arrays by item (`notes` → `<note>`),
/// `null` as an empty element.
fn xml_element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::Object(members) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in members {
                xml_element(out, k, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            let item = name.strip_suffix('s').unwrap_or(name);
            for v in items {
                xml_element(out, item, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", xml_escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The display name of a category: its general rule's name (the one without a grid
/// prefix or urgency), else its first rule's.
fn service_name(state: &AppState, code: &str) -> Option<String> {
    let (_, rules) = state
        .district
        .rules
        .iter()
        .find(|(c, _)| c.as_str() == code)?;
    rules
        .iter()
        .find(|r| r.grid_prefix.is_none() && r.urgency.is_none())
        .or_else(|| rules.first())
        .map(|r| r.name.clone())
}

fn department_name(state: &AppState, id: &str) -> String {
    state
        .district
        .departments
        .iter()
        .find(|(d, _)| d.as_str() == id)
        .map_or_else(|| id.to_owned(), |(_, d)| d.name.clone())
}

/// `GET services.json|xml`.
async fn services(state: AppState, format: Format) -> Response {
    let items: Vec<Value> = state
        .district
        .rules
        .iter()
        .map(|(category, rules)| {
            let code = category.as_str();
            let name = service_name(&state, code).unwrap_or_else(|| code.to_owned());
            let lead = rules
                .iter()
                .find(|r| r.grid_prefix.is_none() && r.urgency.is_none())
                .and_then(|r| r.lead.as_ref())
                .map_or_else(
                    || "属地 territorial office".to_owned(),
                    |l| department_name(&state, l.as_str()),
                );
            json!({
                "service_code": code,
                "service_name": name,
                "description": format!(
                    "{name} ({code}); handled by {lead}{}",
                    if state.district.is_public(code) {
                        ""
                    } else {
                        "; requests are not published"
                    }
                ),
                "metadata": true,
                "type": "realtime",
                "keywords": code.replace('_', ","),
                "group": lead,
            })
        })
        .collect();
    answer(StatusCode::OK, format, "services", "service", &items)
}

fn services_endpoint(format: Format) -> Endpoint {
    Endpoint::new(
        Method::GET,
        format.pick("/open311/v2/services.json", "/open311/v2/services.xml"),
        move |State(state): State<AppState>| services(state, format),
        format.pick(
            "Open311: service list (JSON)",
            "Open311: service list (XML)",
        ),
    )
    .public()
    .describe("The district's case categories: `service_code` is the category.")
    .content(200, "The services.", media(format), services_schema(format))
    .pipe(errors(&[429]))
}

const KINDS: &[(&str, &str)] = &[
    ("complaint", "投诉 complaint"),
    ("inquiry", "咨询 inquiry"),
    ("help", "求助 help"),
    ("report", "举报 report"),
    ("suggestion", "建议 suggestion"),
    ("dispute", "纠纷 dispute"),
];
const URGENCIES: &[(&str, &str)] = &[
    ("normal", "一般 normal"),
    ("urgent", "紧急 urgent"),
    ("critical", "特急 critical"),
];

/// `GET services/{code}.json|xml`: the attributes a request may carry.
async fn service_definition(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Open311Error> {
    let (code, format) = resource(path)?;
    if service_name(&state, &code).is_none() {
        return Err(Open311Error::new(
            404,
            format!(
                "no service {code:?}; GET services.{} lists them",
                ext(format)
            ),
            format,
        ));
    }
    let values = |list: &[(&str, &str)]| -> Vec<Value> {
        list.iter()
            .map(|(key, name)| json!({ "key": key, "name": name }))
            .collect()
    };
    let attribute =
        |code: &str, order: u32, datatype: &str, description: &str, list: &[(&str, &str)]| {
            json!({
                "variable": true,
                "code": code,
                "datatype": datatype,
                "required": false,
                "datatype_description": "",
                "order": order,
                "description": description,
                "values": values(list),
            })
        };
    let definition = json!({
        "service_code": code,
        "attributes": [
            attribute("kind", 1, "singlevaluelist", "What the request is (default complaint).", KINDS),
            attribute("urgency", 2, "singlevaluelist", "How urgent (default normal).", URGENCIES),
            attribute("grid", 3, "string", "The grid code where it happens (网格, e.g. NH.HB.BJ.03); \
                needed for grid patrols.", &[]),
        ],
    });
    Ok(document(format, "service_definition", &definition))
}

/// When this gateway loaded the district (built its routes): the discovery's changeset
/// (clients refresh cached service lists when it moves).
fn changeset() -> &'static str {
    static LOADED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LOADED.get_or_init(|| {
        time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    })
}

/// `GET discovery.json|xml`: the service discovery document.
async fn discovery(format: Format, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ']))
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    let doc = json!({
        "changeset": changeset(),
        "contact": "The district's 12345 hotline; the API's maintainers through its operators.",
        "key_service": "api_key: a token issued to an operator, grid worker or public app by the district",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": format!("{scheme}://{host}/open311/v2"),
            "changeset": changeset(),
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    });
    document(format, "discovery", &doc)
}

fn discovery_endpoint(format: Format) -> Endpoint {
    Endpoint::new(
        Method::GET,
        format.pick("/open311/v2/discovery.json", "/open311/v2/discovery.xml"),
        move |headers: HeaderMap| discovery(format, headers),
        format.pick(
            "Open311: service discovery (JSON)",
            "Open311: service discovery (XML)",
        ),
    )
    .public()
    .describe("The GeoReport v2 endpoint of this district and its formats.")
    .content(
        200,
        "The discovery document.",
        media(format),
        match format {
            Format::Xml => string(),
            Format::Json => object(
                &[
                    ("changeset", string()),
                    ("contact", string()),
                    ("key_service", string()),
                    (
                        "endpoints",
                        array(object(
                            &[
                                ("specification", string()),
                                ("url", string()),
                                ("changeset", string()),
                                ("type", string()),
                                ("formats", array(string())),
                            ],
                            &["specification", "url", "type", "formats"],
                        )),
                    ),
                ],
                &["changeset", "endpoints"],
            ),
        },
    )
    .pipe(errors(&[429]))
}

fn service_definition_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/open311/v2/services/{code}",
        service_definition,
        "Open311: service definition",
    )
    .public()
    .path_param(
        "code",
        "The service code followed by `.json` or `.xml` (`noise.json`).",
        string(),
    )
    .content(
        200,
        "The attributes a request may carry.",
        "application/json",
        object(
            &[
                ("service_code", string()),
                ("attributes", array(json!({ "type": "object" }))),
            ],
            &["service_code", "attributes"],
        ),
    )
    .content(200, "The same in XML.", "text/xml", string())
    .pipe(errors(&[404, 429]))
}

/// A request as Open311 shows it: public fields only, never the reporter.
fn request_of(state: &AppState, request: &PublicRequest) -> Value {
    let view = &request.case;
    let status = view.status.open311();
    let status_notes = match &view.reply_result {
        Some(result) => format!("{}: {result}", view.status.as_str()),
        None => view.status.as_str().to_owned(),
    };
    let notes: Vec<Value> = request
        .notes
        .iter()
        .map(|n| json!({"datetime": n.datetime, "type": n.event_type, "summary": n.summary}))
        .collect();
    json!({
        "service_request_id": view.id.to_string(),
        "status": status,
        "status_notes": status_notes,
        "service_name": service_name(state, &view.category),
        "service_code": view.category,
        "description": if view.description.trim().is_empty() { &view.title } else { &view.description },
        "title": view.title,
        "agency_responsible": view.lead.as_deref().map(|l| department_name(state, l)),
        "service_notice": view.number,
        "requested_datetime": view.filed_at,
        "updated_datetime": view.updated_at,
        "expected_datetime": view.handle_due,
        "address": view.address,
        "address_id": null,
        "zipcode": null,
        "lat": request.lat,
        "long": request.long,
        "media_url": request.media_url,
        "notes": notes,
    })
}

/// The public requests `filter`, `codes` (service codes; empty: all) and `ids` name,
/// with their public notes, in one projection query: only the district's public
/// categories, never a dispute.
async fn public_requests(
    state: &AppState,
    mut filter: CaseFilter,
    codes: &[String],
    ids: Vec<CaseId>,
    format: Format,
) -> Result<Vec<PublicRequest>, Open311Error> {
    let public = state.district.public_categories();
    filter.categories = if codes.is_empty() {
        public
    } else {
        public.into_iter().filter(|c| codes.contains(c)).collect()
    };
    if filter.categories.is_empty() {
        return Ok(Vec::new());
    }
    filter.not_kinds = NEVER_PUBLIC_KINDS.iter().map(|k| (*k).to_owned()).collect();
    let query = PublicQuery {
        filter,
        ids,
        limit: Some(LIST_LIMIT),
    };
    let page: PublicPage =
        bus::request(state, Target::new(PROJECTION_PUBLIC, "projection"), &query)
            .await
            .map_err(|e| Open311Error::from_api(e, format))?;
    Ok(page.items)
}

/// The parameters of a list (`requests`, `servicerequestupdates`); every other
/// parameter is ignored, as GeoReport v2 clients send extras.
#[derive(Debug, Default)]
struct ListParams {
    ids: Vec<CaseId>,
    codes: Vec<String>,
    statuses: Vec<String>,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
}

impl ListParams {
    fn parse(
        params: Result<Query<Vec<(String, String)>>, QueryRejection>,
        format: Format,
    ) -> Result<Self, Open311Error> {
        let bad = |d: String| Open311Error::new(400, d, format);
        let Query(pairs) = params.map_err(|e| bad(format!("query string: {}", e.body_text())))?;
        let mut out = Self::default();
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        for (name, value) in pairs {
            let value = value.trim();
            match name.as_str() {
                "service_request_id" => {
                    for id in list(value) {
                        out.ids.push(CaseId::parse(&id).map_err(|_| {
                            bad(format!("service_request_id: {id:?} is not a request id"))
                        })?);
                    }
                }
                "service_code" => out.codes.extend(list(value)),
                "start_date" | "end_date" if !value.is_empty() => {
                    let at = crate::queries::instant(&name, value)
                        .map_err(|e| Open311Error::from_api(e, format))?;
                    if name == "start_date" {
                        out.start = Some(at);
                    } else {
                        out.end = Some(at);
                    }
                }
                "status" => {
                    for class in list(value) {
                        // What Open311 calls open or closed is the domain's status class.
                        if !matches!(class.as_str(), "open" | "closed") {
                            return Err(bad(format!(
                                "status: {class:?} is neither open nor closed"
                            )));
                        }
                        out.statuses.extend(
                            Status::names(|s| s.open311() == class)
                                .iter()
                                .map(|s| (*s).to_owned()),
                        );
                    }
                }
                _ => {}
            }
        }
        if out.ids.len() > LIST_LIMIT as usize {
            return Err(bad(format!(
                "service_request_id: at most {LIST_LIMIT} ids at once"
            )));
        }
        Ok(out)
    }

    /// `[from, to)`: at most 90 days; without dates the last 90 days, with one the 90
    /// days after `start_date` or before `end_date`.
    fn window(
        &self,
        now: OffsetDateTime,
        format: Format,
    ) -> Result<(OffsetDateTime, OffsetDateTime), Open311Error> {
        let (from, to) = match (self.start, self.end) {
            (Some(from), Some(to)) => (from, to),
            (Some(from), None) => (from, from + WINDOW),
            (None, Some(to)) => (to - WINDOW, to),
            (None, None) => {
                let to = now + time::Duration::seconds(1);
                (to - WINDOW, to)
            }
        };
        if to < from {
            return Err(Open311Error::new(
                400,
                "end_date: before start_date",
                format,
            ));
        }
        if to - from > WINDOW {
            return Err(Open311Error::new(
                400,
                format!(
                    "start_date, end_date: a range of at most 90 days (asked: {} days); \
                     ask for several ranges",
                    (to - from).whole_days()
                ),
                format,
            ));
        }
        Ok((from, to))
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `GET requests.json|xml`: `service_request_id` (comma list; overrides the rest),
/// `service_code`, `status` (comma lists), `start_date`, `end_date`.
async fn list_requests(
    state: AppState,
    format: Format,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Open311Error> {
    let params = ListParams::parse(params, format)?;
    let mut filter = CaseFilter::default();
    let (codes, ids) = if params.ids.is_empty() {
        let (from, to) = params.window(OffsetDateTime::now_utc(), format)?;
        filter.filed_from = Some(rfc3339(from));
        filter.filed_to = Some(rfc3339(to));
        filter.status = params.statuses.clone();
        (params.codes.clone(), Vec::new())
    } else {
        (Vec::new(), params.ids.clone())
    };
    let requests: Vec<Value> = public_requests(&state, filter, &codes, ids, format)
        .await?
        .iter()
        .map(|r| request_of(&state, r))
        .collect();
    Ok(answer(
        StatusCode::OK,
        format,
        "service_requests",
        "request",
        &requests,
    ))
}

/// The status a request has after a public event: what each public type leads to.
fn status_after(event_type: &str) -> &'static str {
    match event_type {
        "CaseReplied" => Status::Replied.open311(),
        "CaseClosed" => Status::Closed.open311(),
        _ => Status::Received.open311(),
    }
}

/// `GET servicerequestupdates.json|xml`: the public notes of the public requests
/// within `start_date`/`end_date` (the same window as `requests`), oldest first.
async fn list_updates(
    state: AppState,
    format: Format,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Open311Error> {
    let params = ListParams::parse(params, format)?;
    let (from, to) = params.window(OffsetDateTime::now_utc(), format)?;
    // A case filed after the window has no update in it.
    let filter = CaseFilter {
        filed_to: Some(rfc3339(to)),
        ..CaseFilter::default()
    };
    let requests = public_requests(&state, filter, &params.codes, params.ids, format).await?;
    let mut updates: Vec<(OffsetDateTime, Value)> = Vec::new();
    for r in &requests {
        for note in &r.notes {
            let Ok(at) = OffsetDateTime::parse(
                &note.datetime,
                &time::format_description::well_known::Rfc3339,
            ) else {
                continue;
            };
            if at < from || at >= to {
                continue;
            }
            updates.push((
                at,
                json!({
                    "update_id": format!("{}.{}", r.case.id, note.version),
                    "service_request_id": r.case.id.to_string(),
                    "status": status_after(&note.event_type),
                    "updated_datetime": note.datetime,
                    "description": note.summary,
                    "media_url": null,
                }),
            ));
        }
    }
    updates.sort_by_key(|(at, _)| *at);
    let updates: Vec<Value> = updates.into_iter().map(|(_, u)| u).collect();
    Ok(answer(
        StatusCode::OK,
        format,
        "service_request_updates",
        "request_update",
        &updates,
    ))
}

fn list_updates_endpoint(format: Format) -> Endpoint {
    Endpoint::new(
        Method::GET,
        format.pick(
            "/open311/v2/servicerequestupdates.json",
            "/open311/v2/servicerequestupdates.xml",
        ),
        move |State(state): State<AppState>,
              params: Result<Query<Vec<(String, String)>>, QueryRejection>| {
            list_updates(state, format, params)
        },
        format.pick(
            "Open311: request updates (JSON)",
            "Open311: request updates (XML)",
        ),
    )
    .public()
    .describe(
        "FixMyStreet's extension: the public notes of the published requests as updates, \
         oldest first, within start_date/end_date (at most 90 days; default the last 90).",
    )
    .query("start_date", "Updates at or after (RFC 3339).", date_time())
    .query("end_date", "Updates before (RFC 3339).", date_time())
    .query("service_code", "Categories, comma separated.", string())
    .content(
        200,
        "The updates.",
        media(format),
        match format {
            Format::Xml => string(),
            Format::Json => array(object(
                &[
                    ("update_id", string()),
                    ("service_request_id", string()),
                    ("status", crate::openapi::one_of(&["open", "closed"])),
                    ("updated_datetime", string()),
                    ("description", string()),
                    ("media_url", nullable_string()),
                ],
                &[
                    "update_id",
                    "service_request_id",
                    "status",
                    "updated_datetime",
                    "description",
                ],
            )),
        },
    )
    .pipe(errors(&[400, 429, 503]))
}

/// An RFC 3339 instant; empty reads as not given (clients send empty parameters).
fn date_time() -> Value {
    json!({"type": "string", "anyOf": [{"format": "date-time"}, {"maxLength": 0}]})
}

fn list_requests_endpoint(format: Format) -> Endpoint {
    Endpoint::new(
        Method::GET,
        format.pick("/open311/v2/requests.json", "/open311/v2/requests.xml"),
        move |State(state): State<AppState>,
              params: Result<Query<Vec<(String, String)>>, QueryRejection>| {
            list_requests(state, format, params)
        },
        format.pick("Open311: requests (JSON)", "Open311: requests (XML)"),
    )
    .public()
    .describe(
        "Newest first, at most 1,000 within at most 90 days (default the last 90); only the \
         categories the district publishes (never disputes), public fields only, with the \
         `notes` extension (public event types only). Other parameters are ignored.",
    )
    .query(
        "service_request_id",
        "Request ids, comma separated; overrides every other parameter.",
        string(),
    )
    .query("service_code", "Categories, comma separated.", string())
    .query("start_date", "Filed at or after (RFC 3339).", date_time())
    .query("end_date", "Filed before (RFC 3339).", date_time())
    .query("status", "open, closed or both, comma separated.", string())
    .content(200, "The requests.", media(format), requests_schema(format))
    .pipe(errors(&[400, 429, 503]))
}

/// The principal an `api_key` names (authenticated as `/api/v1` authenticates bearer
/// tokens, within the same per-principal rate limit), and the channel it files through.
async fn filer(
    state: &AppState,
    api_key: &str,
    format: Format,
) -> Result<(Actor, &'static str), Open311Error> {
    let forbidden = |d: String| Open311Error::new(403, d, format);
    let principal = crate::auth::principal(state, api_key)
        .await
        .map_err(|e| match e {
            ApiError::Unauthenticated(why) => forbidden(format!("api_key: {why}")),
            other => Open311Error::from_api(other, format),
        })?;
    let channel = match principal.kind {
        ActorKind::Operator => "hotline",
        ActorKind::GridWorker => "grid_patrol",
        ActorKind::Public => "suggestion_box",
        kind => {
            return Err(forbidden(format!(
                "api_key: a {} cannot file requests; operators, grid workers and public keys can",
                kind.as_str()
            )))
        }
    };
    let actor = Actor::new(principal.kind, principal.id);
    crate::auth::admit(state, &actor).map_err(|e| Open311Error::from_api(e, format))?;
    Ok((actor, channel))
}

/// `value` as decimal degrees within ±`max`, kept as the text given (events hold no
/// floats).
fn degrees(name: &str, value: &str, max: u32, format: Format) -> Result<String, Open311Error> {
    let bad = || {
        Open311Error::new(
            400,
            format!("{name}: {value:?} is not decimal degrees between -{max} and {max}"),
            format,
        )
    };
    casegrid_domain::point::parse_degrees("degrees", value, max).map_err(|_| bad())?;
    Ok(value.to_owned())
}

/// Attribute names never kept: they would put personal data into the log in clear.
fn looks_personal(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["email", "phone", "name", "mobile"]
        .iter()
        .any(|p| name.contains(p))
}

/// The case body of `POST /api/v1/cases` from an Open311 form.
fn filing_body(
    state: &AppState,
    form: &[(String, String)],
    actor: &Actor,
    channel: &str,
    format: Format,
) -> Result<Value, Open311Error> {
    let bad = |d: String| Open311Error::new(400, d, format);
    let mut fields: Map<String, Value> = Map::new();
    let mut attributes: Map<String, Value> = Map::new();
    let mut extras: Map<String, Value> = Map::new();
    for (name, value) in form {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if let Some(code) = name
            .strip_prefix("attribute[")
            .and_then(|n| n.strip_suffix(']'))
        {
            if ["kind", "urgency", "grid"].contains(&code) {
                attributes.insert(code.to_owned(), value.into());
            } else if !looks_personal(code) {
                // Kept under the case's source (FixMyStreet's `report_url`, …).
                if code.is_empty() || code.len() > 64 || value.chars().count() > 1000 {
                    return Err(bad(format!(
                        "attribute[{code}]: names hold 1 to 64 bytes, values at most 1000 characters"
                    )));
                }
                extras.insert(code.to_owned(), value.into());
            }
        } else {
            fields.insert(name.clone(), value.into());
        }
    }
    let field = |n: &str| fields.get(n).and_then(Value::as_str);
    let code = field("service_code").ok_or_else(|| bad("service_code: required".into()))?;
    let name = service_name(state, code).ok_or_else(|| {
        Open311Error::new(
            404,
            format!(
                "service_code: no service {code:?}; GET services.{} lists them",
                ext(format)
            ),
            format,
        )
    })?;
    let description = field("description").unwrap_or_default();
    let length = description.chars().count();
    if length > DESCRIPTION_MAX {
        return Err(bad(format!(
            "description: at most {DESCRIPTION_MAX} characters (this one has {length})"
        )));
    }
    let lat = field("lat")
        .map(|v| degrees("lat", v, 90, format))
        .transpose()?;
    let long = field("long")
        .map(|v| degrees("long", v, 180, format))
        .transpose()?;
    if lat.is_some() != long.is_some() {
        return Err(bad(
            "lat, long: a point needs both (decimal degrees, WGS 84)".into(),
        ));
    }
    if lat.is_none() && field("address_string").is_none() && field("address_id").is_none() {
        return Err(bad(format!("location: required: {LOCATION_FIELDS}")));
    }
    let media_url = field("media_url")
        .map(|url| {
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            if scheme_ok && url.len() <= 2000 && !url.contains(char::is_whitespace) {
                Ok(url.to_owned())
            } else {
                Err(bad(format!(
                    "media_url: {url:?} is not an http(s) address of at most 2000 bytes"
                )))
            }
        })
        .transpose()?;
    let title = description
        .lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map_or_else(|| name.clone(), |l| l.chars().take(60).collect());
    let reporter_name = match (field("first_name"), field("last_name")) {
        (Some(f), Some(l)) if !f.is_ascii() || !l.is_ascii() => Some(format!("{l}{f}")),
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (one, other) => one.or(other).map(str::to_owned),
    };
    let mut reporter = Map::new();
    if let Some(n) = reporter_name {
        reporter.insert("name".into(), n.into());
    }
    if let Some(p) = field("phone") {
        reporter.insert("phone".into(), p.into());
    }
    let mut open311 = Map::new();
    open311.insert("service_code".into(), code.into());
    let point = lat.zip(long);
    if let Some((lat, long)) = point.clone() {
        open311.insert("lat".into(), lat.into());
        open311.insert("long".into(), long.into());
    }
    for extra in ["address_id", "jurisdiction_id"] {
        if let Some(v) = field(extra) {
            open311.insert(extra.into(), v.into());
        }
    }
    if !extras.is_empty() {
        open311.insert("attributes".into(), Value::Object(extras));
    }
    let mut source = Map::new();
    source.insert("open311".into(), Value::Object(open311));
    if let Some(url) = media_url {
        source.insert("attachments".into(), json!([url]));
    }
    if channel == "grid_patrol" {
        source.insert("patroller".into(), actor.id.clone().into());
    }
    let mut location = Map::new();
    if let Some(a) = field("address_string") {
        location.insert("address".into(), a.into());
    }
    if let Some(g) = attributes.get("grid") {
        location.insert("grid".into(), g.clone());
    }
    // Intake finds the grid of a point (the grid's polygon, or the nearest one).
    if let Some((lat, long)) = point {
        location.insert("lat".into(), lat.into());
        location.insert("long".into(), long.into());
    }
    let mut body = json!({
        "channel": channel,
        "kind": attributes.get("kind").cloned().unwrap_or_else(|| "complaint".into()),
        "category": code,
        "urgency": attributes.get("urgency").cloned().unwrap_or_else(|| "normal".into()),
        "title": title,
        "description": description,
        "location": location,
        "source": source,
    });
    if !reporter.is_empty() {
        body["reporter"] = Value::Object(reporter);
    }
    Ok(body)
}

/// `POST requests.json|xml`: form-encoded, or multipart with one picture in `media`.
async fn create_request(
    state: AppState,
    format: Format,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, Open311Error> {
    use axum::extract::FromRequest;
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });
    let (form, media) = if multipart {
        let max = state.attachment_settings.max_bytes;
        let mut parts = axum::extract::Multipart::from_request(request, &state)
            .await
            .map_err(|e| {
                Open311Error::new(400, format!("multipart body: {}", e.body_text()), format)
            })?;
        let mut form = Vec::new();
        let mut media = None;
        let problem = |e: axum::extract::multipart::MultipartError| {
            Open311Error::from_api(crate::attachments::multipart_problem(&e, max), format)
        };
        while let Some(field) = parts.next_field().await.map_err(problem)? {
            let name = field.name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(problem)?;
            if name == "media" {
                if media.is_some() {
                    return Err(Open311Error::new(
                        400,
                        "media: one file a filing; staff add more with \
                         POST /api/v1/cases/{id}/attachments",
                        format,
                    ));
                }
                media = Some(bytes.to_vec());
            } else {
                form.push((name, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
        (form, media)
    } else {
        let Form(form) = Form::<Vec<(String, String)>>::from_request(request, &state)
            .await
            .map_err(|e: FormRejection| {
                let status = e.status().as_u16();
                Open311Error::new(
                    if status == 413 { 413 } else { 400 },
                    format!(
                        "the body must be form-encoded (application/x-www-form-urlencoded) \
                         or multipart/form-data: {}",
                        e.body_text()
                    ),
                    format,
                )
            })?;
        (form, None)
    };
    let api_key = form
        .iter()
        .find(|(k, _)| k == "api_key")
        .map(|(_, v)| v.trim())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Open311Error::new(403, "api_key: required to file a request", format))?;
    let (actor, channel) = filer(&state, api_key, format).await?;
    let body = filing_body(&state, &form, &actor, channel, format)?;
    // The file is judged before anything is filed: a refused one files nothing.
    if let Some(bytes) = &media {
        state
            .attachment_settings
            .admit(bytes)
            .map_err(|refused| Open311Error::new(refused.status(), refused.to_string(), format))?;
    }
    let key = crate::routes::idempotency_key(&headers).map_err(|e| match e {
        crate::error::ApiError::Problem(p) => Open311Error::new(p.status, p.detail, format),
        other => Open311Error::new(400, other.to_string(), format),
    })?;
    let request = FileRequest {
        actor,
        idempotency_key: key,
        correlation_id: crate::edge::request_id(&headers),
        body,
    };
    let target = Target::new(INTAKE_FILE, "intake");
    let reply: CommandReply = bus::command(&state, target, &request, &request.correlation_id)
        .await
        .map_err(|e| Open311Error::from_api(e, format))?;
    if let Some(bytes) = media {
        let upload = crate::attachments::Upload {
            bytes,
            // A citizen's photo may show people: it goes with the case's personal data.
            personal: request.actor.kind == ActorKind::Public,
            description: None,
        };
        // Keyed by the filing, so a retried filing records the file once.
        let command_id = format!("{}:media", request.idempotency_key);
        crate::attachments::add(
            &state,
            &request.actor,
            reply.id,
            upload,
            command_id,
            request.correlation_id.clone(),
        )
        .await
        .map_err(|e| Open311Error::from_api(e, format))?;
    }
    let status = if reply.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    // The spec answers the id or a token, not both: casegrid knows the id at once.
    let filed = json!({
        "service_request_id": reply.id.to_string(),
        "service_notice": reply.number,
        "account_id": null,
    });
    Ok(answer(
        status,
        format,
        "service_requests",
        "request",
        &[filed],
    ))
}

fn create_request_endpoint(format: Format) -> Endpoint {
    Endpoint::new(
        Method::POST,
        format.pick("/open311/v2/requests.json", "/open311/v2/requests.xml"),
        move |State(state): State<AppState>,
              headers: HeaderMap,
              request: axum::extract::Request| {
            create_request(state, format, headers, request)
        },
        format.pick(
            "Open311: file a request (JSON)",
            "Open311: file a request (XML)",
        ),
    )
    .public()
    .describe(
        "Form-encoded. `api_key` is an operator's, grid worker's or public principal's token \
         (channel hotline, grid_patrol or suggestion_box), or `open311-public` in development. \
         A location is required: lat and long, address_string or address_id. \
         `first_name`, `last_name` and `phone` become the sealed reporter; `email` is not kept. \
         `media_url` is kept as the case's attachment reference; other `attribute[…]` under \
         the case's source. `description` at most 4,000 characters. Multipart/form-data \
         carries the same fields and one picture in `media`: refused by type (415) or size \
         (413) before anything is filed, else stored and recorded on the case as an \
         attachment (a public api_key's as personal: erased with the case's personal data). \
         `Idempotency-Key` makes it retriable.",
    )
    .header(
        "Idempotency-Key",
        "Makes the filing retriable.",
        crate::openapi::idempotency_key_schema(),
    )
    .form_body(object(
        &[
            ("api_key", string()),
            ("service_code", string()),
            (
                "description",
                json!({"type": "string", "maxLength": DESCRIPTION_MAX}),
            ),
            ("address_string", string()),
            ("address_id", string()),
            ("lat", string()),
            ("long", string()),
            ("media_url", string()),
            ("first_name", string()),
            ("last_name", string()),
            ("phone", string()),
            ("email", string()),
            ("attribute[kind]", string()),
            ("attribute[urgency]", string()),
            ("attribute[grid]", string()),
        ],
        &["api_key", "service_code"],
    ))
    .content(
        201,
        "Filed by this request.",
        media(format),
        filed_schema(format),
    )
    .content(
        200,
        "Filed before with the same Idempotency-Key.",
        media(format),
        filed_schema(format),
    )
    .pipe(errors(&[400, 403, 404, 409, 413, 415, 422, 429, 503]))
}

/// `{id}.json` → (`id`, Json); an unknown extension is a 404 in JSON.
fn resource(path: Result<Path<String>, PathRejection>) -> Result<(String, Format), Open311Error> {
    let Path(name) =
        path.map_err(|e| Open311Error::new(400, format!("path: {}", e.body_text()), Format::Json))?;
    match Format::split(&name) {
        Some((stem, format)) => Ok((stem.to_owned(), format)),
        None => Err(Open311Error::new(
            404,
            format!("{name:?}: Open311 resources end in .json or .xml"),
            Format::Json,
        )),
    }
}

fn ext(format: Format) -> &'static str {
    format.pick("json", "xml")
}

/// `GET requests/{id}.json|xml`.
async fn get_request(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Open311Error> {
    let (id, format) = resource(path)?;
    let not_found = || Open311Error::new(404, format!("no request {id:?}"), format);
    let case_id = CaseId::parse(&id).map_err(|_| not_found())?;
    // A case that is not public reads exactly as one that does not exist.
    let requests: Vec<Value> =
        public_requests(&state, CaseFilter::default(), &[], vec![case_id], format)
            .await?
            .iter()
            .map(|r| request_of(&state, r))
            .collect();
    if requests.is_empty() {
        return Err(not_found());
    }
    Ok(answer(
        StatusCode::OK,
        format,
        "service_requests",
        "request",
        &requests,
    ))
}

fn get_request_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/open311/v2/requests/{id}",
        get_request,
        "Open311: one request",
    )
    .public()
    .path_param(
        "id",
        "The request (case) id followed by `.json` or `.xml`.",
        string(),
    )
    .content(
        200,
        "The request, as a list of one.",
        "application/json",
        requests_schema(Format::Json),
    )
    .content(200, "The same in XML.", "text/xml", string())
    .pipe(errors(&[404, 429, 503]))
}

/// `GET tokens/{token}.json|xml`: the request a filing's token (its idempotency key,
/// or the case id) made.
async fn get_token(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Open311Error> {
    let (token, format) = resource(path)?;
    // The case id is a UUIDv5 of (principal, idempotency key): try the principals that
    // may file through Open311.
    let mut candidates: Vec<CaseId> = CaseId::parse(&token).into_iter().collect();
    candidates.push(CaseId::for_filing(PUBLIC_ID, &token));
    candidates.extend(
        state
            .district
            .principals
            .values()
            .filter(|p| {
                matches!(
                    p.kind,
                    ActorKind::Operator | ActorKind::GridWorker | ActorKind::Public
                )
            })
            .map(|p| CaseId::for_filing(&p.id, &token)),
    );
    // One query for every candidate; any category, as only the id is answered (the
    // filer was given it when filing).
    let query = PublicQuery {
        ids: candidates,
        limit: Some(1),
        ..PublicQuery::default()
    };
    let page: PublicPage =
        bus::request(&state, Target::new(PROJECTION_PUBLIC, "projection"), &query)
            .await
            .map_err(|e| Open311Error::from_api(e, format))?;
    if let Some(found) = page.items.first() {
        let found = json!({ "service_request_id": found.case.id.to_string(), "token": token });
        return Ok(answer(
            StatusCode::OK,
            format,
            "service_requests",
            "request",
            &[found],
        ));
    }
    Err(Open311Error::new(
        404,
        format!("no request for token {token:?} (yet: a new filing takes a moment to appear)"),
        format,
    ))
}

fn get_token_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/open311/v2/tokens/{token}",
        get_token,
        "Open311: the request of a token",
    )
    .public()
    .path_param(
        "token",
        "The filing's token (its Idempotency-Key) or the request id, followed by `.json` or `.xml`.",
        string(),
    )
    .content(
        200,
        "The request id.",
        "application/json",
        array(object(
            &[("service_request_id", string()), ("token", string())],
            &["service_request_id", "token"],
        )),
    )
    .content(200, "The same in XML.", "text/xml", string())
    .pipe(errors(&[404, 429, 503]))
}

fn media(format: Format) -> &'static str {
    format.pick("application/json", "text/xml")
}

fn services_schema(format: Format) -> Value {
    match format {
        Format::Xml => string(),
        Format::Json => array(object(
            &[
                ("service_code", string()),
                ("service_name", string()),
                ("description", string()),
                ("metadata", crate::openapi::boolean()),
                ("type", string()),
                ("keywords", string()),
                ("group", string()),
            ],
            &["service_code", "service_name", "metadata", "type"],
        )),
    }
}

fn requests_schema(format: Format) -> Value {
    match format {
        Format::Xml => string(),
        Format::Json => array(object(
            &[
                ("service_request_id", string()),
                ("status", crate::openapi::one_of(&["open", "closed"])),
                ("status_notes", nullable_string()),
                ("service_name", nullable_string()),
                ("service_code", string()),
                ("description", nullable_string()),
                ("title", string()),
                ("agency_responsible", nullable_string()),
                ("service_notice", nullable_string()),
                ("requested_datetime", string()),
                ("updated_datetime", nullable_string()),
                ("expected_datetime", nullable_string()),
                ("address", nullable_string()),
                ("lat", nullable_string()),
                ("long", nullable_string()),
                ("media_url", nullable_string()),
                (
                    "notes",
                    array(object(
                        &[
                            ("datetime", string()),
                            ("type", string()),
                            ("summary", string()),
                        ],
                        &["datetime", "type", "summary"],
                    )),
                ),
            ],
            &[
                "service_request_id",
                "status",
                "service_code",
                "requested_datetime",
            ],
        )),
    }
}

fn filed_schema(format: Format) -> Value {
    match format {
        Format::Xml => string(),
        Format::Json => array(object(
            &[
                ("service_request_id", string()),
                ("service_notice", nullable_string()),
                ("account_id", nullable_string()),
            ],
            &["service_request_id"],
        )),
    }
}

/// Documents Open311 error answers (JSON and XML) for these statuses.
fn errors(statuses: &'static [u16]) -> impl FnOnce(Endpoint) -> Endpoint {
    move |mut e| {
        for status in statuses {
            e = e
                .content(
                    *status,
                    "An Open311 error list.",
                    "application/json",
                    reference("Open311Errors"),
                )
                .content(*status, "An Open311 error list.", "text/xml", string());
        }
        e
    }
}

/// Applies a documentation step written as a function.
trait Pipe: Sized {
    fn pipe(self, f: impl FnOnce(Self) -> Self) -> Self {
        f(self)
    }
}

impl Pipe for Endpoint {}

/// Every Open311 route.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    // The router is built as the district is loaded: that is the changeset.
    changeset();
    vec![
        discovery_endpoint(Format::Json),
        discovery_endpoint(Format::Xml),
        services_endpoint(Format::Json),
        services_endpoint(Format::Xml),
        service_definition_endpoint(),
        list_requests_endpoint(Format::Json),
        list_requests_endpoint(Format::Xml),
        create_request_endpoint(Format::Json),
        create_request_endpoint(Format::Xml),
        list_updates_endpoint(Format::Json),
        list_updates_endpoint(Format::Xml),
        get_request_endpoint(),
        get_token_endpoint(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_lists_escape_text_and_name_array_items() {
        let mut out = String::new();
        xml_element(
            &mut out,
            "request",
            &json!({"description": "a < b & \"c\"", "lat": null,
                "notes": [{"summary": "受理"}]}),
        );
        assert_eq!(
            out,
            "<request><description>a &lt; b &amp; &quot;c&quot;</description><lat/>\
             <notes><note><summary>受理</summary></note></notes></request>"
        );
        assert_eq!(Format::split("noise.xml"), Some(("noise", Format::Xml)));
        assert_eq!(Format::split("noise"), None);
    }
}

//! The JSON body of `POST /api/v1/cases`, as intake parses it and the API document
//! describes it (the schema is derived from these types; the district's categories
//! and grids are added to it by the gateway, which loads the same configuration).

use casegrid_domain::event::{CaseKind, Channel, Urgency};
use schemars::JsonSchema;
use serde::Deserialize;

/// A phone number as `casegrid_domain::PhoneNumber::parse` takes it: 5 to 20 digits,
/// a leading `+`, spaces and dashes allowed.
pub const PHONE_PATTERN: &str = r"^[ -]*\+?[ -]*(?:[0-9][ -]*){5,20}$";

/// A latitude as `casegrid_domain::point::parse_degrees` takes it: -90 to 90.
pub const LAT_PATTERN: &str = r"^[-+]?(0?[0-8]?[0-9](\.[0-9]{0,15})?|0?90(\.0{0,15})?)$";
/// A longitude as `casegrid_domain::point::parse_degrees` takes it: -180 to 180.
pub const LONG_PATTERN: &str =
    r"^[-+]?((1[0-7][0-9]|0?[0-9]?[0-9])(\.[0-9]{0,15})?|180(\.0{0,15})?)$";

/// `POST /api/v1/cases`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = channel_rules)]
pub struct FileBody {
    pub channel: Channel,
    pub kind: CaseKind,
    /// A category of the district's routing rules (`noise`).
    #[schemars(length(min = 1, max = 64))]
    pub category: String,
    #[serde(default)]
    pub urgency: Urgency,
    /// Not blank, at most 200 characters.
    #[schemars(length(min = 1, max = 200), regex(pattern = r"\S"))]
    pub title: String,
    /// At most 10,000 characters.
    #[serde(default)]
    #[schemars(length(max = 10000))]
    pub description: String,
    #[serde(default, deserialize_with = "casegrid_domain::object::object")]
    pub location: LocationBody,
    /// The reporter's personal data, sealed before it enters the log. A hotline case
    /// needs a name or a phone.
    #[serde(default, deserialize_with = "casegrid_domain::object::object")]
    pub reporter: Option<ReporterBody>,
    /// Where the case came from (a channel's own ids, attachments); kept as given.
    /// I-JSON like every body: no floats, integers within ±(2^53 − 1).
    #[serde(default)]
    #[schemars(schema_with = "i_json_object")]
    pub source: serde_json::Map<String, serde_json::Value>,
}

/// The largest integer I-JSON carries: 2^53 − 1 (the gateway's `ijson` check).
pub const I_JSON_MAX_INTEGER: i64 = (1 << 53) - 1;

/// Any JSON value the gateway's I-JSON check lets through: null, a boolean, a string,
/// an integer within ±(2^53 − 1), or an array or object of such values; no number with
/// a fraction or an exponent. In the document as `IJsonValue` (a recursive schema).
pub struct IJsonValue;

impl JsonSchema for IJsonValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IJsonValue".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let inner = g.subschema_for::<IJsonValue>();
        schemars::json_schema!({
            "description": "Any I-JSON value (RFC 7493): no floating-point numbers, integers within ±(2^53 − 1).",
            "anyOf": [
                { "type": "null" },
                { "type": "boolean" },
                { "type": "string" },
                { "type": "integer", "minimum": -I_JSON_MAX_INTEGER, "maximum": I_JSON_MAX_INTEGER },
                { "type": "array", "items": inner },
                { "type": "object", "additionalProperties": inner },
            ],
        })
    }
}

/// A JSON object of I-JSON values (a filing's `source`).
fn i_json_object(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": g.subschema_for::<IJsonValue>(),
    })
}

/// What each channel needs beyond the fields (the domain's `decide` of `FileCase`): a
/// hotline case a reporter with a name, phone, ID number or address; a grid patrol case
/// its grid.
fn channel_rules(schema: &mut schemars::Schema) {
    // Intake drops a blank field (`reporter_of`), so a field counts when not blank.
    let given = |field: &str| serde_json::json!({ "required": [field], "properties": { (field): { "type": "string", "pattern": casegrid_domain::schema::NOT_BLANK } } });
    let rules = serde_json::json!([
        {
            "properties": {
                "channel": { "const": "hotline" },
                "reporter": {
                    "type": "object",
                    "anyOf": [given("name"), given("phone"), given("id_number"), given("address")],
                },
            },
            "required": ["reporter"],
        },
        { "properties": { "channel": { "const": "suggestion_box" } } },
        {
            "properties": {
                "channel": { "const": "grid_patrol" },
                "location": { "type": "object", "required": ["grid"], "properties": { "grid": { "type": "string" } } },
            },
            "required": ["location"],
        },
    ]);
    schema.insert("anyOf".into(), rules);
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = point_rules)]
pub struct LocationBody {
    #[serde(default)]
    pub address: Option<String>,
    /// A grid code of the district (`NH.HB.BJ.03`); a grid patrol case needs it.
    #[serde(default)]
    #[schemars(regex(pattern = casegrid_domain::schema::GRID_CODE), length(min = 1, max = 64))]
    pub grid: Option<String>,
    /// The incident's point, decimal degrees as strings (I-JSON carries no floats).
    /// `casegrid_domain::point::parse_degrees`: a sign, 1 to 3 digits, up to 15 decimals,
    /// at most 90 (`lat`) or 180 (`long`) degrees.
    #[serde(default)]
    #[schemars(regex(pattern = LAT_PATTERN))]
    pub lat: Option<String>,
    #[serde(default)]
    #[schemars(regex(pattern = LONG_PATTERN))]
    pub long: Option<String>,
    /// `wgs84` (the default), `gcj02` (AMap, Tencent) or `bd09` (Baidu).
    #[serde(default)]
    pub coordinate_system: Option<casegrid_domain::point::CoordinateSystem>,
}

/// A point needs both `lat` and `long` (intake's `point_of`): both given, or neither
/// (absent or null); `coordinate_system` only with a point.
fn point_rules(schema: &mut schemars::Schema) {
    let none = serde_json::json!({ "not": { "type": "string" } });
    let rules = serde_json::json!([
        { "properties": { "lat": none, "long": none, "coordinate_system": { "type": "null" } } },
        {
            "required": ["lat", "long"],
            "properties": { "lat": { "type": "string" }, "long": { "type": "string" } },
        },
    ]);
    schema.insert("anyOf".into(), rules);
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReporterBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schemars(regex(pattern = PHONE_PATTERN))]
    pub phone: Option<String>,
    /// 身份证号.
    #[serde(default)]
    pub id_number: Option<String>,
    /// Home address (the incident's address goes in `location`).
    #[serde(default)]
    pub address: Option<String>,
}

impl ReporterBody {
    /// Nothing given.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.phone.is_none()
            && self.id_number.is_none()
            && self.address.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validator() -> jsonschema::Validator {
        let schema = schemars::generate::SchemaSettings::draft2020_12()
            .into_generator()
            .into_root_schema_for::<FileBody>();
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&serde_json::to_value(schema).unwrap())
            .unwrap()
    }

    /// The point patterns take what `parse_degrees` takes.
    #[test]
    fn the_point_patterns_are_the_parser() {
        use casegrid_domain::point::parse_degrees;
        let lat = regex_lite(LAT_PATTERN);
        let long = regex_lite(LONG_PATTERN);
        for text in [
            "0",
            "-0",
            "+12.5",
            "89.999999999999999",
            "90",
            "090.000",
            "90.1",
            "91",
            "12.",
            "100",
            "1234",
            ".5",
            "1.0000000000000001",
            "-45.25",
        ] {
            assert_eq!(
                lat.is_valid(&json!(text)),
                parse_degrees("lat", text, 90).is_ok(),
                "lat {text}"
            );
        }
        for text in [
            "0", "179.99", "180", "180.0", "180.5", "181", "099", "-120.125", "200", "1.",
        ] {
            assert_eq!(
                long.is_valid(&json!(text)),
                parse_degrees("long", text, 180).is_ok(),
                "long {text}"
            );
        }
    }

    fn regex_lite(pattern: &str) -> jsonschema::Validator {
        jsonschema::validator_for(&json!({ "type": "string", "pattern": pattern })).unwrap()
    }

    /// The schema refuses what intake and the domain refuse, and takes what they take.
    #[test]
    fn the_schema_says_what_a_filing_needs() {
        let v = validator();
        let hotline = json!({"channel": "hotline", "kind": "complaint", "category": "noise",
            "title": "噪音", "reporter": {"phone": "138 0000 1234"}});
        assert!(v.is_valid(&hotline));
        assert!(serde_json::from_value::<FileBody>(hotline.clone()).is_ok());
        // serde alone reads a struct from an array: the body refuses it as the schema does.
        for member in ["reporter", "location"] {
            let mut listed = hotline.clone();
            listed[member] = json!([null, null]);
            assert!(!v.is_valid(&listed), "{member}");
            assert!(
                serde_json::from_value::<FileBody>(listed).is_err(),
                "{member}"
            );
        }
        let mut with_source = hotline.clone();
        with_source["source"] = json!({"id": "A-1", "n": 3, "tags": [null, true, {"x": "y"}]});
        assert!(v.is_valid(&with_source), "I-JSON in source");
        let mut no_reporter = hotline.clone();
        no_reporter.as_object_mut().unwrap().remove("reporter");
        assert!(!v.is_valid(&no_reporter), "a hotline case needs a reporter");
        assert!(
            !v.is_valid(&json!({"channel": "grid_patrol", "kind": "report",
            "category": "noise", "title": "x"})),
            "a patrol case needs its grid"
        );
        assert!(
            v.is_valid(&json!({"channel": "grid_patrol", "kind": "report",
            "category": "noise", "title": "x", "location": {"grid": "NH.HB.BJ.03"}}))
        );
        for bad in [
            json!({"title": " "}),
            json!({"title": "x".repeat(201)}),
            json!({"colour": "blue"}),
            json!({"reporter": {"phone": "12"}}),
            json!({"location": {"grid": "nh.hb"}}),
            json!({"source": {"lat": 30.5}}),
            json!({"reporter": {"address": " "}}),
            json!({"location": {"long": "6.2"}}),
            json!({"location": {"lat": "30.1", "long": null}}),
            json!({"source": {"deep": [{"n": 1.5}]}}),
            json!({"source": {"n": 9007199254740992_u64}}),
        ] {
            let mut body = hotline.clone();
            for (k, val) in bad.as_object().unwrap() {
                body[k] = val.clone();
            }
            assert!(!v.is_valid(&body), "{body}");
        }
    }
}

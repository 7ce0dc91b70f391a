//! The JSON body of `POST /api/v1/cases`, as intake parses it and the API document
//! describes it (the schema is derived from these types; the district's categories
//! and grids are added to it by the gateway, which loads the same configuration).

use casegrid_domain::event::{CaseKind, Channel, Urgency};
use schemars::JsonSchema;
use serde::Deserialize;

/// A phone number as `casegrid_domain::PhoneNumber::parse` takes it: 5 to 20 digits,
/// a leading `+`, spaces and dashes allowed.
pub const PHONE_PATTERN: &str = r"^[ -]*\+?[ -]*(?:[0-9][ -]*){5,20}$";

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
    #[serde(default)]
    pub location: LocationBody,
    /// The reporter's personal data, sealed before it enters the log. A hotline case
    /// needs a name or a phone.
    #[serde(default)]
    pub reporter: Option<ReporterBody>,
    /// Where the case came from (a channel's own ids, attachments); kept as given.
    #[serde(default)]
    pub source: serde_json::Map<String, serde_json::Value>,
}

/// What each channel needs beyond the fields (the domain's `decide` of `FileCase`): a
/// hotline case a reporter with a name, phone, ID number or address; a grid patrol case
/// its grid.
fn channel_rules(schema: &mut schemars::Schema) {
    let given = |field: &str| serde_json::json!({ "required": [field], "properties": { (field): { "type": "string" } } });
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
pub struct LocationBody {
    #[serde(default)]
    pub address: Option<String>,
    /// A grid code of the district (`NH.HB.BJ.03`); a grid patrol case needs it.
    #[serde(default)]
    #[schemars(regex(pattern = casegrid_domain::schema::GRID_CODE), length(min = 1, max = 64))]
    pub grid: Option<String>,
    /// The incident's point, decimal degrees as strings (I-JSON carries no floats).
    #[serde(default)]
    #[schemars(regex(pattern = r"^-?[0-9]{1,3}(\.[0-9]+)?$"))]
    pub lat: Option<String>,
    #[serde(default)]
    #[schemars(regex(pattern = r"^-?[0-9]{1,3}(\.[0-9]+)?$"))]
    pub long: Option<String>,
    /// `wgs84` (the default), `gcj02` (AMap, Tencent) or `bd09` (Baidu).
    #[serde(default)]
    pub coordinate_system: Option<casegrid_domain::point::CoordinateSystem>,
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

    /// The schema refuses what intake and the domain refuse, and takes what they take.
    #[test]
    fn the_schema_says_what_a_filing_needs() {
        let v = validator();
        let hotline = json!({"channel": "hotline", "kind": "complaint", "category": "noise",
            "title": "噪音", "reporter": {"phone": "138 0000 1234"}});
        assert!(v.is_valid(&hotline));
        assert!(serde_json::from_value::<FileBody>(hotline.clone()).is_ok());
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
        ] {
            let mut body = hotline.clone();
            for (k, val) in bad.as_object().unwrap() {
                body[k] = val.clone();
            }
            assert!(!v.is_valid(&body), "{body}");
        }
    }
}

//! Checking real responses against the gateway's `/openapi.json`: the JSON Schema subset
//! the gateway emits (`$ref`, `anyOf`, `type`, `properties`, `required`, `items`, `enum`).

use serde_json::Value;

/// The documented path template a concrete path (query string allowed) matches,
/// preferring the template with the most literal segments.
pub fn template_for(doc: &Value, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let mut best: Option<(usize, String)> = None;
    for template in doc["paths"].as_object()?.keys() {
        let parts: Vec<&str> = template.split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let mut literal = 0;
        let fits = parts.iter().zip(&segments).all(|(t, s)| {
            if t.starts_with('{') && t.ends_with('}') {
                !s.is_empty()
            } else if t == s {
                literal += 1;
                true
            } else {
                false
            }
        });
        if fits && best.as_ref().is_none_or(|(n, _)| literal > *n) {
            best = Some((literal, template.clone()));
        }
    }
    best.map(|(_, t)| t)
}

/// Asserts that a response is documented for `method template` and validates.
pub fn assert_documented(
    doc: &Value,
    method: &str,
    template: &str,
    status: u16,
    content_type: &str,
    body: &Value,
) {
    let op = &doc["paths"][template][method.to_lowercase()];
    assert!(op.is_object(), "{method} {template} is not in the document");
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template} answered {status} which the document does not list: {body}"
    );
    let schema = &response["content"][content_type]["schema"];
    assert!(
        schema.is_object(),
        "{method} {template} {status}: content type {content_type:?} not documented"
    );
    if let Err(e) = validate(doc, schema, body, "$") {
        panic!("{method} {template} {status} does not match the document: {e}\nbody: {body}");
    }
}

/// Validates `value` against the JSON Schema subset the gateway emits: `$ref`, `anyOf`,
/// `type` (a name or a list), `properties`, `required`, `items`, `enum`.
pub fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r
            .strip_prefix("#/components/schemas/")
            .ok_or(format!("{at}: odd $ref {r}"))?;
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: dangling $ref {r}"));
        }
        return validate(doc, target, value, at);
    }
    if let Some(branches) = schema["anyOf"].as_array() {
        let errors: Vec<String> = branches
            .iter()
            .filter_map(|b| validate(doc, b, value, at).err())
            .collect();
        if errors.len() == branches.len() {
            return Err(format!(
                "{at}: matches no anyOf branch: {}",
                errors.join("; ")
            ));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            other => return Err(format!("{at}: odd type {other}")),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: expected {types:?}, got {value}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(props), Some(object)) = (schema["properties"].as_object(), value.as_object()) {
        for (name, sub) in props {
            if let Some(v) = object.get(name) {
                validate(doc, sub, v, &format!("{at}.{name}"))?;
            }
        }
    }
    if let (Some(required), Some(object)) = (schema["required"].as_array(), value.as_object()) {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                return Err(format!("{at}: missing required {name}"));
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            validate(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

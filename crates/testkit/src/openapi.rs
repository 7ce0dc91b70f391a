//! Checking real responses against the gateway's `/openapi.json` with a real JSON Schema
//! 2020-12 validator (the `jsonschema` crate: `additionalProperties`, formats, patterns,
//! bounds, `oneOf` — all of it), resolving `$ref`s into the document's components.

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

/// Validates `value` against `schema`, whose `$ref`s point into `doc`'s components;
/// the error lists every violation with its place under `at`.
pub fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let mut root = match schema {
        Value::Object(map) => map.clone(),
        Value::Bool(b) => {
            return if *b {
                Ok(())
            } else {
                Err(format!("{at}: schema `false`"))
            }
        }
        other => return Err(format!("{at}: odd schema {other}")),
    };
    root.insert("components".into(), doc["components"].clone());
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .map_err(|e| format!("{at}: the schema does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{at}{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

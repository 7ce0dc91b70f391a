//! Exports for meetings and spreadsheets: `GET /cases/export` (every filter of
//! `GET /cases`) and `GET /stats/export` (the figures) as CSV or XLSX.
//!
//! Both read through the very handlers' scope rules ([`crate::queries::scoped_list`],
//! [`crate::queries::scoped_stats`]), so an export holds exactly what the caller may
//! list, masked the same way. A row is its JSON answer flattened: nested members as
//! `response.count`, arrays of values joined with `; `, arrays of objects as JSON.
//!
//! The XLSX is written here (one sheet of inline strings in a stored zip): a few dozen
//! lines against a writer crate's compile time.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::openapi::{date_time, one_of, page_size, string, Endpoint};
use crate::startup::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// At most this many cases in one export: narrow the filters for more.
pub(crate) const MAX_ROWS: usize = 50_000;
/// Cases asked from projection per page while exporting.
const PAGE: u32 = 500;

const CSV: &str = "text/csv; charset=utf-8";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The case columns in the order a person reads them; members not named here follow
/// in name order, so a new member of `CaseView` is exported without a change here.
const CASE_COLUMNS: &[&str] = &[
    "number",
    "id",
    "status",
    "channel",
    "kind",
    "category",
    "urgency",
    "title",
    "description",
    "address",
    "grid",
    "reporter_name",
    "reporter_phone",
    "lead",
    "assisting",
    "signed",
    "filed_at",
    "sign_due",
    "handle_due",
    "updated_at",
];

const STATS_COLUMNS: &[&str] = &["key", "period"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Xlsx,
}

/// `format=csv|xlsx`, else the `Accept` header, else CSV.
fn format_of(pairs: &mut Vec<(String, String)>, headers: &HeaderMap) -> Result<Format, ApiError> {
    let asked: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "format")
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    pairs.retain(|(k, _)| k != "format");
    match asked.as_slice() {
        [] => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            Ok(if accept.contains("spreadsheetml") {
                Format::Xlsx
            } else {
                Format::Csv
            })
        }
        [one] if one == "csv" => Ok(Format::Csv),
        [one] if one == "xlsx" => Ok(Format::Xlsx),
        [one] => Err(ApiError::bad_request(format!(
            "format: {one:?} is neither csv nor xlsx"
        ))),
        _ => Err(ApiError::bad_request("format: given twice")),
    }
}

/// A header row and rows of text cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let name = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(members) => {
            for (k, v) in members {
                match v {
                    Value::Object(_) => flatten(&name(k), v, out),
                    other => out.push((name(k), cell(other))),
                }
            }
        }
        other => out.push((prefix.to_owned(), cell(other))),
    }
}

/// One cell: text as is, null empty, numbers and booleans as JSON writes them.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(cell).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

impl Table {
    /// The rows' JSON, flattened; `first` columns lead, the others follow by name.
    pub(crate) fn of(first: &[&str], rows: &[Value]) -> Self {
        let flat: Vec<Vec<(String, String)>> = rows
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                flatten("", r, &mut out);
                out
            })
            .collect();
        let mut others: Vec<String> = flat
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .filter(|k| !first.contains(&k.as_str()))
            .collect();
        others.sort();
        others.dedup();
        let columns: Vec<String> = first
            .iter()
            .map(|c| (*c).to_owned())
            .chain(others)
            .collect();
        let rows = flat
            .into_iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| {
                        r.iter()
                            .find(|(k, _)| k == c)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        Self { columns, rows }
    }

    /// RFC 4180 with a UTF-8 byte-order mark (so spreadsheet programs read 中文 right).
    pub(crate) fn csv(&self) -> Vec<u8> {
        let mut out = String::from('\u{feff}');
        for row in std::iter::once(&self.columns).chain(&self.rows) {
            let line: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        out.into_bytes()
    }

    /// One worksheet named `sheet`, every cell an inline string.
    pub(crate) fn xlsx(&self, sheet: &str) -> Vec<u8> {
        let mut data = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
        );
        for (r, row) in std::iter::once(&self.columns).chain(&self.rows).enumerate() {
            data.push_str(&format!(r#"<row r="{}">"#, r + 1));
            for (c, value) in row.iter().enumerate() {
                data.push_str(&format!(
                    r#"<c r="{}{}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#,
                    column_name(c),
                    r + 1,
                    xml_text(value)
                ));
            }
            data.push_str("</row>");
        }
        data.push_str("</sheetData></worksheet>");
        let workbook = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{}" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            xml_text(sheet)
        );
        let files: [(&str, &[u8]); 5] = [
            (
                "[Content_Types].xml",
                br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
            ),
            (
                "_rels/.rels",
                br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            ("xl/workbook.xml", workbook.as_bytes()),
            (
                "xl/_rels/workbook.xml.rels",
                br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
            ),
            ("xl/worksheets/sheet1.xml", data.as_bytes()),
        ];
        stored_zip(&files)
    }
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// `A`, `B`, …, `Z`, `AA`, … for a 0-based column.
fn column_name(mut c: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII")
}

/// XML text, with the control characters XML 1.0 cannot carry left out.
fn xml_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A zip archive of `files`, stored without compression (what an XLSX needs at least).
fn stored_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let le16 = |v: &mut Vec<u8>, n: u16| v.extend_from_slice(&n.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, n: u32| v.extend_from_slice(&n.to_le_bytes());
    for (name, data) in files {
        let offset = out.len() as u32;
        let (crc, size, name_len) = (crc32(data), data.len() as u32, name.len() as u16);
        // Local file header: version 2.0, UTF-8 names (bit 11), stored, no time.
        le32(&mut out, 0x0403_4b50);
        le16(&mut out, 20);
        le16(&mut out, 0x0800);
        le16(&mut out, 0);
        le16(&mut out, 0);
        le16(&mut out, 0x21);
        le32(&mut out, crc);
        le32(&mut out, size);
        le32(&mut out, size);
        le16(&mut out, name_len);
        le16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        le32(&mut central, 0x0201_4b50);
        le16(&mut central, 20);
        le16(&mut central, 20);
        le16(&mut central, 0x0800);
        le16(&mut central, 0);
        le16(&mut central, 0);
        le16(&mut central, 0x21);
        le32(&mut central, crc);
        le32(&mut central, size);
        le32(&mut central, size);
        le16(&mut central, name_len);
        for _ in 0..4 {
            le16(&mut central, 0);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let (central_at, central_len) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    le16(&mut out, 0);
    le16(&mut out, 0);
    le16(&mut out, files.len() as u16);
    le16(&mut out, files.len() as u16);
    le32(&mut out, central_len);
    le32(&mut out, central_at);
    le16(&mut out, 0);
    out
}

fn answer(table: &Table, format: Format, name: &str) -> Response {
    let (media, bytes, ext) = match format {
        Format::Csv => (CSV, table.csv(), "csv"),
        Format::Xlsx => (XLSX, table.xlsx(name), "xlsx"),
    };
    (
        [
            (header::CONTENT_TYPE, media.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"casegrid-{name}.{ext}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

fn query_problem(e: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("query string: {}", e.body_text()))
}

/// `GET /cases/export`: every case the filters of `GET /cases` select (from `cursor`
/// on), in scope and masked as listed, at most `limit` (default and most [`MAX_ROWS`]).
pub(crate) async fn cases(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(mut pairs) = params.map_err(query_problem)?;
    let format = format_of(&mut pairs, &headers)?;
    let mut most = MAX_ROWS;
    if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "limit") {
        most = v
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=MAX_ROWS).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit: {v:?} is not a whole number 1..{MAX_ROWS}"))
            })?;
    }
    pairs.retain(|(k, _)| k != "limit");
    let mut query = crate::queries::list_query(pairs)?;
    let mut rows = Vec::new();
    loop {
        query.limit = Some(PAGE.min((most - rows.len()) as u32));
        let page = crate::queries::scoped_list(&state, &caller, query.clone()).await?;
        rows.extend(
            page.items
                .iter()
                .map(|v| serde_json::to_value(v).unwrap_or_default()),
        );
        match page.next_cursor {
            Some(next) if rows.len() < most && !page.items.is_empty() => query.cursor = Some(next),
            _ => break,
        }
    }
    Ok(answer(&Table::of(CASE_COLUMNS, &rows), format, "cases"))
}

pub(crate) fn cases_endpoint() -> Endpoint {
    let e = Endpoint::new(
        Method::GET,
        "/api/v1/cases/export",
        cases,
        "Export a list of cases as CSV or XLSX",
    )
    .describe(
        "Takes every filter of `GET /cases`; answers every case they select (from `cursor` \
         on, at most `limit`, default and most 50000) as one table: a row per case, a column \
         per member of the list's JSON (nested members dotted, lists joined with `; `), \
         personal data masked exactly as listed, only cases in the caller's scope. CSV has a \
         UTF-8 byte-order mark.",
    )
    .query(
        "format",
        "csv (default) or xlsx; or send `Accept` with the XLSX media type.",
        one_of(&["csv", "xlsx"]),
    );
    crate::queries::list_filters(e)
        .query(
            "cursor",
            "Start after this `next_cursor` of a list.",
            string(),
        )
        .query(
            "limit",
            "At most this many cases (default and most 50000).",
            page_size(50_000),
        )
        .content(200, "The cases as CSV.", CSV, string())
        .content(200, "The cases as XLSX.", XLSX, string())
        .problems(&[400, 503])
}

/// `GET /stats/export`: the figures `GET /stats` answers, as a table.
pub(crate) async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(mut pairs) = params.map_err(query_problem)?;
    let format = format_of(&mut pairs, &headers)?;
    let encoded = serde_urlencoded_pairs(&pairs);
    let params: crate::queries::StatsParams = serde_json::from_value(encoded)
        .map_err(|e| ApiError::bad_request(format!("query string: {e}")))?;
    let view = crate::queries::scoped_stats(&state, &caller, params).await?;
    let rows: Vec<Value> = view
        .rows
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    Ok(answer(&Table::of(STATS_COLUMNS, &rows), format, "stats"))
}

/// Query pairs as a JSON object of strings (the stats parameters are all strings).
fn serde_urlencoded_pairs(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

pub(crate) fn stats_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/api/v1/stats/export",
        stats,
        "Export the figures as CSV or XLSX",
    )
    .describe(
        "The rows `GET /stats` answers for the same parameters, one per group and period, \
         each rate as its count, its total and per mille (`response.count`, `response.of`, \
         `response.permille`). Scoped as `GET /stats`.",
    )
    .query(
        "format",
        "csv (default) or xlsx; or send `Accept` with the XLSX media type.",
        one_of(&["csv", "xlsx"]),
    )
    .query(
        "group_by",
        "department (default), street or category.",
        one_of(&["department", "street", "category"]),
    )
    .query(
        "period",
        "day, month or all (default).",
        one_of(&["day", "month", "all"]),
    )
    .query(
        "from",
        "From this instant (RFC 3339, inclusive).",
        date_time(),
    )
    .query("to", "To this instant (RFC 3339, exclusive).", date_time())
    .content(200, "The figures as CSV.", CSV, string())
    .content(200, "The figures as XLSX.", XLSX, string())
    .problems(&[400, 403, 503])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_flatten_into_named_columns_and_csv_quotes_what_it_must() {
        let rows = [
            json!({"number": "NH-1", "title": "a, \"b\"", "assisting": ["x", "y"],
                   "response": {"count": 1, "of": 2}, "lead": null}),
            json!({"number": "NH-2", "title": "两行\n文本", "assisting": [], "extra": true}),
        ];
        let t = Table::of(&["number", "title"], &rows);
        assert_eq!(
            t.columns,
            [
                "number",
                "title",
                "assisting",
                "extra",
                "lead",
                "response.count",
                "response.of"
            ]
        );
        assert_eq!(t.rows[0], ["NH-1", "a, \"b\"", "x; y", "", "", "1", "2"]);
        let csv = String::from_utf8(t.csv()).unwrap();
        assert_eq!(
            csv,
            "\u{feff}number,title,assisting,extra,lead,response.count,response.of\r\n\
             NH-1,\"a, \"\"b\"\"\",x; y,,,1,2\r\n\
             NH-2,\"两行\n文本\",,true,,,\r\n"
        );
    }

    #[test]
    fn column_names_and_the_crc_are_the_spreadsheet_ones() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}

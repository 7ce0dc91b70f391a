//! [`Copier`]: PostgreSQL's `COPY` for a fresh rebuild's bulk rows (timeline, cases).
//!
//! sqlx `Any` has no `COPY`, so a rebuild into PostgreSQL opens one connection of its
//! own for it. Rows are copied (text format) into a temporary twin of their table and
//! moved with one `INSERT … SELECT … ON CONFLICT …`, the same conflict rule as the
//! multi-row statements ([`crate::rows::insert`]): the result cannot differ, only the
//! parsing and binding of thousands of parameters per batch go.

use crate::rows::Val;
use crate::Result;
use sqlx::postgres::PgConnection;
use sqlx::Connection;
use std::io::Write;

/// A connection of its own for `COPY`.
pub(crate) struct Copier {
    conn: PgConnection,
}

impl Copier {
    pub(crate) async fn connect(url: &str) -> Result<Self> {
        Ok(Self {
            conn: PgConnection::connect(url).await?,
        })
    }

    /// `INSERT INTO table (columns) … tail` of `rows`, through `COPY`; committed at once
    /// (a fresh rebuild starts again from nothing when it stops half-way).
    pub(crate) async fn upsert(
        &mut self,
        table: &str,
        columns: &[&str],
        tail: &str,
        rows: &[Vec<Val>],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // Names come from our own constants, never from input.
        let staging = format!("{table}_copy");
        let columns = columns.join(", ");
        sqlx::query(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table})"
        ))
        .execute(&mut self.conn)
        .await?;
        let mut data = Vec::with_capacity(rows.len() * 512);
        for row in rows {
            text_row(&mut data, row);
        }
        let mut copy = self
            .conn
            .copy_in_raw(&format!("COPY {staging} ({columns}) FROM STDIN"))
            .await?;
        copy.send(data).await?;
        copy.finish().await?;
        sqlx::query(&format!(
            "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} {tail}"
        ))
        .execute(&mut self.conn)
        .await?;
        sqlx::query(&format!("TRUNCATE {staging}"))
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    pub(crate) async fn close(self) -> Result<()> {
        Ok(self.conn.close().await?)
    }
}

/// One row in `COPY`'s text format: tab-separated, `\N` for NULL, backslash escapes.
fn text_row(out: &mut Vec<u8>, row: &[Val]) {
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match v {
            Val::Int(Some(n)) => {
                let _ = write!(out, "{n}");
            }
            Val::Int(None) | Val::Text(None) => out.extend_from_slice(b"\\N"),
            Val::Text(Some(s)) => {
                for &b in s.as_bytes() {
                    match b {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b => out.push(b),
                    }
                }
            }
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_escaped_as_copy_reads_it() {
        let mut out = Vec::new();
        text_row(
            &mut out,
            &[
                Val::int(-7),
                Val::opt_int(None),
                Val::text("a\tb\\c\nd\re 中文"),
                Val::opt_text(None),
            ],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "-7\t\\N\ta\\tb\\\\c\\nd\\re 中文\t\\N\n"
        );
    }
}

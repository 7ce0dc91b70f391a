//! Multi-row statements: values of a row, and `INSERT`s of many rows at once in
//! chunks of a few fixed sizes, so each backend prepares (and caches) a handful of
//! statements instead of one per batch size.

use crate::{Backend, Result};
use sqlx::AnyConnection;

/// Most rows (or ids) in one statement; 128 rows of the widest table (`cases`, 37
/// columns) stay far below SQLite's and PostgreSQL's limits on parameters.
const CHUNK: usize = 128;

/// One column value: the schema holds only integers and text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Val {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Val {
    pub(crate) fn int(v: i64) -> Self {
        Self::Int(Some(v))
    }

    pub(crate) fn opt_int(v: Option<i64>) -> Self {
        Self::Int(v)
    }

    pub(crate) fn text(v: impl Into<String>) -> Self {
        Self::Text(Some(v.into()))
    }

    pub(crate) fn opt_text(v: Option<String>) -> Self {
        Self::Text(v)
    }
}

/// `items` in slices of [`CHUNK`], the rest split into powers of two (64, 32, …, 1):
/// at most eight different statement shapes per table.
pub(crate) fn chunks<T>(items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    for size in chunk_sizes(items.len()) {
        let (head, tail) = rest.split_at(size);
        out.push(head);
        rest = tail;
    }
    out
}

/// The sizes of [`chunks`] of `n` items.
fn chunk_sizes(n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = n;
    let mut size = CHUNK;
    while rest > 0 {
        while size > rest {
            size /= 2;
        }
        out.push(size);
        rest -= size;
    }
    out
}

/// `n` parameters numbered from `first`: `$first, $first+1, …` on PostgreSQL; plain
/// `?, ?, …` on SQLite, where numbered ones cost the driver a linear search per
/// parameter (`sqlite3_bind_parameter_name`): quadratic in a multi-row statement, it
/// was half of a rebuild's time.
pub(crate) fn placeholders(backend: Backend, first: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        match backend {
            Backend::Sqlite => s.push('?'),
            Backend::Postgres => {
                s.push('$');
                s.push_str(&(first + i).to_string());
            }
        }
    }
    s
}

/// `INSERT INTO table (columns) VALUES (…), (…) tail` for every row, chunked; the
/// values are moved into the statements, not copied.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    columns: &[&str],
    tail: &str,
    rows: Vec<Vec<Val>>,
) -> Result<()> {
    let width = columns.len();
    let sizes = chunk_sizes(rows.len());
    let mut rows = rows.into_iter();
    for size in sizes {
        let values: Vec<String> = (0..size)
            .map(|r| format!("({})", placeholders(backend, r * width + 1, width)))
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {} {tail}",
            columns.join(", "),
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for row in rows.by_ref().take(size) {
            debug_assert_eq!(row.len(), width, "a row of {table} has {width} values");
            for v in row {
                q = match v {
                    Val::Int(i) => q.bind(i),
                    Val::Text(t) => q.bind(t),
                };
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

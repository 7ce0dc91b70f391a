//! The correlation id: the HTTP request id (`X-Request-Id`, accepted from the client
//! when well-formed, made up by the gateway otherwise) travels in the NATS header of the
//! same name from the gateway to the service, which runs the request inside
//! [`scope`]; the events it appends carry it as their `correlation_id`.

use std::future::Future;

/// The HTTP header and the NATS header alike.
pub const HEADER: &str = "X-Request-Id";

/// The longest id kept; a longer one is replaced, never cut.
pub const MAX_LEN: usize = 64;

tokio::task_local! {
    static CURRENT: String;
}

/// Whether a client's id may be kept: 1 to [`MAX_LEN`] characters of ASCII letters,
/// digits and `-`, `_`, `.`, `:` (a UUID, a trace id, `abc-123`). Anything else (spaces,
/// control characters, non-ASCII, too long) is replaced, not stored.
pub fn well_formed(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Runs `work` with `id` as the current correlation id (none: as it is).
pub async fn scope<F: Future>(id: Option<String>, work: F) -> F::Output {
    match id {
        Some(id) => CURRENT.scope(id, work).await,
        None => work.await,
    }
}

/// The correlation id of the request being served, if one came with it.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// The current id, or `fallback` (the one in the request's body) outside a scope.
pub fn or(fallback: String) -> String {
    current().unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_kept() {
        for good in ["abc", "0192f0c4-3c1a-7d2e-8b4f-2a9c1e5d7f30", "trace:1.2_3"] {
            assert!(well_formed(good), "{good}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        for bad in ["", "a b", "a\tb", "a\nb", "ünï", "<script>", long.as_str()] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_scope_carries_the_id() {
        assert_eq!(current(), None);
        let inside = scope(Some("abc".into()), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("abc"));
        assert_eq!(scope(None, async { or("body".into()) }).await, "body");
    }
}

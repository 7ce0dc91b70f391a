//! Personal data at the edge. Services already mask what they answer; the gateway
//! makes sure anyway, because a leak here cannot be taken back:
//! - every `sealed` member (a ciphertext of a personal field) is dropped from events
//!   and timelines for everyone;
//! - a reporter's phone shown to anyone but operators and supervisors is masked
//!   (`138****1234`) even if a service sent it in clear;
//! - clear values from `reveal` reach operators and supervisors only.

use serde_json::Value;

/// Removes every member named `sealed`, at any depth.
pub(crate) fn drop_sealed(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("sealed");
            map.values_mut().for_each(drop_sealed);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_sealed),
        _ => {}
    }
}

/// `13800001234` → `138****1234`; a value already masked (or too short to be a
/// phone number) is left as it is.
pub(crate) fn mask_phone(phone: &str) -> String {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if phone.contains('*') || digits < 7 || phone == casegrid_domain::personal::ERASED {
        return phone.to_owned();
    }
    let chars: Vec<char> = phone.chars().collect();
    let keep_end = 4.min(chars.len());
    let keep_start = 3.min(chars.len() - keep_end);
    let hidden = chars.len() - keep_start - keep_end;
    let mut masked: String = chars[..keep_start].iter().collect();
    masked.extend(std::iter::repeat_n('*', hidden));
    masked.extend(&chars[chars.len() - keep_end..]);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sealed_members_go_and_phones_are_masked() {
        let mut v = json!({"reporter": {"phone": {"masked": "138****1234", "sealed": "AbC"}},
            "list": [{"sealed": "x", "keep": 1}]});
        drop_sealed(&mut v);
        assert_eq!(
            v,
            json!({"reporter": {"phone": {"masked": "138****1234"}}, "list": [{"keep": 1}]})
        );
        assert_eq!(mask_phone("13800001234"), "138****1234");
        assert_eq!(mask_phone("138****1234"), "138****1234");
        assert_eq!(mask_phone("[erased]"), "[erased]");
    }
}

//! Personal data as it may enter the append-only log: a masked form anyone may read
//! and a ciphertext that only the case's data key opens (crypto-shredding).

use serde::{Deserialize, Serialize};

/// One sensitive field: `masked` is safe to show (`138****1234`), `sealed` is the
/// AEAD ciphertext (base64 of nonce ‖ ciphertext) under the case's data key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub masked: String,
    pub sealed: String,
}

/// What every read path shows for a personal field once its case's key is erased.
pub const ERASED: &str = "[erased]";

/// The reporter of a case, as stored in `CaseFiled`. Absent for anonymous suggestions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Sealed>,
    /// 身份证号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<Sealed>,
    /// A home address (the incident's location is not personal and stays in clear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Sealed>,
}

impl Reporter {
    pub fn is_empty(&self) -> bool {
        self.fields().next().is_none()
    }

    /// The sealed fields present, with their names (`reporter.phone`, …), which are
    /// also the associated data they are sealed under.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &Sealed)> {
        [
            ("reporter.name", &self.name),
            ("reporter.phone", &self.phone),
            ("reporter.id_number", &self.id_number),
            ("reporter.address", &self.address),
        ]
        .into_iter()
        .filter_map(|(name, field)| field.as_ref().map(|f| (name, f)))
    }
}

/// Personal data found in a free text (a description, a note, a reply): the text in
/// the event carries `masked` where the citizen said the number; the number as said
/// is sealed under `field` (`description#0`, `note#1`: the text's name and the finding's
/// place in it), so an audited reveal opens it and erasing the case's key forgets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spotted {
    pub field: String,
    #[serde(flatten)]
    pub value: Sealed,
}

/// What a number in a free text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpottedKind {
    /// A mainland mobile (`13800001234`, `138-0000-1234`) or landline (`0573-82345678`).
    Phone,
    /// An 18-character 居民身份证号 whose check character is right.
    IdNumber,
    /// A bank-card number of 16 to 19 digits whose Luhn check is right.
    BankCard,
}

/// One finding: the byte range of `text` it covers and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub start: usize,
    pub end: usize,
    pub kind: SpottedKind,
}

impl Finding {
    /// The masked form, by the one masker of each kind.
    pub fn masked(&self, text: &str) -> String {
        let clear = &text[self.start..self.end];
        let digits: String = clear
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        match self.kind {
            SpottedKind::Phone => crate::ids::mask_phone(&digits),
            SpottedKind::IdNumber | SpottedKind::BankCard => crate::ids::mask_id_number(&digits),
        }
    }
}

/// Phones, ID numbers and bank-card numbers in `text`, in order. A number counts only
/// as a whole run of digits (with the usual single `-` or space between groups), so a
/// case number or an amount is not taken for one.
pub fn find_personal(text: &str) -> Vec<Finding> {
    // Runs of ASCII digits (an ID number may end in X), with their byte ranges.
    let bytes = text.as_bytes();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 17 && i < bytes.len() && matches!(bytes[i], b'X' | b'x') {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    let mut found = Vec::new();
    let mut r = 0;
    while r < runs.len() {
        // The longest chain of runs joined by one separator that is a number.
        let mut best = None;
        for n in (1..=5).rev() {
            if r + n > runs.len() {
                continue;
            }
            let chain = &runs[r..r + n];
            let joined_by = |sep: &[u8]| {
                chain
                    .windows(2)
                    .all(|w| w[1].0 == w[0].1 + 1 && sep.contains(&bytes[w[0].1]))
            };
            if !joined_by(b"- ") {
                continue;
            }
            let groups: Vec<usize> = chain.iter().map(|(a, b)| b - a).collect();
            let digits: String = chain.iter().map(|(a, b)| &text[*a..*b]).collect();
            let hyphens = joined_by(b"-");
            if let Some(kind) = classify(&digits, &groups, hyphens) {
                best = Some((n, kind));
                break;
            }
        }
        match best {
            Some((n, kind)) => {
                found.push(Finding {
                    start: runs[r].0,
                    end: runs[r + n - 1].1,
                    kind,
                });
                r += n;
            }
            None => r += 1,
        }
    }
    found
}

fn classify(digits: &str, groups: &[usize], hyphens: bool) -> Option<SpottedKind> {
    let len = digits.len();
    let all_digits = digits.bytes().all(|b| b.is_ascii_digit());
    let b = digits.as_bytes();
    match groups {
        [18] if id_check(digits) => Some(SpottedKind::IdNumber),
        [_] if !all_digits => None,
        [11] if b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) => Some(SpottedKind::Phone),
        // 0573 82345678 written without a separator: area code and number.
        [10..=12] if b[0] == b'0' && b[1] != b'0' => Some(SpottedKind::Phone),
        [16..=19] if luhn(digits) => Some(SpottedKind::BankCard),
        [3, 4, 4] if all_digits && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) => {
            Some(SpottedKind::Phone)
        }
        [3 | 4, 7 | 8] if hyphens && all_digits && b[0] == b'0' && b[1] != b'0' => {
            Some(SpottedKind::Phone)
        }
        _ if groups.len() > 1
            && all_digits
            && (16..=19).contains(&len)
            && groups[..groups.len() - 1].iter().all(|g| *g == 4)
            && luhn(digits) =>
        {
            Some(SpottedKind::BankCard)
        }
        _ => None,
    }
}

/// GB 11643: the 18th character is the ISO 7064 MOD 11-2 check of the first 17.
fn id_check(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] == b[17].to_ascii_uppercase()
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// `text` with every finding replaced by its masked form, and the findings.
pub fn mask_text(text: &str) -> (String, Vec<Finding>) {
    let found = find_personal(text);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in &found {
        out.push_str(&text[at..f.start]);
        out.push_str(&f.masked(text));
        at = f.end;
    }
    out.push_str(&text[at..]);
    (out, found)
}

/// Each finding of `text` sealed by `seal(field, clear, masked)` under `<name>#<i>`:
/// what the edge puts beside the masked text.
pub fn seal_findings(
    name: &str,
    text: &str,
    found: &[Finding],
    seal: impl Fn(&str, &str, String) -> Sealed,
) -> Vec<Spotted> {
    found
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let field = format!("{name}#{i}");
            let value = seal(&field, &text[f.start..f.end], f.masked(text));
            Spotted { field, value }
        })
        .collect()
}

/// The free texts of a command a phone or ID number may be typed into, each with the
/// name its findings are sealed under, and the command's place for them sealed: a
/// note, a progress report, a reply (and its summary for the citizen), an answer at
/// intake. `None` for every other command.
#[allow(clippy::type_complexity)]
pub fn free_texts_of(
    command: &mut crate::Command,
) -> Option<(Vec<(&'static str, &mut String)>, &mut Vec<Spotted>)> {
    use crate::Command as C;
    match command {
        C::Annotate(c) => Some((vec![("note", &mut c.text)], &mut c.personal)),
        C::RecordProgress(c) => Some((vec![("progress", &mut c.text)], &mut c.personal)),
        C::ReplyAtIntake(c) => Some((vec![("intake_reply", &mut c.text)], &mut c.personal)),
        C::Reply(c) => {
            let mut texts = vec![("reply", &mut c.text)];
            texts.extend(c.summary_for_citizen.as_mut().map(|s| ("summary", s)));
            Some((texts, &mut c.personal))
        }
        _ => None,
    }
}

/// Whether a free text of `command` holds a phone, ID or card number to seal.
pub fn holds_personal_text(command: &crate::Command) -> bool {
    let mut command = command.clone();
    free_texts_of(&mut command)
        .is_some_and(|(texts, _)| texts.iter().any(|(_, t)| !find_personal(t).is_empty()))
}

/// Masks the free texts of `command` in place and puts their findings, sealed by
/// `seal(field, clear, masked)`, beside them under `<name>.v<version>#<i>`
/// (`note.v7#0`, `reply.v9#1`: `version` is the one the event will likely get, a label).
/// The edge of the service that owns the action calls it, before the domain decides.
pub fn seal_free_texts(
    command: &mut crate::Command,
    version: u64,
    seal: impl Fn(&str, &str, String) -> Sealed,
) {
    let Some((texts, personal)) = free_texts_of(command) else {
        return;
    };
    for (name, text) in texts {
        let (masked, found) = mask_text(text);
        if found.is_empty() {
            continue;
        }
        let name = format!("{name}.v{version}");
        personal.extend(seal_findings(&name, text, &found, &seal));
        *text = masked;
    }
}

/// `text` with each masked value of `spotted` read as [`ERASED`] (the case's key is gone).
pub fn erase_in_text(text: &mut String, spotted: &[Spotted]) {
    for s in spotted {
        if !s.value.masked.is_empty() && s.value.masked != ERASED {
            *text = text.replace(&s.value.masked, ERASED);
        }
    }
}

/// The one walker over personal data in JSON (event data, a folded state): every
/// `sealed` member goes, at any depth, so only masked values remain; with `erased`
/// (the case's data key is deleted) every `masked` value reads [`ERASED`] too. Answers
/// the masked values it erased, for texts that may quote them (summaries).
pub fn strip_sealed(value: &mut serde_json::Value, erased: bool) -> Vec<String> {
    let mut was = Vec::new();
    walk(value, erased, &mut was);
    if erased {
        // A free text quotes its findings masked (`personal` members): they go too.
        let quoted: Vec<&String> = was.iter().filter(|m| m.contains('*')).collect();
        if !quoted.is_empty() {
            replace_in_strings(value, &quoted);
        }
    }
    was
}

fn replace_in_strings(value: &mut serde_json::Value, masked: &[&String]) {
    match value {
        serde_json::Value::String(text) => {
            for m in masked {
                if text.contains(m.as_str()) {
                    *text = text.replace(m.as_str(), ERASED);
                }
            }
        }
        serde_json::Value::Object(members) => members
            .values_mut()
            .for_each(|v| replace_in_strings(v, masked)),
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|v| replace_in_strings(v, masked))
        }
        _ => {}
    }
}

fn walk(value: &mut serde_json::Value, erased: bool, was: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(members) => {
            members.remove("sealed");
            for (name, member) in members.iter_mut() {
                match member {
                    serde_json::Value::String(masked) if erased && name == "masked" => {
                        was.push(std::mem::replace(masked, ERASED.to_owned()));
                    }
                    other => walk(other, erased, was),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| walk(v, erased, was)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(text: &str) -> Vec<(&str, SpottedKind)> {
        find_personal(text)
            .into_iter()
            .map(|f| (&text[f.start..f.end], f.kind))
            .collect()
    }

    #[test]
    fn phones_id_numbers_and_bank_cards_are_found_in_free_text() {
        use SpottedKind::*;
        let text = "王女士电话13800001234，备用138-0000-5678，座机0573-82345678，\
                    身份证11010119900307125X，卡号6222 0212 3456 7891 233。";
        assert_eq!(
            kinds(text),
            [
                ("13800001234", Phone),
                ("138-0000-5678", Phone),
                ("0573-82345678", Phone),
                ("11010119900307125X", IdNumber),
                ("6222 0212 3456 7891 233", BankCard),
            ]
        );
        let (masked, _) = mask_text(text);
        assert_eq!(
            masked,
            "王女士电话138****1234，备用138****5678，座机057*****5678，\
             身份证110***********125X，卡号622************1233。"
        );
    }

    #[test]
    fn numbers_that_are_no_personal_data_stay() {
        for text in [
            "案件NH-20261123-000123已受理",
            "欠薪12000元，工期2026年3月",
            "编号110101199003071234（校验位不对）",
            "订单6222021234567891239（Luhn 不对）",
            "12345热线",
            "电话138000012345多一位",
        ] {
            assert_eq!(kinds(text), [], "{text}");
        }
    }

    #[test]
    fn sealed_members_go_at_any_depth_and_erasure_blanks_masked_values() {
        let data = json!({"reporter": {"phone": {"masked": "138****1234", "sealed": "AbC"}},
            "parties": [{"name": {"masked": "王**", "sealed": "x"}, "keep": 1}]});
        let mut kept = data.clone();
        assert!(strip_sealed(&mut kept, false).is_empty());
        assert_eq!(
            kept,
            json!({"reporter": {"phone": {"masked": "138****1234"}},
                "parties": [{"name": {"masked": "王**"}, "keep": 1}]})
        );
        let mut erased = data;
        let mut was = strip_sealed(&mut erased, true);
        was.sort();
        assert_eq!(was, ["138****1234", "王**"]);
        assert_eq!(
            erased,
            json!({"reporter": {"phone": {"masked": ERASED}},
                "parties": [{"name": {"masked": ERASED}, "keep": 1}]})
        );
    }
}

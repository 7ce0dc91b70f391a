//! Text likeness by character n-grams, which suit Chinese (no word boundaries) as well
//! as Latin text: a text is lowercased, stripped of whitespace and punctuation, and cut
//! into overlapping character bigrams (a one-character text is its own gram); two texts
//! are as alike as the Dice coefficient of their gram multisets, in per mille.
//! Used by duplicate candidates ([`crate::similar`]) and the knowledge-base search.

use std::collections::HashMap;

/// The grams of `text` with their counts.
pub fn grams(text: &str) -> HashMap<String, u32> {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    let mut out = HashMap::new();
    if chars.len() == 1 {
        out.insert(chars[0].to_string(), 1);
    }
    for pair in chars.windows(2) {
        *out.entry(pair.iter().collect::<String>()).or_insert(0) += 1;
    }
    out
}

fn total(g: &HashMap<String, u32>) -> u32 {
    g.values().sum()
}

fn shared(a: &HashMap<String, u32>, b: &HashMap<String, u32>) -> u32 {
    a.iter()
        .map(|(k, n)| b.get(k).map_or(0, |m| (*n).min(*m)))
        .sum()
}

/// Dice coefficient of two gram multisets, per mille (0 when either is empty).
pub fn dice(a: &HashMap<String, u32>, b: &HashMap<String, u32>) -> u32 {
    let sum = total(a) + total(b);
    if sum == 0 || total(a) == 0 || total(b) == 0 {
        return 0;
    }
    (2000 * u64::from(shared(a, b)) / u64::from(sum)) as u32
}

/// How much of the query's grams the text holds, per mille: a search for a few words
/// finds a long answer that contains them.
pub fn coverage(query: &HashMap<String, u32>, text: &HashMap<String, u32>) -> u32 {
    let q = total(query);
    if q == 0 {
        return 0;
    }
    (1000 * u64::from(shared(query, text)) / u64::from(q)) as u32
}

/// Likeness of two cases by title and description: the title weighs twice the
/// description; when either has no description, the title alone counts.
pub fn case_likeness(title_a: &str, desc_a: &str, title_b: &str, desc_b: &str) -> u32 {
    let title = dice(&grams(title_a), &grams(title_b));
    let (da, db) = (grams(desc_a), grams(desc_b));
    if da.is_empty() || db.is_empty() {
        return title;
    }
    (2 * title + dice(&da, &db)) / 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_is_1000_and_unrelated_text_0() {
        let a = grams("小区水管漏水");
        assert_eq!(dice(&a, &a), 1000);
        assert_eq!(dice(&a, &grams("夜间施工噪音")), 0);
        assert_eq!(dice(&a, &grams("")), 0);
    }

    #[test]
    fn punctuation_case_and_spaces_do_not_count() {
        assert_eq!(dice(&grams("Water  leak!"), &grams("water-LEAK")), 1000);
        assert_eq!(grams("漏").len(), 1);
    }

    #[test]
    fn a_variant_is_closer_than_another_topic() {
        let leak = case_likeness("滨江路12号水管漏水", "", "滨江路12号楼下水管爆裂漏水", "");
        let noise = case_likeness("滨江路12号水管漏水", "", "滨江路12号夜间施工噪音", "");
        assert!(leak > noise, "{leak} > {noise}");
    }

    #[test]
    fn coverage_counts_the_query_grams_found() {
        let q = grams("社保转移");
        assert_eq!(coverage(&q, &grams("如何办理社保转移手续")), 1000);
        assert!(coverage(&q, &grams("社保卡挂失")) < 500);
    }
}

//! `assessment.toml` (optional): the monthly 红黑榜 — the weight of each rate in a
//! unit's composite score and how many units the red and black lists name. Absent,
//! the defaults of [`RankingConfig`] apply.

use crate::Problems;
use casegrid_contracts::ranking::RankingConfig;
use serde::Deserialize;
use std::path::Path;

/// The file's name in a configuration folder.
pub const FILE: &str = "assessment.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssessmentFile {
    ranking: RankingConfig,
}

/// Reads and validates `dir/assessment.toml`; problems go to `list`.
pub(crate) fn load(dir: &Path, list: &mut Vec<crate::Problem>) -> RankingConfig {
    let path = dir.join(FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return RankingConfig::default();
    };
    let mut problems = Problems::new(&path, list);
    let file: AssessmentFile = match toml::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            problems.add("file", e.message().to_owned());
            return RankingConfig::default();
        }
    };
    if file.ranking.weights.total() == 0 {
        problems.add("ranking.weights", "at least one weight must be above 0");
    }
    file.ranking
}

#[cfg(test)]
mod tests {
    use crate::District;
    use std::path::PathBuf;

    fn demo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config")
    }

    /// The demo folder with `assessment.toml` replaced by `text` (or removed).
    fn with(name: &str, text: Option<&str>) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cg-assess-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in crate::FILES.iter().chain(&["grids.geojson"]) {
            std::fs::copy(demo().join(f), dir.join(f)).unwrap();
        }
        let _ = std::fs::remove_file(dir.join(super::FILE));
        if let Some(text) = text {
            std::fs::write(dir.join(super::FILE), text).unwrap();
        }
        dir
    }

    #[test]
    fn the_demo_weights_load_and_a_missing_file_means_the_defaults() {
        let d = District::load(&demo()).unwrap();
        assert_eq!(d.ranking.weights.on_time_reply, 30);
        assert_eq!(d.ranking.weights.total(), 100);
        assert_eq!(d.ranking.list_size, 3);
        let d = District::load(&with("none", None)).unwrap();
        assert_eq!(d.ranking, Default::default());
    }

    #[test]
    fn unknown_rates_and_all_zero_weights_are_refused() {
        let err = District::load(&with(
            "unknown",
            Some("[ranking]\n[ranking.weights]\nspeed = 3\n"),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("speed"), "{err}");
        assert!(err.to_string().contains("assessment.toml"), "{err}");
        let err = District::load(&with(
            "zero",
            Some("[ranking]\n[ranking.weights]\nreturns = 0\n"),
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("at least one weight must be above 0"),
            "{err}"
        );
    }
}

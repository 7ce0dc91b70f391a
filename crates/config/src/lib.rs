//! The district configuration (`deploy/config/`): grid tree, departments, routing
//! rules and principals, loaded from TOML and validated as a whole. Every problem
//! names its file, its entry and what is wrong.
//!
//! - [`District`]: everything loaded, with [`District::route`] for dispatch.
//! - [`Principal`]: a demo principal and its static token.

use casegrid_domain::{ActorKind, Category, DepartmentId, GridCode};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepartmentKind {
    /// 条: a functional department of the district.
    Functional,
    /// 块: a street office or township government.
    Territorial,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: DepartmentId,
    pub name: String,
    pub kind: DepartmentKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub code: GridCode,
    pub name: String,
    pub level: String,
    /// The territorial office of a street-level node.
    #[serde(default)]
    pub office: Option<DepartmentId>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub category: Category,
    pub name: String,
    /// Absent: the territorial office of the case's grid leads (属地管理).
    #[serde(default)]
    pub lead: Option<DepartmentId>,
    #[serde(default)]
    pub assisting: Vec<DepartmentId>,
    pub sign_hours: u32,
    pub handle_hours: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    pub token: String,
    pub kind: ActorKind,
    pub id: String,
    pub name: String,
}

/// Where a case goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub lead: DepartmentId,
    pub assisting: Vec<DepartmentId>,
    pub sign_hours: u32,
    pub handle_hours: u32,
    /// Names the rule that decided (`rules.toml#noise`, or `…+territorial`).
    pub rule: String,
}

/// Why a case cannot be routed by rule (it then waits for a human dispatcher).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    UnknownCategory(String),
    NoTerritorialOffice(String),
}

impl fmt::Display for NoRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCategory(c) => write!(f, "no rule for category {c}"),
            Self::NoTerritorialOffice(g) => {
                write!(
                    f,
                    "no territorial office for grid {g} and the rule names no lead"
                )
            }
        }
    }
}

/// One configuration problem: file, entry and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub entry: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.file.display(),
            self.entry,
            self.message
        )
    }
}

/// Every problem found while loading a configuration folder.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError(pub Vec<Problem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// The loaded, validated district.
#[derive(Debug, Clone)]
pub struct District {
    pub dir: PathBuf,
    pub departments: BTreeMap<DepartmentId, Department>,
    pub grids: BTreeMap<GridCode, Grid>,
    pub rules: BTreeMap<Category, Rule>,
    pub principals: HashMap<String, Principal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentsFile {
    department: Vec<Department>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GridsFile {
    grid: Vec<Grid>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rule: Vec<Rule>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalsFile {
    principal: Vec<Principal>,
}

fn read<T: serde::de::DeserializeOwned>(path: &Path, problems: &mut Vec<Problem>) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem {
                file: path.to_owned(),
                entry: "file".into(),
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    match toml::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(Problem {
                file: path.to_owned(),
                entry: e
                    .span()
                    .map(|s| format!("line {}", text[..s.start].lines().count().max(1)))
                    .unwrap_or_else(|| "file".into()),
                message: e.message().to_owned(),
            });
            None
        }
    }
}

impl District {
    /// Loads and validates `dir`; the error lists every problem found.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let departments_file = dir.join("departments.toml");
        let grids_file = dir.join("grids.toml");
        let rules_file = dir.join("rules.toml");
        let principals_file = dir.join("principals.toml");
        let departments: Option<DepartmentsFile> = read(&departments_file, &mut problems);
        let grids: Option<GridsFile> = read(&grids_file, &mut problems);
        let rules: Option<RulesFile> = read(&rules_file, &mut problems);
        let principals: Option<PrincipalsFile> = read(&principals_file, &mut problems);
        let mut problem = |file: &Path, entry: String, message: String| {
            problems.push(Problem {
                file: file.to_owned(),
                entry,
                message,
            })
        };

        let mut district = District {
            dir: dir.to_owned(),
            departments: BTreeMap::new(),
            grids: BTreeMap::new(),
            rules: BTreeMap::new(),
            principals: HashMap::new(),
        };
        for d in departments.map(|f| f.department).unwrap_or_default() {
            let entry = format!("department {}", d.id);
            if district.departments.insert(d.id.clone(), d).is_some() {
                problem(&departments_file, entry, "defined twice".into());
            }
        }
        for g in grids.map(|f| f.grid).unwrap_or_default() {
            let entry = format!("grid {}", g.code);
            if let Some(office) = &g.office {
                if !district.departments.contains_key(office) {
                    problem(
                        &grids_file,
                        entry.clone(),
                        format!("unknown office {office}"),
                    );
                }
            }
            if district.grids.insert(g.code.clone(), g).is_some() {
                problem(&grids_file, entry, "defined twice".into());
            }
        }
        for g in district.grids.values() {
            let code = g.code.as_str();
            if let Some((parent, _)) = code.rsplit_once('.') {
                if !district.grids.keys().any(|k| k.as_str() == parent) {
                    problem(
                        &grids_file,
                        format!("grid {code}"),
                        format!("its parent {parent} is not defined"),
                    );
                }
            }
        }
        for r in rules.map(|f| f.rule).unwrap_or_default() {
            let entry = format!("rule {}", r.category);
            for d in r.lead.iter().chain(r.assisting.iter()) {
                if !district.departments.contains_key(d) {
                    problem(
                        &rules_file,
                        entry.clone(),
                        format!("unknown department {d}"),
                    );
                }
            }
            if r.sign_hours == 0 || r.handle_hours < r.sign_hours {
                problem(
                    &rules_file,
                    entry.clone(),
                    "sign_hours must be > 0 and handle_hours ≥ sign_hours".into(),
                );
            }
            if district.rules.insert(r.category.clone(), r).is_some() {
                problem(
                    &rules_file,
                    entry,
                    "defined twice for the same category".into(),
                );
            }
        }
        for p in principals.map(|f| f.principal).unwrap_or_default() {
            let entry = format!("principal {}", p.id);
            if p.token.len() < 8 {
                problem(
                    &principals_file,
                    entry.clone(),
                    "token shorter than 8 characters".into(),
                );
            }
            if p.kind == ActorKind::Department || p.kind == ActorKind::Street {
                let known =
                    DepartmentId::parse(&p.id).is_ok_and(|d| district.departments.contains_key(&d));
                if !known {
                    problem(
                        &principals_file,
                        entry.clone(),
                        format!("unknown department {}", p.id),
                    );
                }
            }
            if district.principals.insert(p.token.clone(), p).is_some() {
                problem(&principals_file, entry, "token used twice".into());
            }
        }
        if problems.is_empty() {
            Ok(district)
        } else {
            Err(ConfigError(problems))
        }
    }

    pub fn has_category(&self, category: &str) -> bool {
        self.rules.keys().any(|c| c.as_str() == category)
    }

    pub fn principal(&self, token: &str) -> Option<&Principal> {
        self.principals.get(token)
    }

    /// The territorial office of a grid: the nearest ancestor naming one.
    pub fn territorial_office(&self, grid: &GridCode) -> Option<&DepartmentId> {
        let ancestors: Vec<&str> = grid.ancestors().collect();
        ancestors.iter().rev().find_map(|code| {
            self.grids
                .iter()
                .find(|(k, _)| k.as_str() == *code)
                .and_then(|(_, g)| g.office.as_ref())
        })
    }

    /// Where a case of `category` in `grid` goes, excluding `exclude` (departments
    /// that returned it).
    pub fn route(
        &self,
        category: &Category,
        grid: Option<&GridCode>,
        exclude: &[DepartmentId],
    ) -> Result<Route, NoRoute> {
        let rule = self
            .rules
            .get(category)
            .ok_or_else(|| NoRoute::UnknownCategory(category.to_string()))?;
        let territorial = grid.and_then(|g| self.territorial_office(g));
        let (lead, rule_name) = match rule.lead.as_ref().filter(|l| !exclude.contains(l)) {
            Some(lead) => (lead.clone(), format!("rules.toml#{}", rule.category)),
            None => {
                let office = territorial
                    .filter(|o| !exclude.contains(o))
                    .ok_or_else(|| {
                        NoRoute::NoTerritorialOffice(
                            grid.map(|g| g.to_string())
                                .unwrap_or_else(|| "(none)".into()),
                        )
                    })?;
                (
                    office.clone(),
                    format!("rules.toml#{}+territorial", rule.category),
                )
            }
        };
        let assisting = rule
            .assisting
            .iter()
            .filter(|d| **d != lead && !exclude.contains(d))
            .cloned()
            .collect();
        Ok(Route {
            lead,
            assisting,
            sign_hours: rule.sign_hours,
            handle_hours: rule.handle_hours,
            rule: rule_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> District {
        District::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_demo_district_routes_by_rule_and_by_territory() {
        let d = demo();
        let grid = GridCode::parse("NH.HB.BJ.03").unwrap();
        let noise = d
            .route(&Category::parse("noise").unwrap(), Some(&grid), &[])
            .unwrap();
        assert_eq!(noise.lead.as_str(), "dept.urban");
        assert_eq!(noise.rule, "rules.toml#noise");
        let dispute = d
            .route(
                &Category::parse("neighbor_dispute").unwrap(),
                Some(&grid),
                &[],
            )
            .unwrap();
        assert_eq!(dispute.lead.as_str(), "street.hubin");
        let excluded = d
            .route(
                &Category::parse("noise").unwrap(),
                Some(&grid),
                &[DepartmentId::parse("dept.urban").unwrap()],
            )
            .unwrap();
        assert_eq!(excluded.lead.as_str(), "street.hubin");
        assert!(d.principal("demo-operator").is_some());
    }

    #[test]
    fn every_problem_is_named_with_file_and_entry() {
        let dir = std::env::temp_dir().join(format!("cg-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let demo_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config");
        for f in ["departments.toml", "principals.toml"] {
            std::fs::copy(demo_dir.join(f), dir.join(f)).unwrap();
        }
        std::fs::write(
            dir.join("grids.toml"),
            "[[grid]]\ncode = \"NH.XX.YY\"\nname = \"x\"\nlevel = \"grid\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("rules.toml"),
            "[[rule]]\ncategory = \"noise\"\nname = \"n\"\nlead = \"dept.nowhere\"\nsign_hours = 1\nhandle_hours = 2\n",
        )
        .unwrap();
        let err = District::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("grids.toml: grid NH.XX.YY: its parent NH.XX is not defined"),
            "{err}"
        );
        assert!(
            err.contains("rules.toml: rule noise: unknown department dept.nowhere"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

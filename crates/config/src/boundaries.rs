//! Grid boundaries: GeoJSON polygons that turn a filed point into a grid code.
//!
//! `grids.toml` names the file in its `[locate]` table:
//!
//! ```toml
//! [locate]
//! boundaries = "grids.geojson"  # a FeatureCollection; each feature's properties.code is a grid
//! nearest_within_m = 300        # a point between polygons takes the nearest grid this close
//! default_grid = "NH.HB.BJ.01"  # beyond that: this grid; absent: the filing is refused (422)
//! ```
//!
//! Positions are `[longitude, latitude]` in WGS 84 (RFC 7946). Polygons are kept in a
//! local plane in metres (equirectangular around the district's mean latitude: at a
//! district's size the error is far below a metre), where containment, distance and
//! overlap are computed with `geo`.

use crate::Problems;
use casegrid_domain::point::{GridFound, Wgs84};
use casegrid_domain::GridCode;
use geo::{Area, BooleanOps, Contains, Coord, Distance, Euclidean, LineString, MultiPolygon};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Metres per degree of latitude (and of longitude at the equator), near enough.
const METRES_PER_DEGREE: f64 = 111_320.0;
/// Two grids of one level may share edges; an overlap above this many m² is refused.
const OVERLAP_TOLERANCE_M2: f64 = 1.0;

/// `[locate]` of grids.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LocateEntry {
    boundaries: String,
    #[serde(default)]
    nearest_within_m: u32,
    #[serde(default)]
    default_grid: Option<GridCode>,
}

impl LocateEntry {
    /// The GeoJSON file, relative to the configuration folder.
    pub(crate) fn file(&self) -> &str {
        &self.boundaries
    }
}

/// Where a point was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub grid: GridCode,
    pub found: GridFound,
}

/// Why a point has no grid: it lies outside every boundary and beyond the nearest
/// distance, and the district has no default grid. The caller refuses the filing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlocated {
    /// The district has no boundaries configured.
    NoBoundaries,
    /// The nearest grid is `metres` away; at most `within` is allowed.
    TooFar {
        nearest: GridCode,
        metres: u32,
        within: u32,
    },
}

impl std::fmt::Display for Unlocated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoBoundaries => write!(f, "this district has no grid boundaries configured"),
            Self::TooFar {
                nearest,
                metres,
                within,
            } => write!(
                f,
                "the point lies outside every grid of this district: the nearest, \
                 {nearest}, is {metres} m away (at most {within} m is accepted)"
            ),
        }
    }
}

/// The district's grid boundaries, in a local plane in metres.
#[derive(Debug, Clone, Default)]
pub struct Boundaries {
    /// Mean latitude of every position: the plane's reference.
    origin_lat: f64,
    polygons: Vec<(GridCode, MultiPolygon<f64>)>,
    pub nearest_within_m: u32,
    pub default_grid: Option<GridCode>,
}

impl Boundaries {
    pub fn is_empty(&self) -> bool {
        self.polygons.is_empty()
    }

    /// The grids that have a boundary.
    pub fn grids(&self) -> impl Iterator<Item = &GridCode> {
        self.polygons.iter().map(|(g, _)| g)
    }

    fn plane(&self, p: Wgs84) -> Coord<f64> {
        project(self.origin_lat, p.long, p.lat)
    }

    /// The grid of a WGS 84 point: the one whose polygon contains it (the deepest
    /// level first when boundaries of several levels are given), else the nearest
    /// within [`Self::nearest_within_m`], else the default grid.
    pub fn locate(&self, p: Wgs84) -> Result<Located, Unlocated> {
        if self.polygons.is_empty() {
            return Err(Unlocated::NoBoundaries);
        }
        let point = geo::Point::from(self.plane(p));
        let deepest = |g: &GridCode| g.as_str().matches('.').count();
        if let Some((grid, _)) = self
            .polygons
            .iter()
            .filter(|(_, shape)| shape.contains(&point))
            .max_by_key(|(g, _)| deepest(g))
        {
            return Ok(Located {
                grid: grid.clone(),
                found: GridFound::Coordinates,
            });
        }
        let (nearest, metres) = self
            .polygons
            .iter()
            .map(|(g, shape)| (g, Euclidean.distance(&point, shape)))
            .min_by(|a, b| {
                a.1.total_cmp(&b.1)
                    .then_with(|| deepest(b.0).cmp(&deepest(a.0)))
            })
            .expect("not empty");
        let metres = metres.ceil().min(f64::from(u32::MAX)) as u32;
        if metres <= self.nearest_within_m {
            return Ok(Located {
                grid: nearest.clone(),
                found: GridFound::Nearest { metres },
            });
        }
        match &self.default_grid {
            Some(grid) => Ok(Located {
                grid: grid.clone(),
                found: GridFound::Default,
            }),
            None => Err(Unlocated::TooFar {
                nearest: nearest.clone(),
                metres,
                within: self.nearest_within_m,
            }),
        }
    }
}

fn project(origin_lat: f64, long: f64, lat: f64) -> Coord<f64> {
    Coord {
        x: long * METRES_PER_DEGREE * origin_lat.to_radians().cos(),
        y: lat * METRES_PER_DEGREE,
    }
}

#[derive(Deserialize)]
struct FeatureCollection {
    #[serde(rename = "type")]
    kind: String,
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    #[serde(default)]
    properties: serde_json::Map<String, serde_json::Value>,
    geometry: Option<Geometry>,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Geometry {
    Polygon {
        coordinates: Vec<Vec<Vec<f64>>>,
    },
    MultiPolygon {
        coordinates: Vec<Vec<Vec<Vec<f64>>>>,
    },
}

/// One polygon's rings as `[longitude, latitude]` positions, exterior first.
type Rings = Vec<Vec<[f64; 2]>>;

/// Reads the GeoJSON `text` (`file` as named in grids.toml) and checks it against the
/// grid tree: closed rings of valid positions, known grid codes, one feature per grid,
/// no overlap between grids of the same level, every leaf grid covered.
pub(crate) fn load(
    entry: &LocateEntry,
    text: Option<&str>,
    grids: &BTreeMap<GridCode, crate::Grid>,
    problems: &mut Problems<'_>,
) -> Boundaries {
    let mut out = Boundaries {
        nearest_within_m: entry.nearest_within_m,
        default_grid: entry.default_grid.clone(),
        ..Boundaries::default()
    };
    if let Some(g) = &entry.default_grid {
        if !grids.contains_key(g) {
            problems.add("locate.default_grid", format!("unknown grid {g}"));
        }
    }
    let file = format!("locate.boundaries ({})", entry.boundaries);
    let Some(text) = text else {
        problems.add(file, "cannot be read");
        return out;
    };
    let collection: FeatureCollection = match serde_json::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            problems.add(
                file,
                format!("not a GeoJSON FeatureCollection of polygons: {e}"),
            );
            return out;
        }
    };
    if collection.kind != "FeatureCollection" {
        problems.add(
            file,
            format!("type {:?}: expected FeatureCollection", collection.kind),
        );
        return out;
    }
    let mut rings: Vec<(GridCode, Vec<Rings>)> = Vec::new();
    for (i, feature) in collection.features.into_iter().enumerate() {
        let at = format!("{file}: feature {i}");
        let code = feature.properties.get("code").and_then(|c| c.as_str());
        let Some(code) = code.and_then(|c| GridCode::parse(c).ok()) else {
            problems.add(at, "properties.code must be a grid code");
            continue;
        };
        let at = format!("{file}: grid {code}");
        if !grids.contains_key(&code) {
            problems.add(at, "no such grid in the grid tree");
            continue;
        }
        if rings.iter().any(|(g, _)| *g == code) {
            problems.add(at, "has two features");
            continue;
        }
        let polygons = match feature.geometry {
            Some(Geometry::Polygon { coordinates }) => vec![coordinates],
            Some(Geometry::MultiPolygon { coordinates }) => coordinates,
            None => {
                problems.add(at, "has no geometry");
                continue;
            }
        };
        let before = problems.count();
        let mut checked = Vec::new();
        for (p, polygon) in polygons.into_iter().enumerate() {
            if polygon.is_empty() {
                problems.add(at.as_str(), format!("polygon {p} has no ring"));
            }
            let mut positions = Vec::new();
            for (r, ring) in polygon.into_iter().enumerate() {
                let ring_at = format!("polygon {p} ring {r}");
                let valid: Vec<[f64; 2]> = ring
                    .iter()
                    .filter_map(|pos| match pos.as_slice() {
                        [long, lat, ..]
                            if (-180.0..=180.0).contains(long) && (-90.0..=90.0).contains(lat) =>
                        {
                            Some([*long, *lat])
                        }
                        _ => None,
                    })
                    .collect();
                if valid.len() != ring.len() {
                    problems.add(
                        at.as_str(),
                        format!("{ring_at}: every position is [longitude, latitude] in degrees"),
                    );
                } else if valid.len() < 4 {
                    problems.add(
                        at.as_str(),
                        format!("{ring_at}: a ring needs at least 4 positions"),
                    );
                } else if valid.first() != valid.last() {
                    problems.add(
                        at.as_str(),
                        format!("{ring_at}: not closed: the last position must equal the first"),
                    );
                }
                positions.push(valid);
            }
            checked.push(positions);
        }
        if problems.count() == before {
            rings.push((code, checked));
        }
    }
    let all: Vec<[f64; 2]> = rings
        .iter()
        .flat_map(|(_, polygons)| polygons.iter().flatten().flatten().copied())
        .collect();
    out.origin_lat = if all.is_empty() {
        0.0
    } else {
        all.iter().map(|p| p[1]).sum::<f64>() / all.len() as f64
    };
    let origin = out.origin_lat;
    out.polygons = rings
        .into_iter()
        .map(|(code, polygons)| {
            let shape = polygons
                .into_iter()
                .map(|mut ring_list| {
                    let ring = |r: Vec<[f64; 2]>| {
                        LineString::from(
                            r.into_iter()
                                .map(|[long, lat]| project(origin, long, lat))
                                .collect::<Vec<_>>(),
                        )
                    };
                    let exterior = ring(ring_list.remove(0));
                    geo::Polygon::new(exterior, ring_list.into_iter().map(ring).collect())
                })
                .collect::<Vec<_>>();
            (code, MultiPolygon::new(shape))
        })
        .collect();
    for (i, (a, shape_a)) in out.polygons.iter().enumerate() {
        if shape_a.unsigned_area() < OVERLAP_TOLERANCE_M2 {
            problems.add(format!("{file}: grid {a}"), "its polygon has no area");
        }
        for (b, shape_b) in &out.polygons[i + 1..] {
            if grids[a].level != grids[b].level {
                continue;
            }
            let overlap = shape_a.intersection(shape_b).unsigned_area();
            if overlap > OVERLAP_TOLERANCE_M2 {
                problems.add(
                    format!("{file}: grid {a}"),
                    format!(
                        "overlaps grid {b} of the same level ({}) by {overlap:.0} m²",
                        grids[a].level
                    ),
                );
            }
        }
    }
    for code in grids.keys() {
        let prefix = format!("{code}.");
        let leaf = !grids.keys().any(|k| k.as_str().starts_with(&prefix));
        if leaf && !out.polygons.iter().any(|(g, _)| g == code) {
            problems.add(
                format!("{file}: grid {code}"),
                "a leaf grid without a boundary: points in it could not be found",
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use casegrid_domain::point::wgs84_to_gcj02;
    use std::path::Path;

    fn demo() -> crate::District {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config");
        crate::District::load(&dir).unwrap_or_else(|e| panic!("{e}"))
    }

    fn at(lat: f64, long: f64) -> Wgs84 {
        Wgs84 { lat, long }
    }

    fn grid(code: &str) -> GridCode {
        GridCode::parse(code).unwrap()
    }

    #[test]
    fn every_leaf_grid_of_the_demo_has_a_boundary() {
        let d = demo();
        let mut with: Vec<&str> = d.boundaries.grids().map(GridCode::as_str).collect();
        with.sort_unstable();
        assert_eq!(
            with,
            [
                "NH.CD.YL.02",
                "NH.HB.BJ.01",
                "NH.HB.BJ.03",
                "NH.HB.XH.01",
                "NH.NS.TX.01"
            ]
        );
    }

    #[test]
    fn a_point_inside_a_polygon_gets_its_grid_and_its_gcj02_twin_the_same() {
        let d = demo();
        let p = at(30.7553, 120.7655);
        let found = d.locate(p).unwrap();
        assert_eq!(found.grid, grid("NH.HB.BJ.03"));
        assert_eq!(found.found, GridFound::Coordinates);
        // The GCJ-02 reading of the same point lies ~500 m off; converted back it is the same grid.
        let gcj = wgs84_to_gcj02(p);
        let back = casegrid_domain::point::CoordinateSystem::Gcj02.to_wgs84(gcj);
        assert_eq!(d.locate(back).unwrap(), found);
        assert_eq!(
            d.locate(at(30.74, 120.76)).unwrap().grid,
            grid("NH.NS.TX.01")
        );
    }

    #[test]
    fn between_polygons_the_nearest_within_the_distance_and_beyond_it_no_grid() {
        let d = demo();
        // 0.0005° east of NH.HB.BJ.03's edge at this latitude: about 48 m.
        let found = d.locate(at(30.755, 120.7705)).unwrap();
        assert_eq!(found.grid, grid("NH.HB.BJ.03"));
        assert_eq!(found.found, GridFound::Nearest { metres: 48 });
        match d.locate(at(30.80, 120.90)) {
            Err(Unlocated::TooFar {
                nearest, within, ..
            }) => {
                assert_eq!(nearest, grid("NH.CD.YL.02"));
                assert_eq!(within, 300);
            }
            other => panic!("{other:?}"),
        }
        let mut with_default = d.boundaries.clone();
        with_default.default_grid = Some(grid("NH.HB.BJ.01"));
        assert_eq!(
            with_default.locate(at(30.80, 120.90)).unwrap(),
            Located {
                grid: grid("NH.HB.BJ.01"),
                found: GridFound::Default,
            }
        );
    }

    /// Problems of `geojson` against a two-leaf tree `NH` → `NH.A`, `NH.B`.
    fn problems_of(geojson: &str) -> Vec<String> {
        let toml = r#"
            [[grid]]
            code = "NH"
            name = "d"
            level = "district"
            [[grid]]
            code = "NH.A"
            name = "a"
            level = "street"
            [[grid]]
            code = "NH.B"
            name = "b"
            level = "street"
            "#;
        #[derive(Deserialize)]
        struct File {
            grid: Vec<crate::Grid>,
        }
        let file: File = toml::from_str(toml).unwrap();
        let grids = file.grid.into_iter().map(|g| (g.code.clone(), g)).collect();
        let entry = LocateEntry {
            boundaries: "b.geojson".into(),
            nearest_within_m: 100,
            default_grid: Some(grid("NH.C")),
        };
        let mut list = Vec::new();
        let mut problems = Problems::new(Path::new("grids.toml"), &mut list);
        load(&entry, Some(geojson), &grids, &mut problems);
        list.into_iter()
            .map(|p| format!("{}: {}", p.entry, p.message))
            .collect()
    }

    fn feature(code: &str, ring: &str) -> String {
        format!(
            r#"{{"type":"Feature","properties":{{"code":"{code}"}},
                "geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}"#
        )
    }

    #[test]
    fn config_check_names_open_rings_overlaps_and_uncovered_leaves() {
        let square = "[[120.0,30.0],[120.01,30.0],[120.01,30.01],[120.0,30.01],[120.0,30.0]]";
        let shifted =
            "[[120.005,30.0],[120.02,30.0],[120.02,30.01],[120.005,30.01],[120.005,30.0]]";
        let open = "[[120.0,30.0],[120.01,30.0],[120.01,30.01],[120.0,30.01]]";
        let fc = |features: &[String]| {
            format!(
                r#"{{"type":"FeatureCollection","features":[{}]}}"#,
                features.join(",")
            )
        };
        let overlapping = problems_of(&fc(&[feature("NH.A", square), feature("NH.B", shifted)]));
        assert_eq!(overlapping.len(), 2, "{overlapping:?}");
        assert_eq!(overlapping[0], "locate.default_grid: unknown grid NH.C");
        assert!(
            overlapping[1].starts_with(
                "locate.boundaries (b.geojson): grid NH.A: overlaps grid NH.B of the same level (street) by"
            ),
            "{overlapping:?}"
        );
        let broken = problems_of(&fc(&[feature("NH.A", open), feature("NH.X", square)]));
        assert_eq!(
            broken[1..],
            [
                "locate.boundaries (b.geojson): grid NH.A: polygon 0 ring 0: not closed: the last \
                 position must equal the first",
                "locate.boundaries (b.geojson): grid NH.X: no such grid in the grid tree",
                "locate.boundaries (b.geojson): grid NH.A: a leaf grid without a boundary: points \
                 in it could not be found",
                "locate.boundaries (b.geojson): grid NH.B: a leaf grid without a boundary: points \
                 in it could not be found",
            ],
            "{broken:?}"
        );
        // Neighbours sharing an edge do not overlap.
        let beside = "[[120.01,30.0],[120.02,30.0],[120.02,30.01],[120.01,30.01],[120.01,30.0]]";
        let fine = problems_of(&fc(&[feature("NH.A", square), feature("NH.B", beside)]));
        assert_eq!(fine.len(), 1, "{fine:?}");
    }
}

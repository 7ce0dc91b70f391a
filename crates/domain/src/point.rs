//! Where an incident is: a point in decimal degrees, the coordinate systems Chinese
//! map SDKs send (GCJ-02 of AMap and Tencent, BD-09 of Baidu) converted to WGS 84, and
//! the record of how a case's grid was found.
//!
//! Events hold no floating-point numbers, so a point travels as the decimal strings
//! it was filed with; the conversion runs in `f64` only while a grid is looked up.

use serde::{Deserialize, Serialize};

/// The coordinate system of a filed point. Absent in a request: WGS 84.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CoordinateSystem {
    /// GPS, Open311, GeoJSON.
    #[default]
    Wgs84,
    /// 国测局 "Mars" coordinates: AMap (高德), Tencent, Apple Maps in China.
    Gcj02,
    /// Baidu's offset on top of GCJ-02.
    Bd09,
}

/// How a case's grid was found, recorded on `CaseFiled` (absent in events written
/// before it existed: the grid, if any, was given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum GridFound {
    /// The filing named the grid.
    Given,
    /// The point lies inside the grid's boundary.
    Coordinates,
    /// The point lies outside every boundary; this grid's is the nearest, `metres` away.
    Nearest { metres: u32 },
    /// The point lies outside every boundary and beyond the nearest distance: the
    /// district's configured default grid.
    Default,
}

impl GridFound {
    /// For people: `given`, `from coordinates`, `nearest at 48 m`, `district default`.
    pub fn describe(&self) -> String {
        match self {
            Self::Given => "given".into(),
            Self::Coordinates => "from coordinates".into(),
            Self::Nearest { metres } => format!("nearest at {metres} m"),
            Self::Default => "district default".into(),
        }
    }
}

/// A WGS 84 point in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wgs84 {
    pub lat: f64,
    pub long: f64,
}

/// Why a point cannot be read; names the member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PointError {
    pub field: &'static str,
    pub reason: String,
}

/// Decimal degrees as written (`"30.7512"`, `"-120"`; a sign, at most 3 whole and 15
/// fraction digits), within ±`max`. The one reader of degrees (API and Open311).
pub fn parse_degrees(field: &'static str, text: &str, max: u32) -> Result<f64, PointError> {
    let fail = || PointError {
        field,
        reason: format!("{text:?} is not decimal degrees between -{max} and {max}"),
    };
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let well_formed = !whole.is_empty()
        && whole.len() <= 3
        && fraction.len() <= 15
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit());
    let value: f64 = text
        .strip_prefix('+')
        .unwrap_or(text)
        .parse()
        .ok()
        .filter(|_| well_formed)
        .ok_or_else(fail)?;
    if value.abs() > f64::from(max) {
        return Err(fail());
    }
    Ok(value)
}

const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;
const X_PI: f64 = std::f64::consts::PI * 3000.0 / 180.0;

/// GCJ-02 applies only inside China; elsewhere it equals WGS 84.
fn outside_china(p: Wgs84) -> bool {
    !(72.004..=137.8347).contains(&p.long) || !(0.8293..=55.8271).contains(&p.lat)
}

fn offset(p: Wgs84) -> Wgs84 {
    use std::f64::consts::PI;
    let (x, y) = (p.long - 105.0, p.lat - 35.0);
    let common = (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    let mut dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    dlat += common;
    dlat += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    dlat += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    let mut dlong = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    dlong += common;
    dlong += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    dlong += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    let rad = p.lat / 180.0 * PI;
    let magic = 1.0 - EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    Wgs84 {
        lat: dlat * 180.0 / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI),
        long: dlong * 180.0 / (A / sqrt_magic * rad.cos() * PI),
    }
}

/// WGS 84 → GCJ-02 (what a Chinese map SDK shows for a GPS point).
pub fn wgs84_to_gcj02(p: Wgs84) -> Wgs84 {
    if outside_china(p) {
        return p;
    }
    let d = offset(p);
    Wgs84 {
        lat: p.lat + d.lat,
        long: p.long + d.long,
    }
}

/// GCJ-02 → WGS 84, by fixed-point iteration of the forward transform (error < 1 mm).
pub fn gcj02_to_wgs84(g: Wgs84) -> Wgs84 {
    let mut w = g;
    for _ in 0..20 {
        let there = wgs84_to_gcj02(w);
        let (dlat, dlong) = (g.lat - there.lat, g.long - there.long);
        w.lat += dlat;
        w.long += dlong;
        if dlat.abs() < 1e-10 && dlong.abs() < 1e-10 {
            break;
        }
    }
    w
}

/// GCJ-02 → BD-09.
pub fn gcj02_to_bd09(g: Wgs84) -> Wgs84 {
    let (x, y) = (g.long, g.lat);
    let z = (x * x + y * y).sqrt() + 0.000_02 * (y * X_PI).sin();
    let theta = y.atan2(x) + 0.000_003 * (x * X_PI).cos();
    Wgs84 {
        lat: z * theta.sin() + 0.006,
        long: z * theta.cos() + 0.0065,
    }
}

/// BD-09 → GCJ-02.
pub fn bd09_to_gcj02(b: Wgs84) -> Wgs84 {
    let (x, y) = (b.long - 0.0065, b.lat - 0.006);
    let z = (x * x + y * y).sqrt() - 0.000_02 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000_003 * (x * X_PI).cos();
    Wgs84 {
        lat: z * theta.sin(),
        long: z * theta.cos(),
    }
}

impl CoordinateSystem {
    /// The WGS 84 point of `p` given in this system.
    pub fn to_wgs84(self, p: Wgs84) -> Wgs84 {
        match self {
            Self::Wgs84 => p,
            Self::Gcj02 => gcj02_to_wgs84(p),
            Self::Bd09 => gcj02_to_wgs84(bd09_to_gcj02(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roughly metres between two nearby points.
    fn metres(a: Wgs84, b: Wgs84) -> f64 {
        let k = 111_320.0;
        let dy = (a.lat - b.lat) * k;
        let dx = (a.long - b.long) * k * a.lat.to_radians().cos();
        (dx * dx + dy * dy).sqrt()
    }

    #[test]
    fn gcj02_and_bd09_round_trip_to_the_same_wgs84_point() {
        let p = Wgs84 {
            lat: 30.7553,
            long: 120.7655,
        };
        let gcj = wgs84_to_gcj02(p);
        // The GCJ-02 offset around Jiaxing is a few hundred metres.
        assert!((200.0..800.0).contains(&metres(p, gcj)), "{gcj:?}");
        assert!(metres(CoordinateSystem::Gcj02.to_wgs84(gcj), p) < 0.01);
        let bd = gcj02_to_bd09(gcj);
        assert!(metres(bd, gcj) > 500.0, "{bd:?}");
        assert!(metres(CoordinateSystem::Bd09.to_wgs84(bd), p) < 0.5);
        assert_eq!(CoordinateSystem::Wgs84.to_wgs84(p), p);
    }

    #[test]
    fn the_offset_matches_the_published_reference_values() {
        // The reference pairs of the widely used eviltransform library (WGS 84 → GCJ-02).
        for (lat, long, glat, glong) in [
            (
                31.177_427_6,
                121.527_210_6,
                31.175_303_983_645_97,
                121.531_541_859_215,
            ),
            (
                22.543_847,
                113.912_316,
                22.540_796_131_694_766,
                113.917_176_480_836_3,
            ),
            (
                39.911_954,
                116.377_817,
                39.913_345_455_360_69,
                116.384_047_224_556_57,
            ),
        ] {
            let gcj = wgs84_to_gcj02(Wgs84 { lat, long });
            assert!((gcj.lat - glat).abs() < 1e-5, "{gcj:?}");
            assert!((gcj.long - glong).abs() < 1e-5, "{gcj:?}");
        }
    }

    #[test]
    fn outside_china_gcj02_is_wgs84() {
        let p = Wgs84 {
            lat: 51.5,
            long: -0.12,
        };
        assert_eq!(wgs84_to_gcj02(p), p);
    }

    #[test]
    fn degrees_are_decimal_strings_within_range() {
        assert_eq!(parse_degrees("lat", "30.7512", 90), Ok(30.7512));
        assert_eq!(parse_degrees("long", "-120", 180), Ok(-120.0));
        assert_eq!(parse_degrees("lat", "+30.5", 90), Ok(30.5));
        for bad in [
            "",
            "abc",
            "1e5",
            ".5",
            "91",
            "90.01",
            "30.1234567890123456",
            "NaN",
        ] {
            let e = parse_degrees("lat", bad, 90).unwrap_err();
            assert_eq!(e.field, "lat", "{bad}");
        }
    }
}

//! The compiled plan against libphonenumber's own example numbers (vectors.tsv,
//! generated with the plan from the same pinned metadata).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use crate::error::Error;
use crate::phone::{calling_code_for_country, is_known_country, parse_phone};

const VECTORS: &str = include_str!("vectors.tsv");

/// One line of vectors.tsv.
struct Vector<'a> {
    line: usize,
    kind: &'a str,
    input: &'a str,
    country_iso: Option<&'a str>,
    e164: &'a str,
    /// `None`: libphonenumber gives no region (an invalid number of a shared code).
    region: Option<&'a str>,
    number_type: &'a str,
}

fn vectors() -> impl Iterator<Item = Vector<'static>> {
    VECTORS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "vectors.tsv:{}: {l}", i + 1);
            let dash = |s: &'static str| (s != "-").then_some(s);
            Vector {
                line: i + 1,
                kind: f[0],
                input: f[1],
                country_iso: dash(f[2]),
                e164: f[3],
                region: dash(f[4]),
                number_type: f[5],
            }
        })
}

/// The vectors (input, countryIso) the core reads otherwise than libphonenumber,
/// on purpose, each with the reason. Every other vector must match exactly (and
/// the README's "Numbering plan" section lists these).
const DIFFERENCES: &[(&str, Option<&str>, &str)] = &[
    (
        "+989601",
        None,
        "E.164 numbers have 7 digits or more: Iran's 4-digit UAN numbers are \
         PhoneNumberTooShort (2020, like every invalid number), not uan",
    ),
    ("09601", Some("IR"), "as +989601"),
    (
        "310-1234",
        Some("DM"),
        "local dialling: a 7-digit NANP number is not completed with the area code of \
         the given country (libphonenumber's transform rule for DM: +1 767 310 1234); \
         it reads +1 310 1234, whose country the digits decide (a Canadian UAN, never \
         sent to)",
    ),
];

fn deliberate(v: &Vector<'_>) -> Option<&'static str> {
    DIFFERENCES
        .iter()
        .find(|&&(input, iso, _)| input == v.input && iso == v.country_iso)
        .map(|&(_, _, why)| why)
}

#[test]
fn every_deliberate_difference_is_in_the_vectors_and_differs() {
    for &(input, iso, why) in DIFFERENCES {
        assert!(!why.is_empty());
        let v = vectors()
            .find(|v| v.input == input && v.country_iso == iso)
            .unwrap_or_else(|| panic!("{input:?} {iso:?} is in no vector"));
        let same = parse_phone(v.input, v.country_iso)
            .is_ok_and(|p| p.e164() == v.e164 && p.number_type().as_str() == v.number_type);
        assert!(
            !same,
            "{input:?} {iso:?} no longer differs: drop it from DIFFERENCES"
        );
    }
}

#[test]
fn the_streams_decode_exactly() {
    let (plan, exact) = Plan::decode();
    assert!(exact, "a stream was not read exactly to its end");
    assert_eq!(plan.out.len(), data::NODE_COUNT);
    assert_eq!(plan.leaves.len(), data::LEAF_COUNT);
    assert_eq!(plan.roots.len(), data::CALLING_CODES.len());
    assert!(plan.out.len() < usize::from(LEAF));
    for next in &plan.next {
        for &n in next {
            assert!(n & LEAF != 0 || usize::from(n) < plan.out.len());
            assert!(n & LEAF == 0 || usize::from(n & !LEAF) < plan.leaves.len());
        }
    }
    for &out in &plan.out {
        assert!(usize::from(out) < data::OUTPUTS.len());
    }
}

#[test]
fn calling_codes_are_sorted_and_their_regions_known() {
    assert!(data::CALLING_CODES.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(data::REGION_STARTS.len(), data::CALLING_CODES.len() + 1);
    assert_eq!(
        data::REGION_STARTS.last().map(|&n| usize::from(n) * 2),
        Some(data::REGIONS.len())
    );
    for (code, regions) in calling_codes() {
        assert!(!regions.is_empty(), "+{code}");
        for &iso in &regions {
            if iso == NON_GEOGRAPHIC_REGION {
                assert_eq!(regions.len(), 1, "+{code}");
            } else {
                assert!(is_known_country(iso), "{iso}");
                assert_eq!(calling_code_for_country(iso), Some(code), "{iso}");
            }
        }
    }
    let most = calling_codes().map(|(_, r)| r.len()).max();
    for &(region, _) in data::OUTPUTS {
        assert!(Some(usize::from(region)) < most);
    }
    assert_eq!(METADATA_VERSION, "9.0.43");
}

#[test]
fn number_type_names_round_trip() {
    for t in NumberType::ALL {
        assert_eq!(NumberType::from_name(t.as_str()), Some(t));
    }
    assert_eq!(NumberType::from_name("Mobile"), None);
    assert_eq!(NumberType::from_name("fixed_line"), None);
}

#[test]
fn every_example_number_is_read_as_libphonenumber_reads_it() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for v in vectors() {
        if deliberate(&v).is_some() {
            continue;
        }
        checked += 1;
        let got = parse_phone(v.input, v.country_iso);
        let refused_as_invalid = matches!(
            got,
            Err(Error::PhoneNumberTooShort | Error::PhoneNumberTooLong)
        );
        let ok = match &got {
            // libphonenumber's invalid examples may be too short for E.164 at all.
            _ if v.number_type == "unknown" && refused_as_invalid => true,
            Ok(p) => {
                p.e164() == v.e164
                    && p.number_type().as_str() == v.number_type
                    && v.region.is_none_or(|r| p.country_iso() == r)
                    && (v.number_type != "unknown") == p.is_valid()
            }
            Err(_) => false,
        };
        if !ok {
            failures.push(format!(
                "vectors.tsv:{} {} {:?} {:?}: want {} {:?} {}, got {:?}",
                v.line,
                v.kind,
                v.input,
                v.country_iso,
                v.e164,
                v.region,
                v.number_type,
                got.as_ref()
                    .map(|p| (p.e164(), p.country_iso(), p.number_type().as_str()))
            ));
        }
    }
    assert!(checked > 3000, "only {checked} vectors");
    assert!(
        failures.is_empty(),
        "{} of {checked} vectors differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_region_has_example_numbers_and_an_invalid_one() {
    let mut national = std::collections::BTreeSet::new();
    let mut invalid = std::collections::BTreeSet::new();
    let mut non_geographic = 0;
    for v in vectors() {
        match (v.kind, v.country_iso) {
            ("national", Some(iso)) => {
                national.insert(iso);
            }
            ("invalid", Some(iso)) => {
                invalid.insert(iso);
            }
            ("valid", _) if v.region == Some(NON_GEOGRAPHIC_REGION) => non_geographic += 1,
            _ => {}
        }
    }
    assert_eq!(national.len(), 245);
    assert_eq!(invalid.len(), 245);
    assert!(non_geographic >= 9, "{non_geographic}");
}

//! What each feature costs in the worker's wasm (BENCHMARKS.md, "Worker size by
//! feature"): reads a wasm file whose name section has v0-mangled Rust symbols
//! (`scripts/size-by-feature.sh` builds one), demangles every function name and
//! sums the code of each function under the feature its name belongs to.
//!
//! `cargo run --release -p otp-bench --bin wasm_size -- <named.wasm> [shipped.wasm]`
//!
//! With `WASM_SIZE_TOP=N` it also prints, to stderr, the N largest functions with
//! their raw size and feature: where to look for what to take off.
//!
//! The attribution is made on rustc's output (before wasm-bindgen and wasm-opt, whose
//! inlining folds most of the request path into one function), and each feature's
//! share is then applied to the shipped code's gzipped size.
//!
//! A function belongs to the first module of ours that its demangled name mentions,
//! generic arguments included: `serde_json::de::from_str::<otp_core::fraud::RangeState>`
//! is the fraud guard's, and a `future_to_promise` over the shard's `fetch` is the
//! shard's. Code that the optimizer inlined counts where it was inlined, so a
//! figure is what the feature's entry points compile to, callees included unless
//! they stayed separate functions. Functions that name none of our modules go to
//! their crate. Each feature's "gzip" is its functions' bodies compressed together
//! (deflate, level 9), scaled so that the column sums to the shipped code section
//! compressed on its own: the share of the upload that the feature is.

use std::collections::BTreeMap;
use std::io::Write;

const CALLBACKS: &str = "Status callbacks and their delivery log";

/// Which feature a module path of ours belongs to; first match wins.
const FEATURES: &[(&str, &str)] = &[
    (
        "otp_worker::api::admin::session",
        "Console: sign-in sessions",
    ),
    (
        "otp_worker::api::admin::console",
        "Console: admin endpoints",
    ),
    ("otp_worker::console", "Console: admin endpoints"),
    ("otp_worker::api::admin::insights", "Insights (D1)"),
    ("otp_worker::api::admin::webhooks", CALLBACKS),
    ("otp_worker::insights", "Insights (D1)"),
    ("otp_worker::api::admin::fraud", "Fraud guard"),
    ("otp_worker::fraud", "Fraud guard"),
    ("otp_core::fraud", "Fraud guard"),
    ("otp_core::app_policy", "Fraud guard"),
    ("otp_worker::turnstile", "Fraud guard"),
    ("otp_worker::api::admin", "Admin API (apps, settings)"),
    ("otp_worker::apps", "Admin API (apps, settings)"),
    ("otp_worker::api::dexatel", "Dexatel dialect"),
    ("otp_worker::api::smscx", "SMS.CX dialect"),
    ("otp_worker::api::dlr", "Gateways: delivery receipts"),
    (
        "otp_worker::gateway::receipts",
        "Gateways: delivery receipts",
    ),
    (
        "otp_worker::gateway::delivery",
        "Gateways: delivery receipts",
    ),
    (
        "otp_worker::gateway",
        "Gateways: providers, routes, failover",
    ),
    ("otp_worker::callback", CALLBACKS),
    ("otp_worker::signing", CALLBACKS),
    ("otp_worker::webhook_log", CALLBACKS),
    ("otp_core::webhook", CALLBACKS),
    ("otp_core::numbering", "Core: numbering plan"),
    ("otp_core::recipient", "Core: numbering plan"),
    ("otp_worker::service", "Service: shards, admission, records"),
    ("otp_worker::limiter", "Service: shards, admission, records"),
    ("otp_worker::durable", "Service: shards, admission, records"),
    ("otp_worker::recent", "Service: shards, admission, records"),
    ("otp_worker::soon", "Service: shards, admission, records"),
    (
        "otp_worker::api::common",
        "Service: shards, admission, records",
    ),
    ("otp_worker::demo", "Demo and static assets"),
    ("otp_worker::assets", "Demo and static assets"),
    ("otp_worker", "Worker: routing, HTTP, JSON, config"),
    (
        "otp_core",
        "Core: PINs, templates, parts, settings, state machine",
    ),
];

/// Crates of functions that name none of our modules.
const CRATES: &[(&str, &str)] = &[
    ("serde_json::", "serde_json and serde (runtime)"),
    ("serde_core::", "serde_json and serde (runtime)"),
    ("serde::", "serde_json and serde (runtime)"),
    ("serde_wasm_bindgen::", "workers-rs, wasm-bindgen, js-sys"),
    ("worker::", "workers-rs, wasm-bindgen, js-sys"),
    ("js_sys::", "workers-rs, wasm-bindgen, js-sys"),
    ("wasm_bindgen", "workers-rs, wasm-bindgen, js-sys"),
    ("web_sys::", "workers-rs, wasm-bindgen, js-sys"),
    ("__wbindgen", "workers-rs, wasm-bindgen, js-sys"),
    ("url::", "url and idna (under workers-rs)"),
    ("idna::", "url and idna (under workers-rs)"),
    ("sha2::", "Hashes, HMAC, base64"),
    ("sha1::", "Hashes, HMAC, base64"),
    ("hmac::", "Hashes, HMAC, base64"),
    ("digest::", "Hashes, HMAC, base64"),
    ("base64::", "Hashes, HMAC, base64"),
];

fn feature_of(name: &str) -> &'static str {
    // The first of our module paths in the name, wherever it is.
    let ours = ["otp_worker::", "otp_core::"]
        .iter()
        .filter_map(|p| name.find(p))
        .min()
        .map(|at| &name[at..]);
    if let Some(path) = ours {
        for (prefix, feature) in FEATURES {
            if path.starts_with(prefix) {
                return feature;
            }
        }
    }
    let bare = name
        .trim_start_matches(['<', '&', ' '])
        .trim_start_matches("mut ");
    for (prefix, feature) in CRATES {
        if bare.starts_with(prefix) {
            return feature;
        }
    }
    "Rust std: alloc, fmt, collections, panics"
}

/// A wasm module's sections of interest.
#[derive(Default)]
struct Module<'a> {
    imported_functions: u32,
    bodies: Vec<&'a [u8]>,
    names: BTreeMap<u32, String>,
    data: &'a [u8],
    code: &'a [u8],
}

fn leb(bytes: &[u8], at: &mut usize) -> u32 {
    let (mut value, mut shift) = (0u32, 0);
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= u32::from(byte & 0x7f) << shift;
        shift += 7;
        if byte < 0x80 {
            return value;
        }
    }
}

fn skip_name(bytes: &[u8], at: &mut usize) {
    let len = leb(bytes, at) as usize;
    *at += len;
}

fn skip_limits(bytes: &[u8], at: &mut usize) {
    let flags = leb(bytes, at);
    leb(bytes, at);
    if flags & 1 != 0 {
        leb(bytes, at);
    }
}

fn parse(bytes: &[u8]) -> Module<'_> {
    assert!(bytes.starts_with(b"\0asm"), "not a wasm file");
    let mut module = Module::default();
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        at += 1;
        let size = leb(bytes, &mut at) as usize;
        let section = &bytes[at..at + size];
        let mut i = 0;
        match id {
            2 => {
                for _ in 0..leb(section, &mut i) {
                    skip_name(section, &mut i);
                    skip_name(section, &mut i);
                    let kind = section[i];
                    i += 1;
                    match kind {
                        0 => {
                            leb(section, &mut i);
                            module.imported_functions += 1;
                        }
                        1 => {
                            i += 1;
                            skip_limits(section, &mut i);
                        }
                        2 => skip_limits(section, &mut i),
                        3 => i += 2,
                        _ => {
                            i += 1;
                            leb(section, &mut i);
                        }
                    }
                }
            }
            10 => {
                module.code = section;
                for _ in 0..leb(section, &mut i) {
                    let len = leb(section, &mut i) as usize;
                    module.bodies.push(&section[i..i + len]);
                    i += len;
                }
            }
            11 => module.data = section,
            0 => {
                let len = leb(section, &mut i) as usize;
                if &section[i..i + len] == b"name" {
                    i += len;
                    while i < section.len() {
                        let sub = section[i];
                        i += 1;
                        let sub_size = leb(section, &mut i) as usize;
                        let end = i + sub_size;
                        if sub == 1 {
                            for _ in 0..leb(section, &mut i) {
                                let index = leb(section, &mut i);
                                let len = leb(section, &mut i) as usize;
                                let name = String::from_utf8_lossy(&section[i..i + len]);
                                module.names.insert(index, name.into_owned());
                                i += len;
                            }
                        }
                        i = end;
                    }
                }
            }
            _ => {}
        }
        at += size;
    }
    module
}

fn deflated(bytes: &[u8]) -> usize {
    miniz_oxide::deflate::compress_to_vec(bytes, 9).len()
}

fn kib(bytes: f64) -> String {
    format!("{:.1}", bytes / 1024.0)
}

/// Whether a function is serde's, by its name: a (de)serialize impl, a visitor or
/// a (de)serializer method instantiated for a type.
fn is_serde(name: &str) -> bool {
    [
        "serde_core::de::",
        "serde_core::ser::",
        "serde_json::de::",
        "serde_json::ser::",
        "serde::private::",
    ]
    .iter()
    .any(|p| name.contains(p))
}

/// The name without crate disambiguators (`core[c5930c85a12de822]::…`), which
/// wasm-bindgen's demangling keeps.
fn without_disambiguators(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let hash = rest[open + 1..].split(']').next().unwrap_or("");
        let is_hash = !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit());
        let end = if is_hash {
            open + hash.len() + 2
        } else {
            open + 1
        };
        out.push_str(&rest[..if is_hash { open } else { end }]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: wasm_size <named.wasm> [shipped.wasm]");
        std::process::exit(2);
    };
    let bytes = std::fs::read(path).expect("read the wasm file");
    let module = parse(&bytes);
    assert!(!module.names.is_empty(), "{path} has no name section");

    let mut features: BTreeMap<&str, (usize, Vec<u8>)> = BTreeMap::new();
    // Across features: what serde derives for our types (their Serialize and
    // Deserialize impls, visitors and field matchers).
    let mut serde_ours = (0usize, Vec::new());
    let mut largest: Vec<(usize, String)> = Vec::new();
    for (k, body) in module.bodies.iter().enumerate() {
        let index = module.imported_functions + k as u32;
        let name = module.names.get(&index).map(String::as_str).unwrap_or("");
        let demangled = without_disambiguators(&format!("{:#}", rustc_demangle::demangle(name)));
        let ours = demangled.contains("otp_worker::") || demangled.contains("otp_core::");
        if ours && is_serde(&demangled) {
            serde_ours.0 += body.len();
            serde_ours.1.extend_from_slice(body);
        }
        let entry = features.entry(feature_of(&demangled)).or_default();
        entry.0 += body.len();
        entry.1.extend_from_slice(body);
        largest.push((body.len(), demangled));
    }
    if let Some(top) = std::env::var("WASM_SIZE_TOP")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        largest.sort_by_key(|f| std::cmp::Reverse(f.0));
        for (len, name) in largest.iter().take(top) {
            eprintln!("{len:>8}  {:<40}  {name}", feature_of(name));
        }
    }
    // The shares are of the shipped code when it is given (names stripped, after
    // wasm-opt), else of this file's.
    let shipped_bytes = args
        .get(1)
        .map(|p| std::fs::read(p).expect("read the shipped wasm"));
    let shipped = shipped_bytes.as_deref().map(parse);
    let reference = shipped.as_ref().unwrap_or(&module);
    let code_gz = deflated(reference.code) as f64;
    let mut rows: Vec<(&str, usize, usize)> = features
        .iter()
        .map(|(f, (raw, body))| (*f, *raw, deflated(body)))
        .collect();
    let sum_gz: usize = rows.iter().map(|r| r.2).sum();
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));

    let mut out = std::io::stdout().lock();
    let total_raw: usize = rows.iter().map(|r| r.1).sum();
    writeln!(
        out,
        "| Feature | Code before wasm-opt, raw KiB | Share of the shipped code, gzip KiB |"
    )
    .unwrap();
    writeln!(out, "| --- | --- | --- |").unwrap();
    for (feature, raw, gz) in &rows {
        let share = code_gz * *gz as f64 / sum_gz as f64;
        let percent = 100.0 * share / code_gz;
        writeln!(
            out,
            "| {feature} | {} | {} ({percent:.0}%) |",
            kib(*raw as f64),
            kib(share)
        )
        .unwrap();
    }
    writeln!(
        out,
        "| **Code section** | {} | {} |",
        kib(total_raw as f64),
        kib(code_gz)
    )
    .unwrap();
    let serde_share = code_gz * deflated(&serde_ours.1) as f64 / sum_gz as f64;
    writeln!(
        out,
        "| *Across the features above: serde code derived for our types* | *{}* | *{} ({:.0}%)* |",
        kib(serde_ours.0 as f64),
        kib(serde_share),
        100.0 * serde_share / code_gz
    )
    .unwrap();
    writeln!(
        out,
        "| Data section (numbering plan, texts, SQL; not split) | {} | {} |",
        kib(module.data.len() as f64),
        kib(deflated(reference.data) as f64)
    )
    .unwrap();
}

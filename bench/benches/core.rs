//! Criterion benchmarks of otp-core, natively. IDs are `group/name`; scripts/bench.sh
//! reads criterion's estimates by these IDs and prints them next to the wasm figures
//! of the same operations (bench/wasm.mjs), so keep the two lists in step.
#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use otp_bench::{fixtures, pair, pending_record, pin_of};
use otp_core::otp::plan_otp;
use otp_core::phone::parse_phone;
use otp_core::pin::{generate_pin, PinType};
use otp_core::recipient::check_recipient;
use otp_core::rng::{OsRandom, SeededRandom};
use otp_core::sms::count_parts;
use otp_core::template::{render, TemplateVars};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let f = fixtures();

    let mut g = c.benchmark_group("pin");
    for (name, kind) in [
        ("numbers", PinType::Numbers),
        ("letters", PinType::Letters),
        ("alphanumeric", PinType::Alphanumeric),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| generate_pin(&mut OsRandom, black_box(kind), black_box(f.pin_length)))
        });
    }
    g.finish();

    let vars = TemplateVars {
        pin: &f.pin,
        ttl_seconds: f.ttl_seconds,
        brand: &f.brand,
        webotp_domain: Some(&f.webotp_domain),
    };
    let mut g = c.benchmark_group("template");
    g.bench_function("render", |b| {
        b.iter(|| render(black_box(&f.template), black_box(&vars)))
    });
    g.finish();

    let mut g = c.benchmark_group("sms");
    g.bench_function("gsm7", |b| b.iter(|| count_parts(black_box(&f.sms_gsm7))));
    g.bench_function("ucs2", |b| b.iter(|| count_parts(black_box(&f.sms_ucs2))));
    g.finish();

    let mut g = c.benchmark_group("phone");
    g.bench_function("e164", |b| {
        b.iter(|| parse_phone(black_box(&f.phone_e164), None))
    });
    let (national, iso) = &f.phone_national;
    g.bench_function("national", |b| {
        b.iter(|| parse_phone(black_box(national), Some(iso)))
    });
    // Parse, classify by the numbering plan (+1: one automaton for 25 regions) and
    // decide whether an OTP SMS may go there: what an API does per request.
    g.bench_function("recipient", |b| {
        b.iter(|| {
            let p = parse_phone(black_box("+1 201-555-0123"), None).expect("parse_phone");
            check_recipient(&p, &f.settings)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("otp");
    g.bench_function("create", |b| {
        b.iter(|| {
            plan_otp(
                &f.settings,
                black_box(&f.request),
                f.now,
                &mut OsRandom,
                &f.keys,
            )
        })
    });
    let (record, pin) = pending_record(&f);
    g.bench_function("verify", |b| {
        b.iter_batched_ref(
            || record.clone(),
            |r| r.verify(Some(black_box(&pin)), &f.keys, f.now + 1),
            BatchSize::SmallInput,
        )
    });
    // Like-for-like with the wasm build's `pairs` export: a seeded source, no syscall.
    let mut rng = SeededRandom::new(7);
    g.bench_function("create_verify_seeded", |b| {
        b.iter(|| assert!(pair(&f, &mut rng)))
    });
    g.bench_function("create_verify", |b| {
        b.iter(|| {
            let planned =
                plan_otp(&f.settings, &f.request, f.now, &mut OsRandom, &f.keys).expect("plan_otp");
            let mut record = planned.record;
            let v = record.verify(Some(pin_of(&planned.message.text)), &f.keys, f.now + 1);
            assert!(v.result.is_ok());
            record
        })
    });
    g.finish();
}

criterion_group!(core, benches);
criterion_main!(core);

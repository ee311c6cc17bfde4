#![no_main]
//! `cargo fuzz run cpmm`: see `phantom_feeder::fuzz_targets::cpmm`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| phantom_feeder::fuzz_targets::cpmm(data));

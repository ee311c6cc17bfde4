#![no_main]
//! `cargo fuzz run amm_v4`: see `phantom_feeder::fuzz_targets::amm_v4`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| phantom_feeder::fuzz_targets::amm_v4(data));

#![no_main]
//! `cargo fuzz run engine_frame`: see `phantom_feeder::fuzz_targets::engine_frame`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| phantom_feeder::fuzz_targets::engine_frame(data));

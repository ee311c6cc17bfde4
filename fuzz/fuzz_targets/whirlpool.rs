#![no_main]
//! `cargo fuzz run whirlpool`: see `phantom_feeder::fuzz_targets::whirlpool`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| phantom_feeder::fuzz_targets::whirlpool(data));

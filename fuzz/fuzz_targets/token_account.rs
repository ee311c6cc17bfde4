#![no_main]
//! `cargo fuzz run token_account`: see `phantom_feeder::fuzz_targets::token_account`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| phantom_feeder::fuzz_targets::token_account(data));

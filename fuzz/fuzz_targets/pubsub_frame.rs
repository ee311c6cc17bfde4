#![no_main]
//! `cargo fuzz run pubsub_frame`: see `phantom_feeder::fuzz_targets::pubsub_frame`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| phantom_feeder::fuzz_targets::pubsub_frame(data));

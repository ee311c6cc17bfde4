#![no_main]
//! `cargo fuzz run keypair_json`: the signer's keypair file parser (`Keypair::from_json`, the
//! only signer parser of outside bytes that is not TOML through serde). An accepted key's
//! public half is the one derived from its secret, and an error never quotes the input.

use phantom_signer::keypair::Keypair;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Keypair::from_json(text) {
        Ok(k) => {
            let key = k.signing_key();
            assert_eq!(k.pubkey().to_bytes(), key.verifying_key().to_bytes());
        }
        Err(problem) => {
            // Static messages only: no key byte can leak into a log line.
            assert!(!problem.is_empty() && problem.len() < 80);
        }
    }
});

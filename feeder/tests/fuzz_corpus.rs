//! The fuzz targets' seed corpora (`fuzz/seeds/<target>/`, checked in) replayed through the
//! same functions `cargo fuzz` runs (`phantom_feeder::fuzz_targets`), on stable and without
//! libFuzzer: a smoke test of the targets and their invariants in every CI run. Crash
//! reproducers found by fuzzing go into the seeds too, so they stay fixed.
//! (`keypair_json` fuzzes the signer and is not replayed here.)

use phantom_feeder::fuzz_targets::{self, TARGETS};
use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn replay(target: &str) {
    let (_, f) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    let corpus = seeds(target);
    assert!(!corpus.is_empty(), "no seeds for {target}");
    for (path, bytes) in &corpus {
        // Each seed, and a few cheap mutations of it: truncations and a flipped byte.
        let n = bytes.len();
        let mut inputs = vec![bytes.clone(), bytes[..n / 2].to_vec(), Vec::new()];
        if n > 0 {
            inputs.push(bytes[..n - 1].to_vec());
            let mut flipped = bytes.clone();
            flipped[n / 3] ^= 0x5a;
            inputs.push(flipped);
        }
        for input in inputs {
            let r = std::panic::catch_unwind(|| f(&input));
            assert!(
                r.is_ok(),
                "{target} panicked on {} (or a mutation of it, {} bytes)",
                path.display(),
                input.len()
            );
        }
    }
}

#[test]
fn pubsub_frame_corpus() {
    replay("pubsub_frame");
}

#[test]
fn token_account_corpus() {
    replay("token_account");
}

#[test]
fn amm_v4_corpus() {
    replay("amm_v4");
}

#[test]
fn cpmm_corpus() {
    replay("cpmm");
}

#[test]
fn whirlpool_corpus() {
    replay("whirlpool");
}

#[test]
fn engine_frame_corpus() {
    struct Cleanup;
    impl Drop for Cleanup {
        fn drop(&mut self) {
            fuzz_targets::engine_cleanup();
        }
    }
    let _cleanup = Cleanup;
    replay("engine_frame");
    // The harness really reaches the publisher: a pool account and both vaults of its slot,
    // all with the subscription ids the harness confirmed, publish the pool.
    for seed in [
        "amm_v4_pool",
        "cpmm_pool",
        "whirlpool",
        "all_pools_then_slot",
    ] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/seeds/engine_frame")
            .join(seed);
        let s = fuzz_targets::engine_frame_stats(&std::fs::read(&path).unwrap());
        assert_eq!(
            (s.bad_frames, s.decode_errors, s.unknown_subscriptions),
            (0, 0, 0),
            "{seed}: {s:?}"
        );
        assert!(s.published >= 1, "{seed} published nothing: {s:?}");
    }
    let s = fuzz_targets::engine_frame_stats(
        &std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/engine_frame/bad_lines"),
        )
        .unwrap(),
    );
    // The pool's bytes sent as a vault carry the pool program as owner: refused for its
    // owner before they are decoded.
    assert!(
        s.bad_frames >= 2 && s.unknown_subscriptions == 1 && s.owner_refused == 1,
        "{s:?}"
    );
}

#[test]
fn every_target_has_seeds_and_a_fuzz_binary() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (name, _) in TARGETS {
        assert!(!seeds(name).is_empty(), "fuzz/seeds/{name} is empty");
        let bin = root.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(bin.is_file(), "{} is missing", bin.display());
    }
}

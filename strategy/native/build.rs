//! Builds the product's executables (`phantom-feeder`, `phantom-signer`, `phantom-sim`) for
//! the Python package (`phantom_pipeline/bin/`, a link into `target/`), so `pip install .`
//! installs extension and executables in one step. The executables are plain Rust: no Python
//! interpreter is resident in them. See `bins.rs`.

#[path = "bins.rs"]
mod bins;

fn main() {
    let root = bins::workspace_root(2);
    bins::build_into_package(
        &root,
        &["phantom-feeder", "phantom-signer", "phantom-sim"],
        "phantom_pipeline",
        &[
            "Cargo.toml",
            "Cargo.lock",
            "ringbuf/src",
            "ringbuf/Cargo.toml",
            "ringbuf/config",
            "feeder/src",
            "feeder/Cargo.toml",
            "feeder/sim/src",
            "feeder/sim/data",
            "feeder/sim/Cargo.toml",
            "signer/src",
            "signer/Cargo.toml",
        ],
    );
}

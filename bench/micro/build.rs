//! Builds the benchmark executables (`phantom-allrust`, `phantom-ring`,
//! `phantom-feeder-bench`, `phantom-signer-bench`) for the Python package `phantom_bench`
//! (`phantom_bench/bin/`, a link into `target/`), so `pip install ./bench` installs the
//! module and its tools in one step. Shares its build logic with the product's extension.

#[path = "../../strategy/native/bins.rs"]
mod bins;

fn main() {
    let root = bins::workspace_root(2);
    bins::build_into_package(
        &root,
        &[
            "phantom-allrust",
            "phantom-ring",
            "phantom-feeder-bench",
            "phantom-signer-bench",
        ],
        "phantom_bench",
        &[
            "Cargo.toml",
            "Cargo.lock",
            "ringbuf/src",
            "ringbuf/Cargo.toml",
            "ringbuf/config",
            "feeder/src",
            "feeder/Cargo.toml",
            "signer/src",
            "signer/Cargo.toml",
            "signer/tests/data",
            "bench/src",
            "bench/testdata",
            "bench/Cargo.toml",
        ],
    );
}

//! Builds the project's executables (`phantom-ring`, `phantom-sim`, `phantom-signer`,
//! `phantom-feeder`) and puts them inside the Python package (`phantom_pipeline/bin/`), so
//! `pip install .` installs extension and executables in one step (maturin cannot yet put
//! executables beside an extension in one wheel). The executables are plain Rust: no Python
//! interpreter is resident in them.
//!
//! The nested cargo uses its own target dir (`target/bins`), so it never waits on the outer
//! build's lock. Set `PHANTOM_SKIP_BINS=1` to skip it (clippy, `cargo test` of the workspace).

use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGES: [&str; 5] = [
    "phantom-ringbuf",
    "phantom-feeder",
    "phantom-signer",
    "phantom-sim",
    "phantom-allrust",
];

fn main() {
    println!("cargo:rerun-if-env-changed=PHANTOM_SKIP_BINS");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .and_then(Path::parent)
        .expect("ringbuf/pyext is two levels below the workspace root")
        .to_path_buf();
    for dir in [
        "ringbuf/src",
        "feeder/src",
        "signer/src",
        "sim/src",
        "sim/data",
        "allrust/src",
        "config/src",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "ringbuf/Cargo.toml",
        "feeder/Cargo.toml",
        "signer/Cargo.toml",
        "allrust/Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    if std::env::var_os("PHANTOM_SKIP_BINS").is_some_and(|v| v != "0") {
        return;
    }
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target_dir = root.join("target").join("bins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .arg("build")
        .arg("--bins")
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    for p in PACKAGES {
        cmd.arg("-p").arg(p);
    }
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("run the nested cargo build");
    if !out.status.success() {
        panic!(
            "building the phantom executables failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let built = target_dir.join(if release { "release" } else { "debug" });
    let dest = root.join("strategy").join("phantom_pipeline").join("bin");
    std::fs::create_dir_all(&dest).expect("create phantom_pipeline/bin");
    for entry in std::fs::read_dir(&built).expect("list built executables") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_exe = entry.file_type().map(|t| t.is_file()).unwrap_or(false)
            && name.starts_with("phantom-")
            && !name.contains('.');
        if is_exe {
            // Copy to a temp name then rename: a running executable is never overwritten
            // in place.
            let tmp = dest.join(format!(".{name}.tmp"));
            std::fs::copy(entry.path(), &tmp).expect("copy executable");
            std::fs::rename(&tmp, dest.join(&name)).expect("install executable");
        }
    }
}

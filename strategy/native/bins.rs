//! Shared by the build scripts of the product's extension (`strategy/native/build.rs`) and of
//! the benchmark module (`bench/micro/build.rs`): build a set of packages' executables with a
//! nested cargo and place them where the Python package's `bin/` link points.
//!
//! maturin cannot yet put executables beside an extension in one wheel. So each Python
//! package has a committed symbolic link `bin -> ../../target/package-bins/<package>`, which
//! maturin's `include` follows when it writes the wheel; the build script writes only under
//! the workspace's `target/` directory, never into the source tree.
//!
//! The nested cargo uses its own target dir (`target/bins`), so it never waits on the outer
//! build's lock. Set `PHANTOM_SKIP_BINS=1` to skip it (clippy, `cargo test` of the workspace).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root, `levels` directories above the calling crate's manifest.
pub fn workspace_root(levels: usize) -> PathBuf {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    manifest
        .ancestors()
        .nth(levels)
        .expect("the crate sits inside the workspace")
        .to_path_buf()
}

/// Build the workspace executables `executables` (their `[[bin]]` names) and install them into
/// `ROOT/target/package-bins/<python_package>/`. `watch` lists the directories and files
/// (relative to the root) whose change must rebuild them.
pub fn build_into_package(root: &Path, executables: &[&str], python_package: &str, watch: &[&str]) {
    println!("cargo:rerun-if-env-changed=PHANTOM_SKIP_BINS");
    for path in watch {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    if std::env::var_os("PHANTOM_SKIP_BINS").is_some_and(|v| v != "0") {
        return;
    }
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target_dir = root.join("target").join("bins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .arg("build")
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    for name in executables {
        cmd.arg("--bin").arg(name);
    }
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("run the nested cargo build");
    if !out.status.success() {
        panic!(
            "building the executables {executables:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let built = target_dir.join(if release { "release" } else { "debug" });
    let dest = root
        .join("target")
        .join("package-bins")
        .join(python_package);
    std::fs::create_dir_all(&dest).expect("create the package-bins directory");
    for name in executables {
        // Copy to a temp name then rename: a running executable is never overwritten in place.
        let tmp = dest.join(format!(".{name}.tmp"));
        std::fs::copy(built.join(name), &tmp)
            .unwrap_or_else(|e| panic!("copy {name} from {}: {e}", built.display()));
        std::fs::rename(&tmp, dest.join(name)).expect("install executable");
    }
}

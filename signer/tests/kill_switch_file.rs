//! The kill-switch file fails closed: anything but "provably absent" is "on".

use phantom_signer::engine::kill_file_on;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::PathBuf;

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("phantom-killfile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

#[test]
fn absent_file_in_a_real_directory_is_off_and_a_present_one_is_on() {
    let d = scratch("plain");
    let f = d.join("KILL");
    assert!(!kill_file_on(&f));
    std::fs::write(&f, b"").expect("create");
    assert!(kill_file_on(&f));
    std::fs::remove_file(&f).expect("remove");
    assert!(!kill_file_on(&f));
    std::fs::create_dir(&f).expect("a directory counts too");
    assert!(kill_file_on(&f));
    std::fs::remove_dir_all(&d).expect("cleanup");
}

#[test]
fn dangling_symlink_is_on() {
    let d = scratch("dangling");
    let f = d.join("KILL");
    symlink(d.join("nowhere"), &f).expect("symlink");
    assert!(kill_file_on(&f), "a dangling symlink must read as on");
    std::fs::remove_dir_all(&d).expect("cleanup");
}

#[test]
fn missing_or_mistyped_directory_is_on() {
    let d = scratch("missing");
    assert!(kill_file_on(&d.join("no-such-dir").join("KILL")));
    let file = d.join("a-file");
    std::fs::write(&file, b"").expect("create");
    assert!(
        kill_file_on(&file.join("KILL")),
        "a file where the directory should be"
    );
    std::fs::remove_dir_all(&d).expect("cleanup");
}

#[test]
fn unsearchable_directory_is_on() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: root ignores directory permissions");
        return;
    }
    let d = scratch("perm");
    let inner = d.join("locked");
    std::fs::create_dir(&inner).expect("mkdir");
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let on = kill_file_on(&inner.join("KILL"));
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700)).expect("chmod back");
    std::fs::remove_dir_all(&d).expect("cleanup");
    assert!(on, "a permission error must read as on");
}

#[test]
fn unresolvable_path_is_on() {
    // Errors other than "not found" (here ELOOP and ENAMETOOLONG) work even as root.
    let d = scratch("loop");
    let lp = d.join("loop");
    symlink(&lp, &lp).expect("self-referencing symlink");
    assert!(
        kill_file_on(&lp.join("KILL")),
        "a symlink loop must read as on"
    );
    let long = d.join("x".repeat(300));
    assert!(
        kill_file_on(&long),
        "a name too long to check must read as on"
    );
    std::fs::remove_dir_all(&d).expect("cleanup");
}

//! `phantom-ring`: the Rust end of ring tests and benchmarks (see `src/tool/ring_tool.rs`).
//! Under `--cfg loom` (model checking builds only the protocol) it is an empty program.

#[cfg(not(loom))]
#[path = "../tool/ring_tool.rs"]
mod ring_tool;

#[cfg(not(loom))]
fn main() -> std::process::ExitCode {
    ring_tool::main()
}

#[cfg(loom)]
fn main() {}

//! `phantom-ring`: the Rust end of ring tests and benchmarks (see `phantom_bench::ring_tool`).

fn main() -> std::process::ExitCode {
    phantom_bench::ring_tool::main()
}

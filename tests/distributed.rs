//! The distributed executor under `mpirun`: `examples/distributed_check` (random DAGs against
//! the sequential executor, arrays against one process, bags, failures, codecs) on 2 and 4
//! ranks. Needs Open MPI's `mpirun` on the PATH (`apt-get install openmpi-bin
//! libopenmpi-dev`); run with `cargo test --release --features distributed --test distributed`.

mod common;

use std::process::Command;

/// Runs the checks on `ranks` processes and asserts that every one passed on every rank.
fn run_on(ranks: usize) {
    let program = common::build_example("distributed_check", &["distributed"]);
    let out = Command::new("mpirun")
        // Each rank has two threads: not bound to one core (Open MPI's default for -np 2).
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "--bind-to",
            "none",
            "-np",
        ])
        .arg(ranks.to_string())
        .arg(&program)
        // One machine, possibly in a container: shared memory and loopback TCP only.
        .env("OMPI_MCA_btl", "self,vader,tcp")
        .env("OMPI_MCA_btl_tcp_if_include", "lo")
        .env("OMPI_MCA_oob_tcp_if_include", "lo")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .output()
        .expect("mpirun on the PATH (apt-get install openmpi-bin libopenmpi-dev)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mpirun -np {ranks} failed:\n{stdout}\n{stderr}"
    );
    // Every check printed "ok", and the summary counts them all.
    let ok = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(
        ok >= 16 && stdout.contains(&format!("{ok} passed, 0 failed")),
        "unexpected summary:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn two_ranks_agree_with_one_process() {
    run_on(2);
}

#[test]
fn four_ranks_agree_with_one_process() {
    run_on(4);
}

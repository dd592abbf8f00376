//! `faultline-madsim`: the cross-check sweeps and the benchmark's runs on madsim.
//!
//!     faultline-madsim check SCENARIO[,SCENARIO...] --seeds A..B
//!     faultline-madsim determinism SCENARIO --seed S
//!     faultline-madsim bench raft|sim --side faultline|madsim [--seed S]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(faultline_madsim::cli::main(&args));
}

//! The command line: `--quick`, `--threads`, `--traces`, and the run lengths
//! that `--quick` shortens.

use std::path::PathBuf;
use std::time::Duration;

use crate::die;

pub struct Options {
    pub quick: bool,
    pub threads: Vec<usize>,
    pub traces: Option<PathBuf>,
    /// One throughput run, and how many runs a cell takes the median of.
    pub cell: Duration,
    pub reps: usize,
    pub core_cell: Duration,
    pub core_reps: usize,
    /// Requests per synthetic hit-ratio workload; requests kept per trace.
    pub synthetic_len: usize,
    pub trace_limit: usize,
}

pub fn options() -> Options {
    let mut quick = false;
    let mut threads = None;
    let mut traces = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--threads" => {
                let list = args.next().unwrap_or_default();
                let parsed: Vec<usize> = list
                    .split(',')
                    .filter_map(|t| t.trim().parse().ok())
                    .collect();
                if parsed.is_empty() || parsed.iter().any(|&t| t == 0 || t > 16) {
                    die(&format!(
                        "--threads takes a list of counts from 1 to 16, like 1,2,4; got {list:?}"
                    ));
                }
                threads = Some(parsed);
            }
            "--traces" => {
                traces = Some(PathBuf::from(
                    args.next().unwrap_or_else(|| die("--traces DIR")),
                ))
            }
            "-h" | "--help" => {
                println!("usage: compare [--quick] [--threads 1,2,4,8] [--traces DIR]");
                std::process::exit(0);
            }
            other => die(&format!("unknown argument {other:?} (try --help)")),
        }
    }
    let traces = traces.or_else(|| {
        let default = PathBuf::from("../shared/traces");
        default.is_dir().then_some(default)
    });
    let threads = threads.unwrap_or_else(|| if quick { vec![1, 2] } else { vec![1, 2, 4, 8] });
    Options {
        quick,
        threads,
        traces,
        cell: Duration::from_millis(if quick { 30 } else { 150 }),
        reps: if quick { 1 } else { 3 },
        core_cell: Duration::from_millis(if quick { 60 } else { 300 }),
        core_reps: if quick { 3 } else { 5 },
        synthetic_len: if quick { 200_000 } else { 1_000_000 },
        trace_limit: if quick { 200_000 } else { usize::MAX },
    }
}

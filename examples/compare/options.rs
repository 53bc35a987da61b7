//! The command line: `--quick`, `--full`, `--threads`, `--traces`,
//! `--anatomy`, and the run lengths that `--quick` and `--full` change.

use std::path::PathBuf;
use std::time::Duration;

use bench_support::contenders::Kind;

use crate::{default_kind, die};

const USAGE: &str =
    "usage: compare [--quick | --full] [--threads 1,2,4,8] [--traces DIR] [--anatomy]

  (default)     about a minute: throughput, hit ratio, memory, latency under a writer
  --quick       a few seconds, for a smoke test (short runs, first 200,000 requests of each trace)
  --full        the long version: more repetitions, longer runs, up to 16 threads, both
                reclamation backends of epoch-cache, mini-moka's hit ratios, whole traces
                (the default replays the first 1,000,000 requests of each)
  --threads     thread counts of the throughput tables (1 to 16 each)
  --traces DIR  replay the trace files in DIR (gzip text, one u64 key a line);
                default ../shared/traces when it exists
  --anatomy     also: where a hit's time goes (pin, lookup), and seize against crossbeam-epoch";

pub struct Options {
    pub quick: bool,
    pub full: bool,
    pub anatomy: bool,
    pub threads: Vec<usize>,
    pub traces: Option<PathBuf>,
    /// The contenders of the throughput, memory and latency sections: one
    /// epoch-cache backend (the default) unless `--full`.
    pub kinds: Vec<Kind>,
    /// One throughput run, and how many runs a cell takes the median of.
    pub cell: Duration,
    pub reps: usize,
    /// One run of the anatomy and backend cells, and how many of them.
    pub core_cell: Duration,
    pub core_reps: usize,
    /// How long `get` latency is recorded per contender.
    pub latency: Duration,
    /// Requests per synthetic hit-ratio workload; requests kept per trace.
    pub synthetic_len: usize,
    pub trace_limit: usize,
}

pub fn options() -> Options {
    let (mut quick, mut full, mut anatomy) = (false, false, false);
    let mut threads = None;
    let mut traces = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--full" => full = true,
            "--anatomy" => anatomy = true,
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
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => die(&format!("unknown argument {other:?} (try --help)")),
        }
    }
    if quick && full {
        die("--quick and --full exclude each other");
    }
    let traces = traces.or_else(|| {
        let default = PathBuf::from("../shared/traces");
        default.is_dir().then_some(default)
    });
    let threads = threads.unwrap_or_else(|| match (quick, full) {
        (true, _) => vec![1, 2],
        (_, true) => vec![1, 2, 4, 8, 16],
        _ => vec![1, 2, 4, 8],
    });
    let kinds = if full {
        Kind::ALL.to_vec()
    } else {
        let other_backend = if default_kind() == Kind::EpochSeize {
            Kind::EpochCrossbeam
        } else {
            Kind::EpochSeize
        };
        Kind::ALL
            .into_iter()
            .filter(|&k| k != other_backend)
            .collect()
    };
    let pick = |quick_ms: u64, default_ms: u64, full_ms: u64| {
        Duration::from_millis(match (quick, full) {
            (true, _) => quick_ms,
            (_, true) => full_ms,
            _ => default_ms,
        })
    };
    Options {
        quick,
        full,
        anatomy,
        threads,
        traces,
        kinds,
        cell: pick(30, 100, 150),
        reps: if full {
            3
        } else if quick {
            1
        } else {
            2
        },
        core_cell: pick(60, 200, 300),
        core_reps: if quick { 3 } else { 5 },
        latency: pick(100, 400, 2_000),
        synthetic_len: match (quick, full) {
            (true, _) => 200_000,
            (_, true) => 1_000_000,
            _ => 500_000,
        },
        // Only p3 is longer (3.9 million requests): most of the run's time.
        trace_limit: match (quick, full) {
            (true, _) => 200_000,
            (_, true) => usize::MAX,
            _ => 1_000_000,
        },
    }
}

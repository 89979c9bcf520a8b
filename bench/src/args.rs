//! The command line of `pse-bench`: one subcommand per phase, each printing one JSON line.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pse-bench",
    about = "The benchmark harness: every phase prints one JSON line on stdout (progress on stderr)",
    after_help = "Environment: BENCH_ADMIN_DATABASE_URL, BENCH_DATABASE (pse_bench), BENCH_AMQP_URL, \
AMQP_NAME_PREFIX (bench.), BENCH_BIN_DIR (this binary's directory), BENCH_LOG_DIR, BENCH_WORK_DIR, \
BENCH_PID_DIR, BENCH_PRODUCT_LOG (info)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe this machine
    Machine,
    /// The bare actix 200 server (HTTP ceiling)
    EchoServer {
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8089")]
        addr: String,
    },
    /// pgbench alone, as a baseline for the database
    Pgbench {
        /// Comma-separated client counts
        #[arg(long, value_delimiter = ',', default_value = "4,8,16")]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 5)]
        secs: u64,
    },
    /// The echo server's throughput with the same generator
    Ceiling {
        /// Comma-separated connection counts
        #[arg(long, value_delimiter = ',', default_value = "4,8,16,32,64")]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 1)]
        warmup: u64,
        #[arg(long, default_value_t = 5)]
        secs: u64,
    },
    /// P1: ingress throughput, pgbench interleaved
    Ingress {
        /// Comma-separated connection counts
        #[arg(long, value_delimiter = ',', default_value = "4,8,16,32,64")]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 1)]
        warmup: u64,
        #[arg(long, default_value_t = 8)]
        secs: u64,
        #[arg(long, default_value = "collection_intent_credited")]
        event_type: String,
    },
    /// P2: ingress latency in an open loop at --rate, or at --fraction of the P1 peak in --results
    #[command(group(clap::ArgGroup::new("load").required(true).args(["rate", "results"])))]
    Latency {
        /// Requests per second
        #[arg(long, value_name = "R")]
        rate: Option<f64>,
        /// The results file holding the ingress phase's line
        #[arg(long, value_name = "FILE")]
        results: Option<String>,
        #[arg(long, default_value_t = 0.5, requires = "results")]
        fraction: f64,
        #[arg(long, default_value_t = 10)]
        secs: u64,
    },
    /// P3, P6: reconciler throughput and memory, then the curve over more in-flight checks
    Reconciler {
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 50)]
        latency_ms: u64,
        /// Comma-separated in-flight levels measured after --concurrency (none: no curve)
        #[arg(long, value_delimiter = ',')]
        curve: Vec<usize>,
        /// Events per curve level
        #[arg(long, default_value_t = 10_000)]
        curve_events: usize,
    },
    /// P7: two webhook-api and two reconciler processes against one of each
    ScaleOut {
        /// Generator connections in total (split over the two webhook-api processes)
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 1)]
        warmup: u64,
        #[arg(long, default_value_t = 5)]
        secs: u64,
        /// Events per reconciler run
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        /// In-flight checks per reconciler process
        #[arg(long, default_value_t = 64)]
        rec_concurrency: usize,
        #[arg(long, default_value_t = 50)]
        latency_ms: u64,
    },
    /// P4: end to end
    E2e {
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        #[arg(long, default_value_t = 20.0)]
        secs: f64,
        #[arg(long, default_value_t = 50)]
        latency_ms: u64,
        #[arg(long, default_value_t = 50.0)]
        baseline_rate: f64,
        #[arg(long, default_value_t = 5.0)]
        baseline_secs: f64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// P5: the CSV report
    Report {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 100_000)]
        small_rows: u64,
    },
    /// VmHWM / VmRSS of a process
    Rss {
        #[arg(long, value_name = "N")]
        pid: u32,
    },
    /// Turn the phases' lines into BENCHMARKS.md and a JSON document
    Render {
        #[arg(long, value_name = "FILE")]
        results: String,
        #[arg(long, value_name = "FILE")]
        machine: String,
        #[arg(long, value_name = "OUT")]
        md: String,
        #[arg(long, value_name = "OUT")]
        json: String,
        #[arg(long, value_parser = ["full", "quick"], default_value = "full")]
        mode: String,
        /// A figures file written by `baseline` (the "before" column of the before/after table)
        #[arg(long, value_name = "FILE")]
        baseline: Option<String>,
    },
    /// Extract the key figures of a rendered results document into a baseline file
    Baseline {
        /// A JSON document written by `render --json` (bench/results.json)
        #[arg(long, value_name = "FILE")]
        from: String,
        #[arg(long, value_name = "OUT")]
        out: String,
        /// What the figures are the baseline of, stored in the file
        #[arg(long, default_value = "issue 13 start")]
        label: String,
    },
    /// Drop the bench database and broker names
    Cleanup,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("pse-bench").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The invocations bench/run.sh and stack.rs make.
    #[test]
    fn parses_what_the_scripts_send() {
        match parse(&[
            "ceiling",
            "--concurrency",
            "8,32",
            "--warmup",
            "0",
            "--secs",
            "1",
        ])
        .unwrap()
        {
            Command::Ceiling {
                concurrency,
                warmup,
                secs,
            } => assert_eq!((concurrency, warmup, secs), (vec![8, 32], 0, 1)),
            other => panic!("{other:?}"),
        }
        match parse(&["ingress"]).unwrap() {
            Command::Ingress {
                concurrency,
                event_type,
                ..
            } => {
                assert_eq!(concurrency, vec![4, 8, 16, 32, 64]);
                assert_eq!(event_type, "collection_intent_credited");
            }
            other => panic!("{other:?}"),
        }
        match parse(&[
            "latency",
            "--results",
            "r.jsonl",
            "--fraction",
            "0.5",
            "--secs",
            "2",
        ])
        .unwrap()
        {
            Command::Latency {
                rate,
                results,
                fraction,
                secs,
            } => assert_eq!(
                (rate, results.as_deref(), fraction, secs),
                (None, Some("r.jsonl"), 0.5, 2)
            ),
            other => panic!("{other:?}"),
        }
        assert!(
            parse(&["latency", "--secs", "2"]).is_err(),
            "needs --rate or --results"
        );
        match parse(&[
            "e2e",
            "--rate",
            "100",
            "--secs",
            "2",
            "--baseline-rate",
            "20",
            "--baseline-secs",
            "1",
            "--latency-ms",
            "50",
        ])
        .unwrap()
        {
            Command::E2e {
                rate,
                secs,
                latency_ms,
                baseline_rate,
                baseline_secs,
                concurrency,
            } => {
                assert_eq!(
                    (
                        rate,
                        secs,
                        latency_ms,
                        baseline_rate,
                        baseline_secs,
                        concurrency
                    ),
                    (100.0, 2.0, 50, 20.0, 1.0, 64)
                );
            }
            other => panic!("{other:?}"),
        }
        match parse(&["echo-server", "--addr", "127.0.0.1:1"]).unwrap() {
            Command::EchoServer { addr } => assert_eq!(addr, "127.0.0.1:1"),
            other => panic!("{other:?}"),
        }
        assert!(
            parse(&[
                "render",
                "--results",
                "a",
                "--machine",
                "b",
                "--md",
                "c",
                "--json",
                "d",
                "--mode",
                "quick"
            ])
            .is_ok()
        );
        assert!(parse(&["render", "--results", "a"]).is_err());
        assert!(parse(&["report", "--rows", "many"]).is_err());
        assert!(parse(&["pgbench", "--secs", "1", "--secs", "2"]).is_err());
        assert!(parse(&["nonsense"]).is_err());
    }

    /// The issue-13 invocations: the P3 curve, P7 and the baseline file.
    #[test]
    fn parses_the_curve_scale_out_and_baseline() {
        match parse(&["reconciler", "--curve", "128,256", "--curve-events", "300"]).unwrap() {
            Command::Reconciler {
                concurrency,
                curve,
                curve_events,
                ..
            } => assert_eq!(
                (concurrency, curve, curve_events),
                (64, vec![128, 256], 300)
            ),
            other => panic!("{other:?}"),
        }
        match parse(&["reconciler"]).unwrap() {
            Command::Reconciler { curve, .. } => assert!(curve.is_empty(), "no curve unless asked"),
            other => panic!("{other:?}"),
        }
        match parse(&[
            "scale-out",
            "--concurrency",
            "8",
            "--events",
            "300",
            "--rec-concurrency",
            "16",
        ])
        .unwrap()
        {
            Command::ScaleOut {
                concurrency,
                events,
                rec_concurrency,
                latency_ms,
                ..
            } => assert_eq!(
                (concurrency, events, rec_concurrency, latency_ms),
                (8, 300, 16, 50)
            ),
            other => panic!("{other:?}"),
        }
        match parse(&[
            "render",
            "--results",
            "a",
            "--machine",
            "b",
            "--md",
            "c",
            "--json",
            "d",
            "--baseline",
            "e",
        ])
        .unwrap()
        {
            Command::Render { baseline, .. } => assert_eq!(baseline.as_deref(), Some("e")),
            other => panic!("{other:?}"),
        }
        assert!(
            parse(&["baseline", "--from", "bench/results.json"]).is_err(),
            "needs --out"
        );
        assert!(parse(&["reconciler", "--curve", "many"]).is_err());
    }
}

//! Starting, watching and stopping the processes a phase needs (the product's
//! release binaries, the sandbox, the echo server), each with its log file,
//! a pid file the run script's trap can use, and its peak RSS and CPU time
//! read from /proc.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::process::{Child, Command};

/// Where binaries, logs and pid files are.
#[derive(Debug, Clone)]
pub struct Spawner {
    pub bin_dir: PathBuf,
    pub log_dir: PathBuf,
    pub pid_dir: Option<PathBuf>,
}

impl Spawner {
    /// Binaries next to this one (`target/release/`), logs under `BENCH_LOG_DIR`
    /// (default `target/bench/logs`), pid files under `BENCH_PID_DIR` if set.
    pub fn from_env() -> Result<Self, String> {
        let bin_dir = match std::env::var("BENCH_BIN_DIR") {
            Ok(d) => PathBuf::from(d),
            Err(_) => std::env::current_exe()
                .map_err(|e| format!("cannot find this executable: {e}"))?
                .parent()
                .map(Path::to_path_buf)
                .ok_or("this executable has no directory")?,
        };
        let log_dir = PathBuf::from(
            std::env::var("BENCH_LOG_DIR").unwrap_or_else(|_| "target/bench/logs".to_owned()),
        );
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
        let pid_dir = std::env::var("BENCH_PID_DIR").ok().map(PathBuf::from);
        if let Some(d) = &pid_dir {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        Ok(Self {
            bin_dir,
            log_dir,
            pid_dir,
        })
    }

    pub fn binary(&self, name: &str) -> Result<PathBuf, String> {
        let p = self.bin_dir.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "{} not found; build with `cargo build --release --bins`",
                p.display()
            ))
        }
    }

    /// Starts `program` (a binary in `bin_dir`) with `env` added to ours;
    /// output goes to `<log_dir>/<name>.log`.
    pub fn spawn(
        &self,
        name: &str,
        program: &str,
        args: &[&str],
        env: &[(String, String)],
    ) -> Result<Proc, String> {
        let path = self.binary(program)?;
        let log_path = self.log_dir.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let err = log
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let mut cmd = Command::new(&path);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let pid = child.id().ok_or("the child exited at once")?;
        let pid_file = self
            .pid_dir
            .as_ref()
            .map(|d| d.join(format!("{name}.{pid}")));
        if let Some(f) = &pid_file {
            let _ = std::fs::write(f, pid.to_string());
        }
        Ok(Proc {
            name: name.to_owned(),
            pid,
            child,
            pid_file,
            log_path,
        })
    }
}

/// A running child process.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    child: Child,
    pid_file: Option<PathBuf>,
    pub log_path: PathBuf,
}

/// Memory and CPU of a process when it was stopped.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
pub struct Usage {
    /// VmHWM: the peak resident set size over the process's life.
    pub peak_rss_kb: u64,
    pub cpu_secs: f64,
}

impl Proc {
    /// Ok while the process runs; an error naming its log once it has exited.
    pub fn alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); last lines of {}:\n{}",
                self.name,
                self.log_path.display(),
                tail(&self.log_path, 15)
            )),
            Err(e) => Err(format!("cannot watch {}: {e}", self.name)),
        }
    }

    pub fn usage(&self) -> Usage {
        Usage {
            peak_rss_kb: status_kb(self.pid, "VmHWM:").unwrap_or(0),
            cpu_secs: crate::cpu::process_ticks(self.pid)
                .map(crate::cpu::ticks_to_secs)
                .unwrap_or(0.0),
        }
    }

    pub fn rss_kb(&self) -> u64 {
        status_kb(self.pid, "VmRSS:").unwrap_or(0)
    }

    /// SIGTERM (the services finish in-flight work and close cleanly), then
    /// SIGKILL after `grace`. Returns the usage read just before the signal.
    pub async fn stop(mut self, grace: Duration) -> Usage {
        let usage = self.usage();
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(grace, self.child.wait())
                .await
                .is_err()
            {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
            }
        }
        if let Some(f) = self.pid_file.take() {
            let _ = std::fs::remove_file(f);
        }
        usage
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // kill_on_drop ends the child; forget its pid file.
        if let Some(f) = self.pid_file.take() {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// A `kB` field of /proc/<pid>/status.
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kb(&text, field)
}

pub fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A free local port (bound then released; the child binds it right after).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Polls `url` until it answers 200, the process exits, or `within` passes.
pub async fn wait_ready(proc: &mut Proc, url: &str, within: Duration) -> Result<(), String> {
    // shared::http::client installs the rustls provider reqwest needs.
    let client = shared::http::client(Duration::from_secs(1), Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        proc.alive()?;
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{} was not ready at {url} within {within:?}; last lines of {}:\n{}",
                proc.name,
                proc.log_path.display(),
                tail(&proc.log_path, 15)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last `lines` lines of a text.
pub fn tail_text(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_fields() {
        let s = "Name:\tx\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(parse_status_kb(s, "VmHWM:"), Some(51234));
        assert_eq!(parse_status_kb(s, "VmRSS:"), Some(40000));
        assert_eq!(parse_status_kb(s, "VmSwap:"), None);
        assert!(status_kb(std::process::id(), "VmHWM:").unwrap() > 0);
    }
}

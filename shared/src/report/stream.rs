//! Running a report on the blocking pool while the caller forwards its output. The
//! database work stays here, behind `Db`, so the HTTP layer never holds a connection.

use tokio::sync::mpsc;

use super::Scope;
use super::output::{Format, write_report};
use crate::db::Db;
use crate::telemetry::ErrorChain;

/// Why a report stopped; the detail is logged here, where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection or a connection-level fault: retrying later may work.
    Unavailable,
    Internal,
}

/// Chunks in flight between the database thread and the response: a slow reader slows
/// the cursor instead of filling memory.
const CHANNEL_CHUNKS: usize = 8;

/// Starts the report and returns its output as it is written. Nothing is sent until the
/// summary is computed and the first rows are read, so a failure there arrives as the
/// first item (a clean error status); only a later batch can fail mid-stream. Dropping
/// the receiver stops the report at its next chunk.
pub fn spawn(db: &Db, scope: Scope, format: Format) -> mpsc::Receiver<Result<Vec<u8>, Failure>> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let db = db.clone();
    tokio::spawn(async move {
        let chunks = tx.clone();
        let written = db
            .run(move |conn| {
                let mut emit = |chunk: Vec<u8>| chunks.blocking_send(Ok(chunk)).is_ok();
                write_report(conn, &scope, format, &mut emit)
            })
            .await;
        match written {
            Ok(rows) => {
                tracing::info!(date = %scope.date, rows, format = format.extension(), "report served")
            }
            Err(e) => {
                tracing::error!(error = %ErrorChain(&e), "report failed");
                let failure = if e.is_unavailable() {
                    Failure::Unavailable
                } else {
                    Failure::Internal
                };
                let _ = tx.send(Err(failure)).await;
            }
        }
    });
    rx
}

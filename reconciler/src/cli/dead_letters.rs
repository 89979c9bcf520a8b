//! `reconciler dead-letters list|replay`: what died, and queuing it again.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use shared::db::dead_letters::{self, Selection};
use shared::telemetry::{self, ErrorChain};

use super::load_config;
use crate::worker;

pub(super) async fn list(all: bool, limit: i64) -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let db = shared::db::Db::new(config.database_url.expose(), 2, Duration::from_secs(5));
    match db
        .run(move |conn| dead_letters::list(conn, !all, limit))
        .await
    {
        Ok(rows) if rows.is_empty() => {
            println!(
                "no dead letters{}",
                if all { "" } else { " waiting for replay" }
            );
            ExitCode::SUCCESS
        }
        Ok(rows) => {
            println!(
                "{:>6}  {:<20}  {:<7}  {:<36}  {:<18}  {:>8}  ERROR",
                "ID", "DEAD AT (UTC)", "PROVIDER", "OBJECT", "REASON", "REPLAYED"
            );
            for r in rows {
                println!(
                    "{:>6}  {:<20}  {:<7}  {:<36}  {:<18}  {:>8}  {}",
                    r.id,
                    r.dead_at.format("%Y-%m-%d %H:%M:%S"),
                    r.provider.as_deref().unwrap_or("-"),
                    r.object_id.as_deref().unwrap_or("-"),
                    r.reason,
                    r.replay_count,
                    r.error.as_deref().unwrap_or("")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "reconciler: cannot read dead letters: {}\nIs DATABASE_URL right and PostgreSQL running?",
                ErrorChain(&e)
            );
            ExitCode::FAILURE
        }
    }
}

pub(super) async fn replay(all: bool, ids: Vec<i64>) -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init("warn", config.log_format);
    let ctx = match worker::context(config, "reconciler-cli").await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("reconciler: {}", ErrorChain(&e));
            return ExitCode::FAILURE;
        }
    };
    let outcome = ctx
        .db
        .run(move |conn| {
            dead_letters::replay(
                conn,
                if all {
                    Selection::AllPending
                } else {
                    Selection::Ids(&ids)
                },
            )
        })
        .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "reconciler: replay failed, nothing was queued: {}",
                ErrorChain(&e)
            );
            return ExitCode::FAILURE;
        }
    };
    println!("queued again: {:?}", outcome.replayed);
    if !outcome.coalesced.is_empty() {
        println!(
            "of which covered by a check already queued for their object: {:?}",
            outcome.coalesced
        );
    }
    if !outcome.skipped.is_empty() {
        println!(
            "skipped (no such dead letter, or already replayed): {:?}",
            outcome.skipped
        );
    }
    if !outcome.unreplayable.is_empty() {
        println!(
            "not replayable (not a check message): {:?}",
            outcome.unreplayable
        );
    }
    // The rows are in the outbox; publish them now rather than waiting for a running service.
    if !outcome.replayed.is_empty() {
        publish_now(&ctx, outcome.messages).await;
    }
    ctx.broker.close().await;
    ExitCode::SUCCESS
}

async fn publish_now(ctx: &crate::context::Ctx, messages: Vec<shared::db::outbox::PendingMessage>) {
    if !ctx.broker.connected(Duration::from_secs(10)).await {
        println!(
            "RabbitMQ is unreachable: the replays stay in the outbox and a running webhook-api or reconciler publishes them when it returns"
        );
        return;
    }
    ctx.relay.publish_now(messages);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        ctx.relay.nudge();
        tokio::time::sleep(Duration::from_millis(200)).await;
        match ctx.db.run(|conn| shared::db::outbox::backlog(conn)).await {
            Ok(0) => {
                println!("published");
                return;
            }
            Ok(n) => eprint!("\rpublishing… {n} waiting"),
            Err(_) => break,
        }
    }
    println!("\nnot everything was published yet; a running service will finish it");
}

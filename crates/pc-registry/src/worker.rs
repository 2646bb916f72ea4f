//! A pool of workers executing queued runs. Each worker claims a run, renews its lease while the
//! job runs (reporting progress), and records the outcome. If the lease is lost (the database
//! handed the run to another worker after a stall), the job is aborted and its outcome discarded,
//! so a run is never executed by two workers at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{RegistryError, Run, RunResults, Store};

/// Why a job failed; stored (truncated) as the run's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JobFailure(pub String);

/// Progress reporter handed to a job: permille, picked up by the next heartbeat. It also
/// tells the job when its run was lost (lease taken over): blocking work, which cannot be
/// aborted from outside, checks [`Progress::cancelled`] and stops.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<AtomicI64>, Arc<std::sync::atomic::AtomicBool>);

impl Progress {
    /// Sets the progress in permille (clamped to 0..=1000 when stored).
    pub fn set(&self, permille: i64) {
        self.0.store(permille, Ordering::Relaxed);
    }

    /// True once the worker lost the run: the job's outcome will be discarded.
    pub fn cancelled(&self) -> bool {
        self.1.load(Ordering::Relaxed)
    }
}

/// The future a job returns: what the run found, recorded with its completion.
pub type JobFuture = Pin<Box<dyn Future<Output = Result<RunResults, JobFailure>> + Send>>;
/// What executes a run.
pub type JobHandler = Arc<dyn Fn(Run, Progress) -> JobFuture + Send + Sync>;

/// Worker pool settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Number of concurrent workers.
    pub workers: usize,
    /// Lease length; a crashed worker's run is picked up again after this.
    pub lease: Duration,
    /// How often a running job's lease is renewed (well below `lease`).
    pub heartbeat: Duration,
    /// How long an idle worker waits before looking for work again.
    pub poll: Duration,
    /// Prefix of worker ids (host name, process id …), so leases show who holds a run.
    pub name: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            workers: 2,
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(15),
            poll: Duration::from_secs(1),
            name: "worker".to_owned(),
        }
    }
}

/// A running worker pool.
#[derive(Debug)]
pub struct WorkerPool {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<Result<(), RegistryError>>>,
}

impl WorkerPool {
    /// Starts `config.workers` workers on the current runtime.
    pub fn spawn(store: Store, config: WorkerConfig, handler: JobHandler) -> WorkerPool {
        let (stop, stop_rx) = watch::channel(false);
        let handles = (0..config.workers)
            .map(|i| {
                let worker_id = format!("{}-{i}", config.name);
                tokio::spawn(worker_loop(
                    store.clone(),
                    config.clone(),
                    worker_id,
                    handler.clone(),
                    stop_rx.clone(),
                ))
            })
            .collect();
        WorkerPool { stop, handles }
    }

    /// Asks the workers to stop after their current job and waits for them; returns the first
    /// database error a worker stopped on, if any.
    pub async fn shutdown(self) -> Result<(), RegistryError> {
        // Err only if every receiver is gone, i.e. the workers already ended.
        let _ = self.stop.send(true);
        let mut first = Ok(());
        for h in self.handles {
            let r = h.await.map_err(|_| RegistryError::Join).and_then(|r| r);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// Longest pause after a database error before a worker tries again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

async fn worker_loop(
    store: Store,
    cfg: WorkerConfig,
    worker_id: String,
    handler: JobHandler,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RegistryError> {
    let mut backoff = cfg.poll;
    while !*stop.borrow() {
        let step = async {
            match store.claim_next_run(&worker_id, cfg.lease).await? {
                Some(run) => execute(&store, &cfg, &worker_id, &handler, run)
                    .await
                    .map(|()| true),
                None => Ok(false),
            }
        };
        let pause = match step.await {
            Ok(true) => {
                backoff = cfg.poll;
                continue;
            }
            Ok(false) => {
                backoff = cfg.poll;
                cfg.poll
            }
            // A busy or unreachable database must not end the worker: whatever it held is
            // taken up again after its lease, by it or another worker.
            Err(e) => {
                eprintln!("phonecert worker {worker_id}: {e}; retrying in {backoff:?}");
                let p = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                p
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
    Ok(())
}

async fn execute(
    store: &Store,
    cfg: &WorkerConfig,
    worker_id: &str,
    handler: &JobHandler,
    run: Run,
) -> Result<(), RegistryError> {
    let run_id = run.id.clone();
    store
        .audit(
            worker_id,
            "run.start",
            &run_id,
            &format!("attempt {}", run.attempts),
        )
        .await?;
    let progress = Progress::default();
    let mut job = tokio::spawn(handler(run, progress.clone()));
    let mut tick = tokio::time::interval(cfg.heartbeat);
    tick.tick().await; // the first tick is immediate; the claim just set the lease
    let outcome = loop {
        tokio::select! {
            res = &mut job => break res,
            _ = tick.tick() => {
                let held = store
                    .heartbeat(&run_id, worker_id, progress.0.load(Ordering::Relaxed), cfg.lease)
                    .await?;
                if !held {
                    // Someone else owns the run now: stop, and do not record an outcome.
                    progress.1.store(true, Ordering::Relaxed);
                    job.abort();
                    return Ok(());
                }
            }
        }
    };
    let outcome = match outcome {
        Ok(Ok(results)) => Ok(results),
        Ok(Err(JobFailure(msg))) => Err(msg),
        Err(e) if e.is_panic() => Err("job panicked".to_owned()),
        Err(_) => Err("job cancelled".to_owned()),
    };
    // finish_run truncates the message to what the database keeps.
    let (recorded, action, detail) = match outcome {
        Ok(results) => {
            let outcome = results
                .outcome
                .as_ref()
                .map_or("", |(o, _)| o.as_str())
                .to_owned();
            let done = store.complete_run(&run_id, worker_id, &results).await?;
            (done, "run.done", outcome)
        }
        Err(m) => {
            let failed = store.finish_run(&run_id, worker_id, Err(&m)).await?;
            (failed, "run.failed", m.chars().take(1000).collect())
        }
    };
    // The run is recorded; a failed log write is reported, not retried as a run.
    if recorded && let Err(e) = store.audit(worker_id, action, &run_id, &detail).await {
        eprintln!("phonecert worker {worker_id}: audit log: {e}");
    }
    Ok(())
}

//! Tracked background tasks and the shutdown signal (tokio-util's `CancellationToken` and
//! `TaskTracker`, the shape of mini-redis's shutdown broadcast plus drain).
//!
//! Every task a request leaves behind (a mail send, a download counter; engine workers, SSE
//! streams and WebSockets later) is spawned through [`Tasks::spawn`], so that on SIGTERM the
//! server stops accepting, cancels the [`Tasks::token`] (long-lived tasks watch it and finish
//! cleanly) and waits for every tracked task within the grace period.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The platform's task tracker and shutdown token; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    token: CancellationToken,
}

impl Tasks {
    /// Spawns `fut` on the runtime as a tracked task: shutdown waits for it.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(fut)
    }

    /// The shutdown token: cancelled when the server starts shutting down. Long-lived tasks
    /// (streams, workers) select on `token.cancelled()` and end cleanly.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Signals shutdown and waits up to `grace` for every tracked task; returns how many were
    /// still running when the grace period ended (0 when all finished).
    pub async fn shutdown(&self, grace: Duration) -> usize {
        self.token.cancel();
        self.tracker.close();
        match tokio::time::timeout(grace, self.tracker.wait()).await {
            Ok(()) => 0,
            Err(_) => self.tracker.len(),
        }
    }

    /// Tasks still running.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether no task is running.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_waits_for_tracked_tasks_and_cancels_long_ones() {
        let tasks = Tasks::default();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        tasks.spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let token = tasks.token();
        tasks.spawn(async move { token.cancelled().await });
        assert_eq!(tasks.shutdown(Duration::from_secs(5)).await, 0);
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
        assert!(tasks.is_shutting_down());
    }

    #[tokio::test]
    async fn shutdown_reports_tasks_that_outlive_the_grace_period() {
        let tasks = Tasks::default();
        tasks.spawn(tokio::time::sleep(Duration::from_secs(60)));
        assert_eq!(tasks.shutdown(Duration::from_millis(20)).await, 1);
    }
}

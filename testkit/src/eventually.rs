//! One polling policy for every test: try at once, then back off from 10 ms to 250 ms between
//! tries, and try once more at the deadline. The limit is a generous bound on behaviour, not a
//! measurement (tests assert behaviour, never times).

use std::time::{Duration, Instant};

const FIRST_WAIT: Duration = Duration::from_millis(10);
const LONGEST_WAIT: Duration = Duration::from_millis(250);

/// The next wait after `wait`.
fn longer(wait: Duration) -> Duration {
    (wait * 2).min(LONGEST_WAIT)
}

/// Polls `f` until it holds (`true`) or `limit` has passed (`false`, after one last try at the
/// deadline).
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    let mut wait = FIRST_WAIT;
    loop {
        if f() {
            return true;
        }
        let now = Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep(wait.min(end - now));
        wait = longer(wait);
    }
}

/// [`eventually`] for a test whose thread also runs the code under test (a current-thread
/// runtime): it sleeps on the runtime's timer instead of blocking the thread.
pub async fn eventually_async(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + limit;
    let mut wait = FIRST_WAIT;
    loop {
        if f() {
            return true;
        }
        let now = tokio::time::Instant::now();
        if now >= end {
            return false;
        }
        tokio::time::sleep(wait.min(end - now)).await;
        wait = longer(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_once_or_later_and_gives_up_after_a_last_try() {
        assert!(eventually(Duration::ZERO, || true));
        let mut n = 0;
        assert!(eventually(Duration::from_secs(5), || {
            n += 1;
            n == 4
        }));
        let mut tries = 0;
        let start = Instant::now();
        assert!(!eventually(Duration::from_millis(100), || {
            tries += 1;
            false
        }));
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(tries >= 3, "{tries}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_async_form_waits_on_the_runtime_clock() {
        let start = tokio::time::Instant::now();
        assert!(!eventually_async(Duration::from_secs(30), || false).await);
        assert!(start.elapsed() >= Duration::from_secs(30));
    }
}

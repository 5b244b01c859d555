//! A client-side budget for Lambda's control plane: at most `limit` calls
//! reach Lambda in any one-second window. Lambda allows an account and region
//! about 15 control-plane requests a second (GetAlias, UpdateAlias,
//! ListVersionsByFunction, GetFunction... alike), and every deploy in the
//! account shares them: a tick over hundreds of targets must leave room for
//! the others, not find the limit by being throttled. The SDK's adaptive
//! retry stays for what throttling still happens (its retries are not
//! counted here: they are already slowed by its own token bucket).
//!
//! Lambda counts a request when it arrives, which is some time after the call
//! began and before it ended, and that time varies (a new connection, a slow
//! network). So a call is counted from the moment it begins until one second
//! after it ends: a call may begin only while fewer than `limit` are counted.
//! Then no window of one second can see more than `limit` arrivals, however
//! late or early each one arrives (proved in `Window::admit`'s comment, and
//! tested against arrivals drawn anywhere within each call).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Calls in flight and the ends of the calls of the last window: the pure part.
#[derive(Debug)]
struct Window {
    limit: usize,
    per: Duration,
    in_flight: usize,
    ended: VecDeque<Instant>,
}

/// Why a call may not begin yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Until the oldest ended call leaves the window.
    For(Duration),
    /// Every counted call is still in flight: until one ends.
    ForAnEnd,
}

impl Window {
    /// Admits a call at `now` (counting it as in flight), or says how long to
    /// wait.
    ///
    /// Why it holds: take any window [a, a + per) and, of the calls that
    /// arrive in it, the one admitted last, at t <= its arrival < a + per.
    /// Every other call arriving there was admitted before t, and at t it was
    /// either in flight or had ended at or after its arrival, so at or after
    /// a > t - per: counted either way. It was admitted with fewer than
    /// `limit` counted, so the window holds at most `limit` arrivals.
    fn admit(&mut self, now: Instant) -> Result<(), Wait> {
        while self
            .ended
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.per)
        {
            self.ended.pop_front();
        }
        if self.in_flight + self.ended.len() < self.limit {
            self.in_flight += 1;
            return Ok(());
        }
        Err(match self.ended.front() {
            Some(oldest) => Wait::For(*oldest + self.per - now),
            None => Wait::ForAnEnd,
        })
    }

    fn end(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.ended.push_back(now);
    }
}

#[derive(Debug)]
pub struct Budget {
    window: Mutex<Window>,
}

/// A call admitted by the budget: counted as ended when dropped.
#[must_use = "the call is counted until the permit is dropped"]
pub struct Permit<'a> {
    budget: &'a Budget,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.budget.lock().end(Instant::now());
    }
}

/// How often a call waiting for an end looks again: every counted call is in
/// flight, which takes milliseconds.
const END_POLL: Duration = Duration::from_millis(10);

impl Budget {
    /// At most `calls` (at least 1) reach Lambda in any second.
    pub fn per_second(calls: u32) -> Self {
        Budget {
            window: Mutex::new(Window {
                limit: calls.max(1) as usize,
                per: Duration::from_secs(1),
                in_flight: 0,
                ended: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns when one more call may begin; hold the permit until it ends.
    pub async fn admit(&self) -> Permit<'_> {
        loop {
            let wait = match self.lock().admit(Instant::now()) {
                Ok(()) => return Permit { budget: self },
                Err(Wait::For(d)) => d,
                Err(Wait::ForAnEnd) => END_POLL,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Rng;

    /// The most of `at` within any window of `per`.
    fn busiest(at: &mut [Instant], per: Duration) -> usize {
        at.sort();
        (0..at.len())
            .map(|i| at[i..].iter().take_while(|t| **t - at[i] < per).count())
            .max()
            .unwrap_or(0)
    }

    /// Calls that each take `took` ms, arriving anywhere within themselves:
    /// the arrivals of no second exceed the limit, however they fall.
    #[test]
    fn no_second_of_arrivals_holds_more_than_the_limit() {
        let per = Duration::from_secs(1);
        for seed in 1..=20 {
            let mut rng = Rng::new(seed);
            let limit = 1 + (rng.next_f64() * 12.0) as usize;
            let mut w = Window {
                limit,
                per,
                in_flight: 0,
                ended: VecDeque::new(),
            };
            let t0 = Instant::now();
            let mut now = t0;
            // (end, arrival) of the calls in flight.
            let mut flying: Vec<(Instant, Instant)> = Vec::new();
            let mut arrivals = Vec::new();
            for _ in 0..300 {
                loop {
                    // Ends due by now are counted first, in order.
                    flying.sort();
                    while flying.first().is_some_and(|(end, _)| *end <= now) {
                        let (end, arrival) = flying.remove(0);
                        w.end(end);
                        arrivals.push(arrival);
                    }
                    match w.admit(now) {
                        Ok(()) => break,
                        Err(Wait::For(d)) => now += d.min(Duration::from_millis(5)),
                        Err(Wait::ForAnEnd) => now = flying[0].0,
                    }
                }
                let took = Duration::from_millis((rng.next_f64() * 900.0) as u64 + 1);
                let arrival = now + took.mul_f64(rng.next_f64());
                flying.push((now + took, arrival));
                now += Duration::from_millis((rng.next_f64() * 30.0) as u64);
            }
            arrivals.extend(flying.iter().map(|(_, a)| *a));
            assert!(
                busiest(&mut arrivals, per) <= limit,
                "seed {seed}, limit {limit}"
            );
        }
    }

    /// On tokio's paused clock: the budget's own waits, not the machine's.
    #[tokio::test(start_paused = true)]
    async fn instant_calls_go_at_the_limit_and_no_faster() {
        let b = Budget::per_second(10);
        let start = Instant::now();
        for _ in 0..10 {
            drop(b.admit().await);
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "under the limit: no wait");
        for _ in 0..15 {
            drop(b.admit().await);
        }
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_in_flight_is_counted_until_a_second_after_it_ends() {
        let b = Budget::per_second(1);
        let start = Instant::now();
        let slow = b.admit().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(slow);
        drop(b.admit().await);
        assert!(start.elapsed() >= Duration::from_secs(4));
    }
}

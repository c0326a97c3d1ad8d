//! Failed sign-ins counted per user name and per client address, in this process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LoginLimits;

#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, client: &str) -> [(String, u32); 2] {
        [
            (format!("user:{}", username.trim().to_lowercase()), 0),
            (format!("client:{client}"), 1),
        ]
    }

    fn limit(&self, which: u32) -> usize {
        (if which == 0 {
            self.limits.per_username
        } else {
            self.limits.per_client
        }) as usize
    }

    /// `Some(wait)` when this user name or client must wait before trying again.
    pub fn check(&self, username: &str, client: &str, now: Instant) -> Option<Duration> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Self::keys(username, client)
            .into_iter()
            .filter_map(|(key, which)| {
                let times = failures.get_mut(&key)?;
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.limits.window)
                {
                    times.pop_front();
                }
                if times.len() >= self.limit(which) {
                    times.front().map(|oldest| {
                        self.limits
                            .window
                            .saturating_sub(now.duration_since(*oldest))
                    })
                } else {
                    None
                }
            })
            .max()
    }

    pub fn record_failure(&self, username: &str, client: &str, now: Instant) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() > 100_000 {
            // Bound memory under a spray of names: forget entries whose window has passed.
            let window = self.limits.window;
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for (key, _) in Self::keys(username, client) {
            failures.entry(key).or_default().push_back(now);
        }
    }

    /// A successful sign-in clears the user name's failures (not the client's).
    pub fn record_success(&self, username: &str, client: &str) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let [(user_key, _), _] = Self::keys(username, client);
        failures.remove(&user_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            per_username: 3,
            per_client: 5,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn a_user_name_is_locked_after_its_limit_until_the_window_passes() {
        let limiter = limiter();
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("alice", "1.1.1.1", start), None);
            limiter.record_failure("Alice", "1.1.1.1", start);
        }
        let wait = limiter
            .check("ALICE", "2.2.2.2", start + Duration::from_secs(10))
            .expect("locked");
        assert_eq!(wait, Duration::from_secs(50));
        assert_eq!(
            limiter.check("alice", "2.2.2.2", start + Duration::from_secs(60)),
            None
        );
        assert_eq!(limiter.check("bob", "3.3.3.3", start), None);
    }

    #[test]
    fn a_client_is_locked_across_user_names_and_success_clears_only_the_user() {
        let limiter = limiter();
        let now = Instant::now();
        for name in ["a", "b", "c", "d", "e"] {
            limiter.record_failure(name, "9.9.9.9", now);
        }
        assert!(limiter.check("fresh", "9.9.9.9", now).is_some());
        assert_eq!(limiter.check("fresh", "8.8.8.8", now), None);
        limiter.record_failure("z", "7.7.7.7", now);
        limiter.record_failure("z", "7.7.7.7", now);
        limiter.record_failure("z", "7.7.7.7", now);
        limiter.record_success("z", "7.7.7.7");
        assert_eq!(limiter.check("z", "6.6.6.6", now), None);
    }
}

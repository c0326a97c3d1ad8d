//! Sign-in throttling, in this process: failed sign-ins are counted per (user name, client
//! address) and per client address, never per user name alone — so nobody elsewhere can lock
//! a user out. After a number of free failures each further attempt must wait, the wait
//! doubling with every failure up to a ceiling; failures are forgotten a while after the
//! last one, and a successful sign-in clears its pair.
//!
//! An attempt is counted when it starts, before the password hash is computed: of many
//! parallel wrong passwords, only the free ones are evaluated; a success gives its count
//! back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LoginLimits;

/// At most this many keys are kept; beyond it the least recently failed are forgotten first.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    failures: Mutex<HashMap<Key, Failures>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair([u8; 16], String),
    Address(String),
}

/// A sign-in attempt that was let through and counted; give it back on success.
#[derive(Debug)]
#[must_use]
pub struct Attempt {
    pair: Key,
    address: Key,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The user name is kept as a digest: bounded in size whatever a client sends.
    fn keys(username: &str, address: &str) -> (Key, Key) {
        let name = ring::digest::digest(
            &ring::digest::SHA256,
            username.trim().to_lowercase().as_bytes(),
        );
        let mut name_key = [0u8; 16];
        name_key.copy_from_slice(&name.as_ref()[..16]);
        let address: String = address.chars().take(64).collect();
        (Key::Pair(name_key, address.clone()), Key::Address(address))
    }

    fn free(&self, key: &Key) -> u32 {
        match key {
            Key::Pair(..) => self.limits.per_user_and_address,
            Key::Address(_) => self.limits.per_address,
        }
    }

    /// How long after the last failure the next attempt may come, with `count` failures.
    fn wait_after(&self, key: &Key, count: u32) -> Duration {
        let free = self.free(key);
        if count < free {
            return Duration::ZERO;
        }
        let doublings = (count - free).min(30);
        self.limits
            .first_delay
            .saturating_mul(1u32 << doublings)
            .min(self.limits.max_delay)
    }

    /// Lets an attempt through and counts it as failed until [`LoginLimiter::succeeded`]
    /// says otherwise; or `Err(wait)` when this user name from this address, or this
    /// address, must wait first.
    pub fn begin(&self, username: &str, address: &str, now: Instant) -> Result<Attempt, Duration> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (pair, address) = Self::keys(username, address);
        let mut wait = Duration::ZERO;
        for key in [&pair, &address] {
            if let Some(seen) = failures.get(key).copied() {
                let since = now.saturating_duration_since(seen.last);
                if since >= self.limits.forget_after {
                    failures.remove(key);
                    continue;
                }
                wait = wait.max(self.wait_after(key, seen.count).saturating_sub(since));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        if failures.len() + 2 > MAX_KEYS {
            self.forget_oldest(&mut failures, now);
        }
        for key in [&pair, &address] {
            let entry = failures.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
            });
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
        Ok(Attempt { pair, address })
    }

    /// The attempt signed in: its pair's failures are cleared and its address's count given
    /// back.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.remove(&attempt.pair);
        if let Some(entry) = failures.get_mut(&attempt.address) {
            entry.count = entry.count.saturating_sub(1);
        }
    }

    /// Makes room: drops what is forgotten anyway, then what holds nobody back now (a flood
    /// of fresh keys must not wipe out the waits it is subject to), and only then the least
    /// recently failed half.
    fn forget_oldest(&self, failures: &mut HashMap<Key, Failures>, now: Instant) {
        let forget_after = self.limits.forget_after;
        failures.retain(|_, seen| now.saturating_duration_since(seen.last) < forget_after);
        if failures.len() + 2 > MAX_KEYS {
            failures.retain(|key, seen| {
                self.wait_after(key, seen.count) > now.saturating_duration_since(seen.last)
            });
        }
        if failures.len() + 2 > MAX_KEYS {
            let mut lasts: Vec<Instant> = failures.values().map(|seen| seen.last).collect();
            let middle = lasts.len() / 2;
            let (_, cutoff, _) = lasts.select_nth_unstable(middle);
            let cutoff = *cutoff;
            failures.retain(|_, seen| seen.last > cutoff);
        }
    }
}

/// A wait as `Retry-After` says it: whole seconds, rounded up, at least one.
pub fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// What one user may do only so often, because each makes the server (and the CI/CD tool)
/// work: a limit per user and per minute for each, in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Costly {
    Trigger,
    Sync,
    /// A connection check: of a saved integration or of a draft.
    ConnectionTest,
    LogRead,
}

impl Costly {
    fn describe(self) -> &'static str {
        match self {
            Costly::Trigger => "run triggers",
            Costly::Sync => "syncs",
            Costly::ConnectionTest => "connection tests",
            Costly::LogRead => "log reads",
        }
    }
}

/// Requests per user and minute (`SWITCHBOARD_RATE_*_PER_MINUTE`); a whole minute's worth
/// may come at once. 0 = no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserLimits {
    pub triggers_per_minute: u32,
    pub syncs_per_minute: u32,
    pub tests_per_minute: u32,
    pub log_reads_per_minute: u32,
}

impl Default for UserLimits {
    /// Generous for people: a deploy wave from a script at one trigger a second, a log
    /// followed in several tabs.
    fn default() -> Self {
        Self {
            triggers_per_minute: 60,
            syncs_per_minute: 30,
            tests_per_minute: 30,
            log_reads_per_minute: 600,
        }
    }
}

impl UserLimits {
    fn per_minute(&self, what: Costly) -> u32 {
        match what {
            Costly::Trigger => self.triggers_per_minute,
            Costly::Sync => self.syncs_per_minute,
            Costly::ConnectionTest => self.tests_per_minute,
            Costly::LogRead => self.log_reads_per_minute,
        }
    }
}

/// A token bucket per (user, [`Costly`]): full at a minute's worth, refilled evenly.
#[derive(Debug)]
pub struct UserLimiter {
    limits: UserLimits,
    buckets: Mutex<HashMap<(String, Costly), (f64, Instant)>>,
}

impl UserLimiter {
    pub fn new(limits: UserLimits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request of `what` from `user_id`'s allowance, or says how long until there is
    /// one. Only signed-in users get here, so the map is bounded by the users.
    pub fn take(
        &self,
        user_id: &str,
        what: Costly,
        now: Instant,
    ) -> Result<(), (Duration, String)> {
        let per_minute = self.limits.per_minute(what);
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, at) = buckets
            .entry((user_id.to_owned(), what))
            .or_insert((capacity, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - *tokens) / per_second);
        Err((
            wait,
            format!(
                "too many {} from you (at most {per_minute} a minute)",
                what.describe()
            ),
        ))
    }
}

/// Addresses (or networks, `10.0.0.0/8`) of reverse proxies whose `X-Forwarded-For` is
/// believed (`SWITCHBOARD_TRUSTED_PROXIES`). Without any, the header is ignored: anyone could
/// write it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `127.0.0.1, 10.0.0.0/8, fd00::/8`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for part in raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (address, bits) = match part.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (part, None),
            };
            let address: IpAddr = address
                .parse()
                .map_err(|_| format!("{part:?} is not an IP address or network"))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(bits) => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|bits| *bits <= max)
                    .ok_or_else(|| format!("{part:?}: the prefix length must be 0 to {max}"))?,
            };
            networks.push((address, bits));
        }
        Ok(Self(networks))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0
            .iter()
            .any(|(network, bits)| in_network(ip, *network, *bits))
    }

    /// The client's address as throttling and logs see it: the peer's, unless the peer is a
    /// trusted proxy — then the last address in `X-Forwarded-For` that is not one. An IPv6
    /// client counts by its /64, the block one subscriber usually holds.
    pub fn client_address(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> String {
        let Some(peer) = peer else {
            return "unknown".to_owned();
        };
        let mut client = peer;
        if self.contains(peer)
            && let Some(header) = forwarded_for
        {
            for hop in header.rsplit(',').map(str::trim) {
                match parse_hop(hop) {
                    Some(ip) if self.contains(ip) => client = ip,
                    Some(ip) => {
                        client = ip;
                        break;
                    }
                    // What the trusted proxy passed on cannot be read: keep the last good hop.
                    None => break,
                }
            }
        }
        display(client)
    }
}

/// An `X-Forwarded-For` hop: `a.b.c.d`, `a.b.c.d:port`, an IPv6 address, or `[v6]:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| {
            hop.parse::<std::net::SocketAddr>()
                .ok()
                .map(|addr| addr.ip())
        })
        .or_else(|| {
            hop.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        })
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V4(_)) => ip
            .to_ipv4_mapped()
            .is_some_and(|v4| in_network(IpAddr::V4(v4), network, bits)),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

fn display(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & (u128::MAX << 64);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            per_user_and_address: 3,
            per_address: 5,
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            forget_after: Duration::from_secs(600),
        })
    }

    fn fail(limiter: &LoginLimiter, user: &str, address: &str, at: Instant) {
        let _failed = limiter.begin(user, address, at).expect("let through");
    }

    #[test]
    fn waits_grow_per_user_and_address_and_never_reach_other_addresses() {
        let limiter = limiter();
        let start = Instant::now();
        for _ in 0..3 {
            fail(&limiter, "Alice", "10.0.0.66", start);
        }
        // The fourth attempt waits 2 s, the fifth 4 s after it, the sixth 8 s …
        assert_eq!(
            limiter.begin("alice", "10.0.0.66", start).err(),
            Some(Duration::from_secs(2))
        );
        let later = start + Duration::from_secs(2);
        fail(&limiter, "alice", "10.0.0.66", later);
        assert_eq!(
            limiter.begin("alice", "10.0.0.66", later).err(),
            Some(Duration::from_secs(4))
        );
        // The real Alice, elsewhere, is not held up.
        let real = limiter
            .begin("alice", "10.0.0.7", later)
            .expect("elsewhere");
        limiter.succeeded(real);
        // The ceiling holds however many failures there were.
        let mut at = later;
        for _ in 0..20 {
            at += Duration::from_secs(61);
            fail(&limiter, "alice", "10.0.0.66", at);
        }
        assert_eq!(
            limiter.begin("alice", "10.0.0.66", at).err(),
            Some(Duration::from_secs(60))
        );
        // Forgotten a while after the last failure.
        assert!(
            limiter
                .begin("alice", "10.0.0.66", at + Duration::from_secs(600))
                .is_ok()
        );
    }

    #[test]
    fn an_address_waits_across_user_names_and_a_success_gives_its_count_back() {
        let limiter = limiter();
        let now = Instant::now();
        for name in ["a", "b", "c", "d"] {
            fail(&limiter, name, "9.9.9.9", now);
        }
        let good = limiter.begin("e", "9.9.9.9", now).expect("fifth");
        limiter.succeeded(good);
        fail(&limiter, "f", "9.9.9.9", now);
        assert!(limiter.begin("fresh", "9.9.9.9", now).is_err());
        assert!(limiter.begin("fresh", "8.8.8.8", now).is_ok());
    }

    #[test]
    fn attempts_are_counted_before_they_are_evaluated() {
        let limiter = limiter();
        let now = Instant::now();
        let let_through = (0..40)
            .filter(|_| limiter.begin("admin", "10.1.1.1", now).is_ok())
            .count();
        assert_eq!(let_through, 3);
    }

    #[test]
    fn a_user_gets_a_minutes_worth_at_once_then_an_even_pace() {
        let limiter = UserLimiter::new(UserLimits {
            triggers_per_minute: 6,
            log_reads_per_minute: 0,
            ..UserLimits::default()
        });
        let now = Instant::now();
        for _ in 0..6 {
            limiter
                .take("u1", Costly::Trigger, now)
                .expect("within the minute's worth");
        }
        let (wait, what) = limiter
            .take("u1", Costly::Trigger, now)
            .expect_err("limited");
        assert!(
            (Duration::from_millis(9_900)..=Duration::from_millis(10_100)).contains(&wait),
            "{wait:?}"
        );
        assert!(what.contains("at most 6 a minute"), "{what}");
        // Others, and other kinds of request, have their own allowance; 0 means no limit.
        limiter
            .take("u2", Costly::Trigger, now)
            .expect("another user");
        limiter.take("u1", Costly::Sync, now).expect("another kind");
        for _ in 0..1000 {
            limiter.take("u1", Costly::LogRead, now).expect("unlimited");
        }
        limiter
            .take("u1", Costly::Trigger, now + Duration::from_secs(11))
            .expect("refilled");
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let none = TrustedProxies::default();
        let peer = Some("127.0.0.1".parse().expect("ip"));
        assert_eq!(none.client_address(peer, Some("203.0.113.9")), "127.0.0.1");
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").expect("parse");
        assert_eq!(
            proxies.client_address(peer, Some("203.0.113.9")),
            "203.0.113.9"
        );
        assert_eq!(
            proxies.client_address(peer, Some("198.51.100.1, 203.0.113.9, 10.2.3.4")),
            "203.0.113.9",
            "the last hop that is not a proxy: what comes before it the client wrote"
        );
        assert_eq!(proxies.client_address(peer, Some("garbage")), "127.0.0.1");
        assert_eq!(
            proxies.client_address(peer, Some("203.0.113.9:51234")),
            "203.0.113.9"
        );
        assert_eq!(
            proxies.client_address(peer, Some("[2001:db8::1]:443")),
            "2001:db8::/64"
        );
        assert_eq!(
            proxies.client_address(Some("192.0.2.1".parse().expect("ip")), Some("203.0.113.9")),
            "192.0.2.1",
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            none.client_address(Some("2001:db8:1:2:3:4:5:6".parse().expect("ip")), None),
            "2001:db8:1:2::/64"
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }
}

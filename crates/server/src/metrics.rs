//! Request counters and latency histograms, rendered as Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Database statements run on behalf of requests, by method and route: (sum, requests).
    statements: Mutex<BTreeMap<(String, String), (u64, u64)>>,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The method label: one of the methods HTTP defines, or `OTHER` — the method is the client's
/// to choose, and a series per made-up method would grow memory without bound.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "CONNECT" => "CONNECT",
        _ => "OTHER",
    }
}

impl Metrics {
    /// `route` is the matched pattern (`/api/v1/integrations/{id}`), never the raw path, so
    /// ids do not multiply the series; unknown methods share one label.
    /// `statements`: the database statements run on the request's behalf (its foreground:
    /// not background work it started).
    pub fn observe(
        &self,
        method: &str,
        route: &str,
        status: u16,
        elapsed: Duration,
        statements: u64,
    ) {
        let method = method_label(method);
        if let Ok(mut requests) = self.requests.lock() {
            *requests
                .entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut by_route) = self.statements.lock() {
            let (sum, count) = by_route
                .entry((method.to_owned(), route.to_owned()))
                .or_default();
            *sum += statements;
            *count += 1;
        }
        if let Ok(mut latency) = self.latency.lock() {
            let histogram = latency.entry(route.to_owned()).or_default();
            let seconds = elapsed.as_secs_f64();
            for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *count += 1;
                }
            }
            histogram.count += 1;
            histogram.sum += seconds;
        }
    }

    /// `statements_run`: every statement the store has run (background work included).
    pub fn render(&self, database_up: bool, statements_run: u64) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP switchboard_up Whether the database answers (1) or not (0)."
        );
        let _ = writeln!(out, "# TYPE switchboard_up gauge");
        let _ = writeln!(out, "switchboard_up {}", u8::from(database_up));
        let _ = writeln!(
            out,
            "# HELP switchboard_db_statements_total Database statements run (each one round trip to PostgreSQL), background work included."
        );
        let _ = writeln!(out, "# TYPE switchboard_db_statements_total counter");
        let _ = writeln!(out, "switchboard_db_statements_total {statements_run}");
        let _ = writeln!(
            out,
            "# HELP switchboard_http_request_db_statements Database statements run on behalf of requests (not background work they start), by method and route."
        );
        let _ = writeln!(out, "# TYPE switchboard_http_request_db_statements summary");
        if let Ok(by_route) = self.statements.lock() {
            for ((method, route), (sum, count)) in by_route.iter() {
                let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
                let _ = writeln!(
                    out,
                    "switchboard_http_request_db_statements_sum{{{labels}}} {sum}"
                );
                let _ = writeln!(
                    out,
                    "switchboard_http_request_db_statements_count{{{labels}}} {count}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP switchboard_http_requests_total HTTP requests answered, by method, route and status."
        );
        let _ = writeln!(out, "# TYPE switchboard_http_requests_total counter");
        if let Ok(requests) = self.requests.lock() {
            for ((method, route, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "switchboard_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {count}",
                    escape(method),
                    escape(route)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP switchboard_http_request_duration_seconds Time to answer, by route."
        );
        let _ = writeln!(
            out,
            "# TYPE switchboard_http_request_duration_seconds histogram"
        );
        if let Ok(latency) = self.latency.lock() {
            for (route, histogram) in latency.iter() {
                let route = escape(route);
                for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                    let _ = writeln!(
                        out,
                        "switchboard_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "switchboard_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    histogram.count
                );
                let _ = writeln!(
                    out,
                    "switchboard_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    histogram.sum
                );
                let _ = writeln!(
                    out,
                    "switchboard_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    histogram.count
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        let metrics = Metrics::default();
        for n in 0..300 {
            metrics.observe(&format!("M{n}"), "(unmatched)", 405, Duration::ZERO, 0);
        }
        metrics.observe("PATCH", "(unmatched)", 405, Duration::ZERO, 0);
        let text = metrics.render(true, 0);
        assert!(text.contains(
            "switchboard_http_requests_total{method=\"OTHER\",route=\"(unmatched)\",status=\"405\"} 300"
        ));
        assert!(text.contains("method=\"PATCH\""));
        assert!(!text.contains("M17"));
    }

    #[test]
    fn counts_and_buckets_are_cumulative() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/healthz", 200, Duration::from_millis(2), 0);
        metrics.observe("GET", "/healthz", 200, Duration::from_millis(30), 3);
        let text = metrics.render(true, 42);
        assert!(text.contains("switchboard_up 1"));
        assert!(text.contains("switchboard_db_statements_total 42"));
        assert!(text.contains(
            "switchboard_http_request_db_statements_sum{method=\"GET\",route=\"/healthz\"} 3"
        ));
        assert!(text.contains(
            "switchboard_http_request_db_statements_count{method=\"GET\",route=\"/healthz\"} 2"
        ));
        assert!(text.contains(
            "switchboard_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "switchboard_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0025\"} 1"
        ));
        assert!(text.contains(
            "switchboard_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.05\"} 2"
        ));
        assert!(
            text.contains("switchboard_http_request_duration_seconds_count{route=\"/healthz\"} 2")
        );
    }
}

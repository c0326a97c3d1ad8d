//! API tests: the real app over HTTP against a real database (SQLite, and PostgreSQL when
//! SWITCHBOARD_TEST_PG_URL is set). One test binary, one fresh app and database per test.
//! `contract` is the connector contract every approved tool passes (Jenkins against the
//! simulator, Buildbot against a real master and workers).

mod helpers;

mod access;
mod approvals;
mod attacks;
mod audit;
mod concurrency;
mod contract;
mod errors;
mod idempotency;
mod integrations;
mod jenkins;
mod secrets;
mod spec;
mod tokens;
mod users;
mod web;

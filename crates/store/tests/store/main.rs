//! Store tests against a real database: each test runs on a fresh SQLite file and on a fresh
//! PostgreSQL database (SWITCHBOARD_TEST_PG_URL; skipped without it, failing under CI).

mod helpers;
mod leases;
mod pipelines;
mod runs;
mod upgrade;

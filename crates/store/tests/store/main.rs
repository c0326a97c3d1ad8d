//! Store tests against a real database: each test runs on a fresh SQLite file and, when
//! SWITCHBOARD_TEST_PG_URL is set, on a fresh PostgreSQL database.

mod helpers;
mod leases;
mod pipelines;
mod runs;

//! How long a 10,000-pipeline discovery takes to store. Ignored by default (it measures, it
//! does not assert times); run with
//! `cargo test -p switchboard-store --release --test store speed -- --ignored --nocapture`.

use std::time::Instant;

use switchboard_store::{DiscoveryCounts, PipelineQuery};

use crate::helpers::{Backend, at, create_integration, found, store, with_build};

const JOBS: usize = 10_000;

fn measure(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    let jobs: Vec<_> = (0..JOBS)
        .map(|i| found(&format!("team-{}/service-{}/job-{i}", i % 50, i % 400)))
        .collect();

    let timed = |label: &str, jobs: &[switchboard_store::DiscoveredPipeline], second: i64| {
        let started = Instant::now();
        let counts = store
            .apply_discovery(&jenkins.id, jobs, at(second))
            .expect("apply discovery");
        println!("{backend:?} {label}: {:?} ({counts:?})", started.elapsed());
        counts
    };

    let first = timed("first sync, all new", &jobs, 0);
    assert_eq!(first.added, JOBS as u64);
    let same = timed("second sync, nothing changed", &jobs, 1);
    assert_eq!(
        same,
        DiscoveryCounts {
            total: JOBS as u64,
            ..DiscoveryCounts::default()
        }
    );
    let built: Vec<_> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            if i % 10 == 0 {
                with_build(job.clone(), 1)
            } else {
                job.clone()
            }
        })
        .collect();
    let tenth = timed("third sync, 10% got a build", &built, 2);
    assert_eq!(tenth.updated, (JOBS / 10) as u64);
    let all_built: Vec<_> = jobs.iter().map(|job| with_build(job.clone(), 2)).collect();
    let all = timed("fourth sync, every job changed", &all_built, 3);
    assert_eq!(all.updated, JOBS as u64);
    let half = timed("fifth sync, half gone", &all_built[..JOBS / 2], 4);
    assert_eq!(half.removed, (JOBS / 2) as u64);
    let back = timed("sixth sync, half back", &all_built, 5);
    assert_eq!(back.added, (JOBS / 2) as u64);

    let started = Instant::now();
    let (page, _) = store
        .list_pipelines(&PipelineQuery {
            limit: 50,
            q: Some("job-99".to_owned()),
            ..Default::default()
        })
        .expect("list");
    println!(
        "{backend:?} list 50 matching 'job-99': {:?} ({} items)",
        started.elapsed(),
        page.len()
    );
    let mut cursor = None;
    let mut pages = 0;
    let started = Instant::now();
    loop {
        let (_, next) = store
            .list_pipelines(&PipelineQuery {
                limit: 100,
                after: cursor,
                ..Default::default()
            })
            .expect("list");
        pages += 1;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    println!(
        "{backend:?} list all in pages of 100: {:?} for {pages} pages",
        started.elapsed()
    );
    let started = Instant::now();
    store.get_integration(&jenkins.id).expect("get");
    println!(
        "{backend:?} get integration (counts pipelines): {:?}",
        started.elapsed()
    );
}

#[test]
#[ignore = "measures; run by hand"]
fn ten_thousand_pipelines_sqlite() {
    measure(Backend::Sqlite);
}

#[test]
#[ignore = "measures; run by hand"]
fn ten_thousand_pipelines_postgres() {
    if std::env::var_os(crate::helpers::PG_ENV).is_none() {
        eprintln!(
            "skipped: set {} to run on PostgreSQL",
            crate::helpers::PG_ENV
        );
        return;
    }
    measure(Backend::Postgres);
}

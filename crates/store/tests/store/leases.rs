use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Duration;
use switchboard_domain::check::{Category, ConnectionCheck, SyncReport};
use switchboard_domain::integration::{IntegrationStatus, UpdateIntegrationRequest};
use switchboard_domain::pipeline::RunStatus;
use switchboard_store::{CheckSchedule, DATA_INTEGRATIONS, RunUpdate, StoreError, Subject};

use crate::helpers::{
    Backend, at, by_test, create_integration, found, new_run, pipeline_id, store,
};
use crate::on_both_backends;

on_both_backends!(
    a_check_sets_the_status_but_not_the_version,
    a_sync_report_is_kept,
    new_urls_or_credentials_make_an_integration_untested,
    due_integrations_are_claimed_by_one_owner_until_the_lease_ends,
    due_runs_are_claimed_by_one_owner_until_the_lease_ends,
    concurrent_claims_never_overlap,
    failed_checks_and_discoveries_are_retried_soon_backing_off,
);

const MINUTE: Duration = Duration::seconds(60);
/// Checks due a minute after the last one, whatever its outcome: "due at t" is "checked at
/// t - 1 min".
const EVERY_MINUTE: CheckSchedule = CheckSchedule {
    interval: MINUTE,
    first_retry: MINUTE,
};

fn check(ok: bool, when: i64) -> ConnectionCheck {
    ConnectionCheck {
        ok,
        category: (!ok).then_some(Category::BadCredentials),
        message: if ok {
            "Connected to Jenkins 2.479.3 as alice".to_owned()
        } else {
            "Jenkins refused the credentials of alice".to_owned()
        },
        hint: (!ok).then(|| "Create a new API token".to_owned()),
        tool_version: ok.then(|| "2.479.3".to_owned()),
        authenticated_as: ok.then(|| "alice".to_owned()),
        permissions: if ok {
            vec!["Overall/Read".to_owned()]
        } else {
            Vec::new()
        },
        latency_ms: Some(12),
        checked_at: at(when),
    }
}

fn a_check_sets_the_status_but_not_the_version(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    assert_eq!(jenkins.status, IntegrationStatus::Untested);
    assert_eq!(jenkins.last_check, None);
    let data_version = store.data_version(DATA_INTEGRATIONS).expect("version");

    store
        .record_check(&jenkins.id, &check(false, 1), at(61) - MINUTE, EVERY_MINUTE)
        .expect("record");
    let failed = store.get_integration(&jenkins.id).expect("get");
    assert_eq!(failed.status, IntegrationStatus::Failed);
    assert_eq!(failed.last_check, Some(check(false, 1)));
    assert_eq!(failed.version, jenkins.version, "a check is not an edit");
    assert_eq!(failed.updated_at, jenkins.updated_at);
    assert!(store.data_version(DATA_INTEGRATIONS).expect("version") > data_version);

    store
        .record_check(&jenkins.id, &check(true, 2), at(62) - MINUTE, EVERY_MINUTE)
        .expect("record");
    let connected = store.get_integration(&jenkins.id).expect("get");
    assert_eq!(connected.status, IntegrationStatus::Connected);
    assert_eq!(
        store.get_integration(&jenkins.id).expect("get").last_check,
        Some(check(true, 2))
    );
    // An If-Match taken before the checks still holds.
    store
        .delete_integration(
            &jenkins.id,
            Some(jenkins.version),
            &by_test("integration.deleted"),
        )
        .expect("delete with the old version");

    let gone = store.record_check(&jenkins.id, &check(true, 3), at(63) - MINUTE, EVERY_MINUTE);
    assert!(matches!(
        gone,
        Err(StoreError::NotFound(Subject::Integration))
    ));
}

fn a_sync_report_is_kept(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    let counts = store
        .apply_discovery(&jenkins.id, &[found("a"), found("b")], at(0))
        .expect("sync");
    let report = SyncReport {
        added: counts.added,
        updated: counts.updated,
        removed: counts.removed,
        total: counts.total,
        requests: 3,
        duration_ms: 95,
        synced_at: at(1),
    };
    let data_version = store.data_version(DATA_INTEGRATIONS).expect("version");
    store.record_sync(&jenkins.id, &report).expect("record");
    let stored = store.get_integration(&jenkins.id).expect("get");
    assert_eq!(stored.last_sync, Some(report.clone()));
    assert_eq!(stored.pipelines, 2);
    assert_eq!(stored.version, jenkins.version);
    assert!(store.data_version(DATA_INTEGRATIONS).expect("version") > data_version);
    assert!(matches!(
        store.record_sync("no-such-integration", &report),
        Err(StoreError::NotFound(Subject::Integration))
    ));
}

fn new_urls_or_credentials_make_an_integration_untested(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    let update = |request: UpdateIntegrationRequest| {
        store
            .update_integration(
                &jenkins.id,
                None,
                None,
                |tool, stored| request.parse(tool, stored),
                &by_test("integration.changed"),
            )
            .expect("update")
    };
    let connect = || {
        store
            .record_check(
                &jenkins.id,
                &check(true, 0),
                at(3600) - MINUTE,
                EVERY_MINUTE,
            )
            .expect("record")
    };

    connect();
    // A new name, the same URL and the same user name: still connected.
    let renamed = update(UpdateIntegrationRequest {
        name: Some("Jenkins CI".to_owned()),
        urls: Some(BTreeMap::from([(
            "apiUrl".to_owned(),
            "https://ci.example.com/".to_owned(),
        )])),
        credentials: BTreeMap::from([("username".to_owned(), Some("alice".to_owned()))]),
        business_need: None,
    });
    assert_eq!(renamed.status, IntegrationStatus::Connected);
    assert!(renamed.version > jenkins.version);
    // Not due before the recorded time.
    assert!(
        store
            .claim_due_integrations("a", at(0), Duration::seconds(60), 10)
            .expect("claim")
            .is_empty()
    );

    let moved = update(UpdateIntegrationRequest {
        urls: Some(BTreeMap::from([(
            "apiUrl".to_owned(),
            "https://ci.example.com/jenkins/".to_owned(),
        )])),
        ..Default::default()
    });
    assert_eq!(moved.status, IntegrationStatus::Untested);
    assert_eq!(
        moved.last_check,
        Some(check(true, 0)),
        "the last check stays for the record"
    );
    // Due at once.
    assert_eq!(
        store
            .claim_due_integrations("a", at(0), Duration::seconds(60), 10)
            .expect("claim"),
        vec![jenkins.id.clone()]
    );

    connect();
    let new_token = update(UpdateIntegrationRequest {
        credentials: BTreeMap::from([("apiToken".to_owned(), Some("fedcba9876543210".to_owned()))]),
        ..Default::default()
    });
    assert_eq!(new_token.status, IntegrationStatus::Untested);

    connect();
    let new_user = update(UpdateIntegrationRequest {
        credentials: BTreeMap::from([("username".to_owned(), Some("bob".to_owned()))]),
        ..Default::default()
    });
    assert_eq!(new_user.status, IntegrationStatus::Untested);
}

fn due_integrations_are_claimed_by_one_owner_until_the_lease_ends(backend: Backend) {
    let store = store(backend);
    let never_checked = create_integration(&store, "Never checked");
    let due = create_integration(&store, "Due");
    let later = create_integration(&store, "Later");
    store
        .record_check(&due.id, &check(true, 0), at(10) - MINUTE, EVERY_MINUTE)
        .expect("record");
    store
        .record_check(&later.id, &check(true, 0), at(1000) - MINUTE, EVERY_MINUTE)
        .expect("record");
    let lease = Duration::seconds(60);

    // Never checked first, then the longest overdue; not the one due later.
    let a = store
        .claim_due_integrations("replica-a", at(100), lease, 10)
        .expect("claim");
    assert_eq!(a, vec![never_checked.id.clone(), due.id.clone()]);
    let b = store
        .claim_due_integrations("replica-b", at(100), lease, 10)
        .expect("claim");
    assert!(b.is_empty(), "leased to replica-a: {b:?}");
    let b = store
        .claim_due_integrations("replica-b", at(159), lease, 10)
        .expect("claim");
    assert!(b.is_empty(), "still leased: {b:?}");

    // The lease ends: someone else may take over.
    let b = store
        .claim_due_integrations("replica-b", at(160), lease, 1)
        .expect("claim");
    assert_eq!(b, vec![never_checked.id.clone()], "limited to 1");

    // Releasing is the owner's: replica-a no longer holds never_checked.
    store
        .release_integration(&never_checked.id, "replica-a")
        .expect("release");
    let c = store
        .claim_due_integrations("replica-c", at(161), lease, 10)
        .expect("claim");
    assert_eq!(c, vec![due.id.clone()]);
    store
        .release_integration(&never_checked.id, "replica-b")
        .expect("release");
    let c = store
        .claim_due_integrations("replica-c", at(162), lease, 10)
        .expect("claim");
    assert_eq!(c, vec![never_checked.id.clone()]);

    // A recorded check pushes the next one out.
    store
        .record_check(
            &never_checked.id,
            &check(true, 0),
            at(500) - MINUTE,
            EVERY_MINUTE,
        )
        .expect("record");
    store
        .release_integration(&never_checked.id, "replica-c")
        .expect("release");
    assert_eq!(
        store
            .claim_due_integrations("replica-a", at(300), lease, 10)
            .expect("claim"),
        vec![due.id.clone()],
        "never_checked is due at 500, later at 1000"
    );
    let all = store
        .claim_due_integrations("replica-a", at(1000), lease, 10)
        .expect("claim");
    assert_eq!(all.len(), 3);
}

fn finished(now: i64) -> RunUpdate {
    RunUpdate {
        status: RunStatus::Succeeded,
        handle_json: "{}".to_owned(),
        build_number: Some(1),
        build_url: None,
        detail: None,
        started_at: Some(at(now)),
        finished_at: Some(at(now)),
        duration_ms: Some(0),
        next_poll_at: None,
        poll_failures: 0,
        now: at(now),
    }
}

fn due_runs_are_claimed_by_one_owner_until_the_lease_ends(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    store
        .apply_discovery(&jenkins.id, &[found("build")], at(0))
        .expect("sync");
    let build = pipeline_id(&store, &jenkins.id, "build");
    let first = store
        .create_run(&new_run(&jenkins.id, &build, at(1)))
        .expect("run");
    let second = store
        .create_run(&new_run(&jenkins.id, &build, at(2)))
        .expect("run");
    let done = store
        .create_run(&new_run(&jenkins.id, &build, at(3)))
        .expect("run");
    store.update_run(&done.id, &finished(4)).expect("finish");
    let mut later = new_run(&jenkins.id, &build, at(5));
    later.next_poll_at = at(100);
    let later = store.create_run(&later).expect("run");
    let lease = Duration::seconds(30);

    let a = store
        .claim_due_runs("replica-a", at(10), lease, 10)
        .expect("claim");
    let ids: Vec<&str> = a.iter().map(|run| run.id.as_str()).collect();
    assert_eq!(ids, vec![first.id.as_str(), second.id.as_str()]);
    assert!(a.iter().all(|run| run.status == RunStatus::Queued));
    assert!(
        store
            .claim_due_runs("replica-b", at(10), lease, 10)
            .expect("claim")
            .is_empty()
    );

    // A poll's outcome gives the lease back; a failed poll too.
    store
        .update_run(
            &first.id,
            &RunUpdate {
                status: RunStatus::Running,
                next_poll_at: Some(at(20)),
                finished_at: None,
                ..finished(11)
            },
        )
        .expect("update");
    store.defer_run(&second.id, at(25), 1).expect("defer");
    assert!(
        store
            .claim_due_runs("replica-b", at(19), lease, 10)
            .expect("claim")
            .is_empty()
    );
    let b = store
        .claim_due_runs("replica-b", at(25), lease, 10)
        .expect("claim");
    let ids: Vec<(&str, RunStatus, i32)> = b
        .iter()
        .map(|run| (run.id.as_str(), run.status, run.poll_failures))
        .collect();
    assert_eq!(
        ids,
        vec![
            (first.id.as_str(), RunStatus::Running, 0),
            (second.id.as_str(), RunStatus::Queued, 1)
        ]
    );

    // Expired leases are taken over; finished runs never come back.
    let c = store
        .claim_due_runs("replica-c", at(55), lease, 1)
        .expect("claim");
    assert_eq!(c.len(), 1);
    let c = store
        .claim_due_runs("replica-c", at(1000), lease, 10)
        .expect("claim");
    let mut ids: Vec<String> = c.into_iter().map(|run| run.id).collect();
    ids.sort();
    let mut expected = vec![later.id.clone(), first.id.clone(), second.id.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(matches!(
        store.defer_run("no-such-run", at(0), 1),
        Err(StoreError::NotFound(Subject::Run))
    ));
}

/// Four owners claim at once, again and again: every item goes to exactly one of them.
fn concurrent_claims_never_overlap(backend: Backend) {
    let store = Arc::new(store(backend));
    let mut integration_ids = BTreeSet::new();
    for i in 0..24 {
        integration_ids.insert(create_integration(&store, &format!("Jenkins {i}")).id);
    }
    let first = integration_ids.first().cloned().expect("one");
    store
        .apply_discovery(&first, &[found("build")], at(0))
        .expect("sync");
    let build = pipeline_id(&store, &first, "build");
    let mut run_ids = BTreeSet::new();
    for i in 0..24 {
        run_ids.insert(
            store
                .create_run(&new_run(&first, &build, at(i)))
                .expect("run")
                .id,
        );
    }

    let threads: Vec<_> = (0..4)
        .map(|owner| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let owner = format!("replica-{owner}");
                let mut integrations = Vec::new();
                let mut runs = Vec::new();
                for _ in 0..10 {
                    integrations.extend(
                        store
                            .claim_due_integrations(&owner, at(100), Duration::seconds(60), 2)
                            .expect("claim integrations"),
                    );
                    runs.extend(
                        store
                            .claim_due_runs(&owner, at(100), Duration::seconds(60), 2)
                            .expect("claim runs")
                            .into_iter()
                            .map(|run| run.id),
                    );
                }
                (integrations, runs)
            })
        })
        .collect();
    let mut claimed_integrations = Vec::new();
    let mut claimed_runs = Vec::new();
    for thread in threads {
        let (integrations, runs) = thread.join().expect("thread");
        claimed_integrations.extend(integrations);
        claimed_runs.extend(runs);
    }
    claimed_integrations.sort();
    claimed_runs.sort();
    assert_eq!(
        claimed_integrations,
        integration_ids.into_iter().collect::<Vec<_>>()
    );
    assert_eq!(claimed_runs, run_ids.into_iter().collect::<Vec<_>>());
}

fn failed_checks_and_discoveries_are_retried_soon_backing_off(backend: Backend) {
    let store = store(backend);
    let jenkins = create_integration(&store, "Jenkins");
    let schedule = CheckSchedule {
        interval: Duration::seconds(300),
        first_retry: Duration::seconds(10),
    };
    let lease = Duration::seconds(5);
    // Whether the integration is due at `when` (claimed and released at once).
    let due_at = |when: i64| {
        let claimed = store
            .claim_due_integrations("probe", at(when), lease, 10)
            .expect("claim");
        for id in &claimed {
            store.release_integration(id, "probe").expect("release");
        }
        claimed == vec![jenkins.id.clone()]
    };

    // Failures in a row: retried after 10 s, then 20 s, then 40 s.
    let mut now = 0;
    for delay in [10, 20, 40] {
        store
            .record_check(&jenkins.id, &check(false, now), at(now), schedule)
            .expect("record");
        assert!(!due_at(now + delay - 1), "not before {delay} s");
        assert!(due_at(now + delay), "after {delay} s");
        now += delay;
    }
    // A success goes back to the interval.
    store
        .record_check(&jenkins.id, &check(true, now), at(now), schedule)
        .expect("record");
    assert!(!due_at(now + 299));
    assert!(due_at(now + 300));
    // A discovery that fails after a good check is retried soon too.
    store
        .record_sync_failure(&jenkins.id, at(now), schedule)
        .expect("record");
    assert!(!due_at(now + 9));
    assert!(due_at(now + 10));
    assert_eq!(
        store.get_integration(&jenkins.id).expect("get").status,
        IntegrationStatus::Connected,
        "a failed discovery does not change what the check found"
    );
    assert!(matches!(
        store.record_sync_failure("no-such-integration", at(now), schedule),
        Err(StoreError::NotFound(Subject::Integration))
    ));
}

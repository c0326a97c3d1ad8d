//! A fresh database per test, and builders for what the tests store.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use switchboard_domain::integration::{CreateIntegrationRequest, Integration};
use switchboard_domain::pipeline::{
    LastBuild, ParameterDefinition, ParameterType, PipelineKind, RunStatus,
};
use switchboard_domain::tools::JENKINS;
use switchboard_store::{
    DatabaseUrl, DiscoveredPipeline, KeySource, Keyring, MasterKey, NewRun, Sealer, Store,
};

pub use switchboard_test_support::{Backend, PgDatabase};

/// Runs `$test(Backend)` once on SQLite and once on PostgreSQL (see
/// `switchboard_test_support::postgres_enabled`).
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        switchboard_test_support::on_both_backends!($($test),*);
    };
}

/// A migrated store on a database of its own.
pub struct TestStore {
    pub store: Store,
    _dir: tempfile::TempDir,
    // Dropped after the store and its pool.
    _pg: Option<PgDatabase>,
}

impl std::ops::Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

pub fn store(backend: Backend) -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (url, pg) = match backend {
        Backend::Sqlite => (DatabaseUrl::Sqlite(dir.path().join("test.db")), None),
        Backend::Postgres => {
            let pg = PgDatabase::create("switchboard_store_test");
            (DatabaseUrl::Postgres(pg.url().to_owned()), Some(pg))
        }
    };
    let sealer = Sealer::new(
        KeySource::Environment,
        Keyring::new(MasterKey::generate().expect("key"), Vec::new()),
    );
    let store = Store::open(url, 4, sealer, true).expect("open and migrate");
    TestStore {
        store,
        _dir: dir,
        _pg: pg,
    }
}

/// A fixed instant, so tests can step time by hand.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .single()
        .expect("valid time")
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

pub fn create_integration(store: &Store, name: &str) -> Integration {
    let request = CreateIntegrationRequest {
        name: name.to_owned(),
        tool: "jenkins".to_owned(),
        urls: BTreeMap::from([("apiUrl".to_owned(), "https://ci.example.com/".to_owned())]),
        credentials: BTreeMap::from([
            ("username".to_owned(), Some("alice".to_owned())),
            ("apiToken".to_owned(), Some("0123456789abcdef".to_owned())),
        ]),
        business_need: None,
    };
    let draft = request.parse(&JENKINS).expect("valid integration");
    store
        .create_integration(&draft, "admin", None, &by_test("integration.created"))
        .expect("create integration")
}

/// A job at `path` (folders joined with `/`), with one parameter and no last build.
pub fn found(path: &str) -> DiscoveredPipeline {
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    DiscoveredPipeline {
        full_path: path.to_owned(),
        name: name.to_owned(),
        folder: folder.to_owned(),
        kind: PipelineKind::Pipeline,
        url: format!("https://ci.example.com/job/{}/", path.replace('/', "/job/")),
        buildable: true,
        parameters: vec![ParameterDefinition {
            name: "ENV".to_owned(),
            kind: ParameterType::Choice,
            description: Some("Target".to_owned()),
            default: Some(serde_json::json!("staging")),
            choices: vec!["staging".to_owned(), "production".to_owned()],
        }],
        last_build: None,
    }
}

pub fn with_build(mut pipeline: DiscoveredPipeline, number: i64) -> DiscoveredPipeline {
    pipeline.last_build = Some(LastBuild {
        number,
        status: RunStatus::Succeeded,
        started_at: Some(t0()),
        url: Some(format!("{}{number}/", pipeline.url)),
    });
    pipeline
}

/// The id of the pipeline at `path` of an integration (removed or not).
pub fn pipeline_id(store: &Store, integration_id: &str, path: &str) -> String {
    let (items, _) = store
        .list_pipelines(&switchboard_store::PipelineQuery {
            limit: 100,
            integration_id: Some(integration_id.to_owned()),
            include_removed: true,
            ..Default::default()
        })
        .expect("list pipelines");
    items
        .into_iter()
        .find(|pipeline| pipeline.full_path == path)
        .map(|pipeline| pipeline.id)
        .expect("pipeline exists")
}

pub fn new_run(integration_id: &str, pipeline_id: &str, now: DateTime<Utc>) -> NewRun {
    NewRun {
        pipeline_id: pipeline_id.to_owned(),
        integration_id: integration_id.to_owned(),
        parameters: BTreeMap::from([("ENV".to_owned(), serde_json::json!("staging"))]),
        secret_values: Vec::new(),
        handle_json: r#"{"pipeline_path":"deploy","queue_ref":"17","build_ref":null}"#.to_owned(),
        triggered_by: "alice".to_owned(),
        now,
        next_poll_at: now,
        held_by: None,
        audit: by_test("run.triggered"),
    }
}

/// An audit entry by the test itself (as the command line).
pub fn by_test(action: &str) -> switchboard_store::NewAuditEvent {
    let actor = switchboard_store::AuditActor {
        name: "cli".into(),
        kind: Some(switchboard_domain::audit::ActorKind::Cli),
        ..Default::default()
    };
    switchboard_store::NewAuditEvent::new(&actor, action)
}

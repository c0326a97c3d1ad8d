//! Upgrades keep data: a database written by the previous landed version (its migrations, its
//! rows) opens with this one, which migrates it and still reads every integration (its
//! secrets still open), pipeline, run, user, service account, API token, tool setting,
//! approval policy and audit entry — and the audit chain it wrote still verifies and goes on.

use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use secrecy::{ExposeSecret, SecretString};
use switchboard_domain::audit::{ActorKind, actions};
use switchboard_domain::integration::IntegrationStatus;
use switchboard_domain::pipeline::RunStatus;
use switchboard_domain::token::Scope;
use switchboard_domain::user::{AccountKind, Role};
use switchboard_store::{
    AuditActor, DatabaseUrl, KeySource, Keyring, MasterKey, NewAuditEvent, NewTokenRecord,
    PipelineQuery, Sealer, Store, StoredCredential,
};

use crate::helpers::{Backend, PgDatabase};
use crate::on_both_backends;

on_both_backends!(a_database_of_the_previous_version_keeps_everything);

/// The last migration of the previous landed version.
const PREVIOUS_LAST_MIGRATION: &str = "2026-12-07-000006_audit_log";

/// This tree's migrations up to and including [`PREVIOUS_LAST_MIGRATION`]: what the previous
/// version embedded.
struct PreviousVersion(FileBasedMigrations);

impl<DB: diesel::backend::Backend> MigrationSource<DB> for PreviousVersion
where
    FileBasedMigrations: MigrationSource<DB>,
{
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        let mut migrations = self.0.migrations()?;
        migrations.sort_by_key(|migration| migration.name().to_string());
        let last = migrations
            .iter()
            .position(|migration| migration.name().to_string() == PREVIOUS_LAST_MIGRATION)
            .unwrap_or_else(|| panic!("no migration {PREVIOUS_LAST_MIGRATION}"));
        migrations.truncate(last + 1);
        Ok(migrations)
    }
}

fn migrate_to_previous<DB, C>(conn: &mut C, tree: &str)
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    FileBasedMigrations: MigrationSource<DB>,
{
    let dir = format!("{}/../../migrations/{tree}", env!("CARGO_MANIFEST_DIR"));
    let source = FileBasedMigrations::from_path(&dir).expect("migrations");
    let applied = conn
        .run_pending_migrations(PreviousVersion(source))
        .expect("the previous version's migrations");
    assert_eq!(
        applied.last().map(ToString::to_string),
        Some(
            PREVIOUS_LAST_MIGRATION
                .split('_')
                .next()
                .unwrap_or_default()
                .replace('-', "")
        ),
        "{applied:?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An audit entry as the previous version wrote it: its hash computed here from the
/// documented format (SHA-256 of a JSON array of `prev_hash` and the fields in order), so
/// a change of that format breaks this test rather than every upgraded chain.
fn previous_audit_row(
    seq: i64,
    prev_hash: &str,
    action: &str,
    target_id: &str,
) -> (String, String) {
    let at = format!("2026-11-30 10:0{seq}:00");
    let fields = serde_json::json!([
        prev_hash,
        seq,
        format!("audit-{seq}"),
        format!("2026-11-30T10:0{seq}:00.000000Z"),
        "u1",
        "admin",
        "person",
        null,
        action,
        "user",
        target_id,
        "release-bot",
        "success",
        "127.0.0.1",
        "curl/8",
        format!("request-{seq}"),
        "[]",
        null,
    ]);
    let hash =
        hex(ring::digest::digest(&ring::digest::SHA256, fields.to_string().as_bytes()).as_ref());
    let row = format!(
        "INSERT INTO audit_events (seq, id, at, actor_id, actor, actor_kind, token_id, action, target_type,
             target_id, target, outcome, client_address, user_agent, request_id, changes, detail, prev_hash, hash)
           VALUES ({seq}, 'audit-{seq}', '{at}', 'u1', 'admin', 'person', NULL, '{action}', 'user',
             '{target_id}', 'release-bot', 'success', '127.0.0.1', 'curl/8', 'request-{seq}', '[]', NULL,
             '{prev_hash}', '{hash}');"
    );
    (row, hash)
}

fn a_database_of_the_previous_version_keeps_everything(backend: Backend) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pg = (backend == Backend::Postgres).then(|| PgDatabase::create("switchboard_upgrade"));
    let sealer = Sealer::new(
        KeySource::Environment,
        Keyring::new(MasterKey::generate().expect("key"), Vec::new()),
    );
    let integration_id = "0193a1b2-0000-7000-8000-000000000001";
    let token = "jenkins-api-token-0123456789";
    let sealed = sealer
        .seal(integration_id, "apiToken", &SecretString::from(token))
        .expect("seal");

    // Rows as the previous version wrote them (its columns only).
    let blob = match backend {
        Backend::Sqlite => format!("X'{}'", hex(&sealed.blob)),
        Backend::Postgres => format!("decode('{}', 'hex')", hex(&sealed.blob)),
    };
    let previous_token = "sbs_previous-version-token";
    let (token_key_id, token_hash) = sealer
        .token_digests(previous_token)
        .into_iter()
        .next()
        .expect("a digest under the current key");
    let genesis = "0".repeat(64);
    let (first_entry, first_hash) =
        previous_audit_row(1, &genesis, "service_account.created", "u2");
    let (second_entry, second_hash) = previous_audit_row(2, &first_hash, "token.created", "t1");
    let rows = format!(
        "INSERT INTO users (id, username, password_hash, role, disabled, session_epoch, created_at, updated_at, version, kind, created_by)
           VALUES ('u1', 'admin', 'pbkdf2$stored-hash', 'admin', FALSE, 2, '2026-11-30 10:00:00', '2026-11-30 10:00:00', 4, 'person', NULL),
                  ('u2', 'release-bot', '', 'operator', FALSE, 0, '2026-11-30 10:00:00', '2026-11-30 10:00:00', 1, 'service_account', 'admin');
         INSERT INTO api_tokens (id, owner_id, name, token_hash, key_id, scopes, created_at, created_by, expires_at,
             last_used_at, last_used_from, revoked_at, revoked_by)
           VALUES ('t1', 'u2', 'deploys', '{token_hash}', '{token_key_id}', 'read,trigger', '2026-11-30 10:00:00', 'admin',
             '2126-11-30 10:00:00', '2026-11-30 10:09:00', '127.0.0.7', NULL, NULL);
         {first_entry}
         {second_entry}
         UPDATE audit_head SET seq = 2, hash = '{second_hash}' WHERE id = 1;
         INSERT INTO approval_policy (id, enabled, approvals_required, open_days, version, updated_at, updated_by)
           VALUES (1, FALSE, 2, 7, 3, '2026-11-30 10:00:00', 'admin');
         INSERT INTO tool_settings (tool_id, enabled, updated_at, updated_by)
           VALUES ('buildbot', FALSE, '2026-11-30 10:00:00', 'admin');
         INSERT INTO integrations (id, name, name_key, tool, urls, status, version, created_at, updated_at, created_by,
             last_check, last_sync, next_check_at, lease_owner, lease_until)
           VALUES ('{integration_id}', 'Jenkins', 'jenkins', 'jenkins', '{{\"apiUrl\":\"https://ci.example.com/\"}}',
             'connected', 3, '2026-11-30 10:00:00', '2026-11-30 10:05:00', 'admin', NULL, NULL,
             '2026-11-30 10:10:00', NULL, NULL);
         INSERT INTO integration_credentials (integration_id, field, plain_value, sealed_value, key_id, updated_at)
           VALUES ('{integration_id}', 'username', 'alice', NULL, NULL, '2026-11-30 10:00:00'),
                  ('{integration_id}', 'apiToken', NULL, {blob}, '{key_id}', '2026-11-30 10:00:00');
         INSERT INTO pipelines (id, integration_id, full_path, path_key, name, folder, kind, url, buildable,
             parameters, last_build, removed_at, discovered_at, updated_at)
           VALUES ('p1', '{integration_id}', 'platform/deploy', 'platform/deploy', 'deploy', 'platform', 'pipeline',
             'https://ci.example.com/job/platform/job/deploy/', TRUE, '[]', NULL, NULL,
             '2026-11-30 10:01:00', '2026-11-30 10:01:00');
         INSERT INTO runs (id, pipeline_id, integration_id, status, parameters, handle, build_number, build_url,
             detail, triggered_by, created_at, started_at, finished_at, duration_ms, updated_at, next_poll_at,
             poll_failures, lease_owner, lease_until)
           VALUES ('r1', 'p1', '{integration_id}', 'succeeded', '{{}}',
             '{{\"pipeline_path\":\"platform/deploy\",\"queue_ref\":\"17\",\"build_ref\":\"5\"}}', 5,
             'https://ci.example.com/job/platform/job/deploy/5/', NULL, 'admin', '2026-11-30 10:02:00',
             '2026-11-30 10:02:01', '2026-11-30 10:03:00', 59000, '2026-11-30 10:03:00', NULL, 0, NULL, NULL);",
        key_id = sealed.key_id,
    );
    let url = match (&pg, backend) {
        (Some(pg), _) => {
            let mut conn = PgConnection::establish(pg.url()).expect("connect");
            migrate_to_previous(&mut conn, "postgres");
            conn.batch_execute(&rows).expect("previous rows");
            DatabaseUrl::Postgres(pg.url().to_owned())
        }
        (None, _) => {
            let path = dir.path().join("previous.db");
            let mut conn = SqliteConnection::establish(&path.to_string_lossy()).expect("open");
            migrate_to_previous(&mut conn, "sqlite");
            conn.batch_execute(&rows).expect("previous rows");
            DatabaseUrl::Sqlite(path)
        }
    };

    // This version opens it, migrating.
    let store = Store::open(url, 2, sealer, true).expect("open and migrate");
    let integration = store.get_integration(integration_id).expect("integration");
    assert_eq!(integration.name, "Jenkins");
    assert_eq!(integration.status, IntegrationStatus::Connected);
    assert_eq!(integration.version, 3);
    assert_eq!(integration.pipelines, 1);
    let credentials = store.open_credentials(integration_id).expect("credentials");
    match credentials.get("apiToken") {
        Some(StoredCredential::Secret(secret)) => assert_eq!(secret.expose_secret(), token),
        other => panic!("the sealed token opens: {other:?}"),
    }
    assert!(matches!(
        credentials.get("username"),
        Some(StoredCredential::Plain(name)) if name == "alice"
    ));

    let (pipelines, _) = store
        .list_pipelines(&PipelineQuery {
            limit: 10,
            ..Default::default()
        })
        .expect("pipelines");
    assert_eq!(pipelines.len(), 1);
    assert_eq!(pipelines[0].full_path, "platform/deploy");
    let run = store.get_run("r1").expect("run");
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.build_number, Some(5));
    // A run from before password parameters were kept has none to mask in its log.
    let (for_log, secrets) = store.run_for_log("r1").expect("run for its log");
    assert_eq!(for_log.integration_id, integration_id);
    assert!(secrets.is_empty());

    let admin = store
        .find_user_by_username("admin")
        .expect("read")
        .expect("admin");
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.session_epoch, 2);
    assert_eq!(admin.version, 4);
    assert_eq!(
        admin.kind,
        AccountKind::Person,
        "every existing user is a person"
    );
    let buildbot = store.tool_setting("buildbot").expect("setting");
    assert!(!buildbot.enabled);
    assert_eq!(buildbot.version, 1);
    assert_eq!(store.tool_setting("jenkins").expect("setting").version, 0);

    // The approval policy the previous version kept is kept: a start does not reset it.
    let policy = store.ensure_approval_policy(true).expect("start");
    assert!(!policy.enabled);
    assert_eq!(
        (policy.approvals_required, policy.open_days, policy.version),
        (2, 7, 3)
    );

    // The service account and its token are kept, and the token still opens the door.
    let bot = store
        .find_user_by_username("release-bot")
        .expect("read")
        .expect("the service account");
    assert_eq!(bot.kind, AccountKind::ServiceAccount);
    assert_eq!(bot.role, Role::Operator);
    let kept = store
        .token_by_value(previous_token)
        .expect("lookup")
        .expect("the previous version's token is found by its keyed hash");
    assert_eq!(kept.token.id, "t1");
    assert_eq!(kept.token.scopes, vec![Scope::Read, Scope::Trigger]);
    assert_eq!(kept.owner.username, "release-bot");
    // The chain it wrote verifies before anything is added.
    let verified = store.verify_audit().expect("verify");
    assert!(verified.ok, "{verified:?}");
    assert_eq!(verified.checked, 2);

    // New tokens and service accounts, chained after the previous entries.
    let cli = AuditActor {
        name: "cli".into(),
        kind: Some(ActorKind::Cli),
        ..Default::default()
    };
    let minted = store
        .create_token(
            NewTokenRecord {
                owner_id: "u1",
                owner_kind: AccountKind::Person,
                name: "after the upgrade",
                scopes: &[Scope::Read],
                expires_at: chrono::Utc::now() + chrono::TimeDelta::days(1),
                created_by: "admin",
                value: "sbp_value-for-the-upgrade-test",
            },
            &NewAuditEvent::new(&cli, actions::TOKEN_CREATED),
        )
        .expect("a token for an existing user");
    let found = store
        .token_by_value("sbp_value-for-the-upgrade-test")
        .expect("lookup")
        .expect("found by its keyed hash");
    assert_eq!(found.token.id, minted.id);
    assert_eq!(found.owner.username, "admin");
    let bot = store
        .create_service_account(
            "nightly-bot",
            Role::Operator,
            "admin",
            &NewAuditEvent::new(&cli, actions::SERVICE_ACCOUNT_CREATED),
        )
        .expect("service account");
    assert_eq!(bot.kind, AccountKind::ServiceAccount);
    let verified = store.verify_audit().expect("verify");
    assert!(verified.ok, "{verified:?}");
    assert_eq!(verified.checked, 4);

    // And it is writable with the new columns: a versioned update.
    store
        .set_tool_enabled(
            "buildbot",
            true,
            "admin",
            Some(1),
            &NewAuditEvent::new(&cli, actions::TOOL_CHANGED),
        )
        .expect("conditional update");
    let verified = store.verify_audit().expect("verify");
    assert!(verified.ok, "{verified:?}");
    assert_eq!(verified.checked, 5);
    drop(store);
    drop(pg);
}

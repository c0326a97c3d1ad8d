use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, fields, jenkins, problem};
use crate::on_both_backends;

on_both_backends!(
    lifecycle_create_read_rename_replace_token_delete,
    names_are_unique_ignoring_case,
    stale_if_match_is_refused_and_changes_nothing,
    unknown_or_switched_off_tools_are_refused_naming_the_approved_ones,
    each_validation_rule_names_its_field_and_stores_nothing,
    a_failed_update_changes_nothing,
    lists_page_through_every_integration_in_name_order_with_filters,
    lists_show_changes_made_by_this_or_another_replica_at_once,
);

async fn count(app: &TestApp) -> usize {
    app.get_json("/api/v1/integrations?limit=200").await["items"]
        .as_array()
        .map_or(0, Vec::len)
}

async fn lifecycle_create_read_rename_replace_token_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());

    let response = app
        .post_json("/api/v1/integrations", token, &jenkins("  Jenkins  "))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let created: Value = response.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(location, format!("/api/v1/integrations/{id}"));
    assert_eq!(created["name"], "Jenkins", "trimmed");
    assert_eq!(created["tool"], "jenkins");
    assert_eq!(
        created["urls"],
        json!({"apiUrl": "https://jenkins.example.com/"})
    );
    assert_eq!(created["credentials"]["username"], "alice");
    assert_eq!(created["credentials"]["apiToken"]["configured"], true);
    assert!(created["credentials"]["apiToken"]["updated_at"].is_string());
    // Saving checks the connection: the test resolver knows no jenkins.example.com.
    assert_eq!(created["status"], "failed");
    assert_eq!(created["last_check"]["category"], "dns");
    assert_eq!(created["version"], 1);
    assert_eq!(created["created_by"], "admin");

    let read = app.get(&location, token).await;
    assert_eq!(read.headers()["etag"], "\"1\"");
    let read: Value = read.json().await.expect("json");
    assert_eq!(read, created);

    let renamed = app
        .request(Method::PATCH, &location, token)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Jenkins (production)"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(renamed.headers()["etag"], "\"2\"");
    let renamed: Value = renamed.json().await.expect("json");
    assert_eq!(renamed["name"], "Jenkins (production)");
    assert_eq!(
        renamed["credentials"], created["credentials"],
        "absent credentials are kept"
    );
    // The answer is built from what was saved, not read back: it must be what is stored.
    assert_eq!(app.get_json(&location).await, renamed);

    let replaced = app
        .patch_json(
            &location,
            token,
            &json!({"credentials": {"apiToken": "a-brand-new-token"}}),
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced: Value = replaced.json().await.expect("json");
    assert_eq!(replaced["version"], 3);
    assert_eq!(app.get_json(&location).await, replaced);
    assert_eq!(replaced["credentials"]["apiToken"]["configured"], true);
    assert_ne!(
        replaced["credentials"]["apiToken"]["updated_at"],
        created["credentials"]["apiToken"]["updated_at"]
    );
    let opened = app.store().open_credentials(&id).expect("open");
    assert!(format!("{opened:?}").contains("Secret([REDACTED])"));
    match opened.get("apiToken") {
        Some(switchboard_store::StoredCredential::Secret(secret)) => {
            assert_eq!(
                secrecy::ExposeSecret::expose_secret(secret),
                "a-brand-new-token"
            );
        }
        other => panic!("apiToken not sealed: {other:?}"),
    }

    // A new URL set on the same origin keeps the stored token (another origin needs it again:
    // attacks.rs).
    let urls = app
        .patch_json(&location, token, &json!({"urls": {"apiUrl": "https://jenkins.example.com/jenkins/", "docs": "https://jenkins.example.com/wiki/ci"}}))
        .await;
    let urls: Value = urls.json().await.expect("json");
    assert_eq!(urls["urls"]["docs"], "https://jenkins.example.com/wiki/ci");
    assert_eq!(app.get_json(&location).await, urls);

    let listed = app.get_json("/api/v1/integrations").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["next_cursor"], Value::Null);

    let deleted = app
        .request(Method::DELETE, &location, token)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    problem(app.get(&location, token).await, StatusCode::NOT_FOUND).await;
    problem(
        app.request(Method::DELETE, &location, token)
            .send()
            .await
            .expect("delete"),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        app.store().open_credentials(&id).expect("query").is_empty(),
        "credentials deleted with it"
    );
}

async fn names_are_unique_ignoring_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    app.create(&jenkins("Jenkins")).await;
    let other = app.create(&jenkins("Other")).await;

    let duplicate = problem(
        app.post_json("/api/v1/integrations", token, &jenkins(" JENKINS "))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(duplicate["code"], "name_taken");
    assert!(
        duplicate["detail"]
            .as_str()
            .is_some_and(|d| d.contains("JENKINS"))
    );

    let path = format!("/api/v1/integrations/{}", other["id"].as_str().expect("id"));
    let rename = problem(
        app.patch_json(&path, token, &json!({"name": "jenkins"}))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(rename["code"], "name_taken");
    assert_eq!(app.get_json(&path).await, other, "unchanged");
    assert_eq!(count(&app).await, 2);

    // Renaming to a different case of its own name is allowed.
    let recased = app
        .patch_json(&path, token, &json!({"name": "OTHER"}))
        .await;
    assert_eq!(recased.status(), StatusCode::OK);
}

async fn stale_if_match_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let created = app.create(&jenkins("Jenkins")).await;
    let path = format!(
        "/api/v1/integrations/{}",
        created["id"].as_str().expect("id")
    );
    let first = app
        .request(Method::PATCH, &path, token)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "First"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(first.status(), StatusCode::OK);
    let after_first = app.get_json(&path).await;

    let stale = app
        .request(Method::PATCH, &path, token)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Second", "credentials": {"apiToken": "other-token"}}))
        .send()
        .await
        .expect("patch");
    let stale = problem(stale, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(stale["code"], "version_mismatch");
    assert_eq!(app.get_json(&path).await, after_first, "nothing changed");

    let stale_delete = app
        .request(Method::DELETE, &path, token)
        .header("if-match", "\"1\"")
        .send()
        .await
        .expect("delete");
    problem(stale_delete, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(app.get_json(&path).await, after_first, "not deleted");

    for never_matches in ["yesterday", "W/\"2\"", "\"\""] {
        let refused = app
            .request(Method::PATCH, &path, token)
            .header("if-match", never_matches)
            .json(&json!({}))
            .send()
            .await
            .expect("patch");
        assert_eq!(
            problem(refused, StatusCode::PRECONDITION_FAILED).await["code"],
            "version_mismatch",
            "{never_matches}"
        );
    }
    let bare = app
        .request(Method::PATCH, &path, token)
        .header("if-match", "2")
        .json(&json!({}))
        .send()
        .await
        .expect("patch");
    assert_eq!(
        bare.status(),
        StatusCode::OK,
        "an unquoted version is accepted"
    );

    let current = app
        .request(Method::DELETE, &path, token)
        .header("if-match", "\"3\"")
        .send()
        .await
        .expect("delete");
    assert_eq!(current.status(), StatusCode::NO_CONTENT);
}

async fn unknown_or_switched_off_tools_are_refused_naming_the_approved_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let mut body = jenkins("GitLab");
    body["tool"] = json!("gitlab");
    let refused = problem(
        app.post_json("/api/v1/integrations", token, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["code"], "tool_not_approved");
    assert_eq!(fields(&refused), vec!["tool"]);
    let detail = refused["detail"].as_str().expect("detail");
    assert!(
        detail.contains("jenkins") && detail.contains("buildbot"),
        "{detail}"
    );

    let tools = app.get_json("/api/v1/tools").await;
    let ids: Vec<&str> = tools["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["jenkins", "buildbot"]);
    let jenkins_tool = &tools["items"][0];
    assert_eq!(jenkins_tool["enabled"], true);
    assert_eq!(jenkins_tool["url_fields"][0]["key"], "apiUrl");
    assert_eq!(jenkins_tool["url_fields"][0]["required"], true);
    let token_field = jenkins_tool["credential_fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["key"] == "apiToken")
        .expect("apiToken");
    assert_eq!(token_field["secret"], true);
    assert!(token_field["help"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(
        jenkins_tool["capabilities"]
            .as_array()
            .is_some_and(|c| c.contains(&json!("trigger")))
    );

    let off = app
        .patch_json("/api/v1/tools/jenkins", token, &json!({"enabled": false}))
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    let refused = problem(
        app.post_json("/api/v1/integrations", token, &jenkins("Jenkins"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["code"], "tool_not_approved");
    let detail = refused["detail"].as_str().expect("detail");
    assert!(
        detail.contains("switched off")
            && detail.contains("buildbot")
            && !detail.contains("jenkins,"),
        "{detail}"
    );
    assert_eq!(
        app.get_json("/api/v1/tools").await["items"][0]["enabled"],
        false
    );
    assert_eq!(count(&app).await, 0);

    problem(
        app.patch_json("/api/v1/tools/gitlab", token, &json!({"enabled": true}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.patch_json("/api/v1/tools/jenkins", token, &json!({"enabled": true}))
        .await;
    app.create(&jenkins("Jenkins")).await;
}

async fn each_validation_rule_names_its_field_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut body = jenkins("Jenkins");
        edit(&mut body);
        body
    };
    let too_many_urls: serde_json::Map<String, Value> =
        std::iter::once(("apiUrl".to_owned(), json!("https://j.example.com/")))
            .chain((0..21).map(|i| {
                (
                    format!("extra{i}"),
                    json!(format!("https://x{i}.example.com/")),
                )
            }))
            .collect();
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "blank name",
            with(&|b| b["name"] = json!("   ")),
            "name",
            "blank",
        ),
        (
            "name over 100",
            with(&|b| b["name"] = json!("n".repeat(101))),
            "name",
            "too_long",
        ),
        (
            "missing apiUrl",
            with(&|b| b["urls"] = json!({})),
            "urls.apiUrl",
            "required",
        ),
        (
            "bad URL key",
            with(&|b| b["urls"]["9lives"] = json!("https://x.example.com/")),
            "urls.9lives",
            "invalid_format",
        ),
        (
            "relative URL",
            with(&|b| b["urls"]["apiUrl"] = json!("/jenkins")),
            "urls.apiUrl",
            "invalid_url",
        ),
        (
            "no host",
            with(&|b| b["urls"]["apiUrl"] = json!("http://")),
            "urls.apiUrl",
            "invalid_url",
        ),
        (
            "ftp URL",
            with(&|b| b["urls"]["apiUrl"] = json!("ftp://jenkins.example.com/")),
            "urls.apiUrl",
            "unsupported_scheme",
        ),
        (
            "user in URL",
            with(&|b| b["urls"]["apiUrl"] = json!("https://alice:pw@jenkins.example.com/")),
            "urls.apiUrl",
            "credentials_in_url",
        ),
        (
            "URL over 2048",
            with(&|b| {
                b["urls"]["apiUrl"] = json!(format!("https://j.example.com/{}", "a".repeat(2048)))
            }),
            "urls.apiUrl",
            "too_long",
        ),
        (
            "21 extra URLs",
            with(&|b| b["urls"] = Value::Object(too_many_urls.clone())),
            "urls",
            "too_many",
        ),
        (
            "unknown credential",
            with(&|b| b["credentials"]["password"] = json!("x")),
            "credentials.password",
            "unknown_field",
        ),
        (
            "missing token",
            with(&|b| {
                b["credentials"]
                    .as_object_mut()
                    .map(|c| c.remove("apiToken"));
            }),
            "credentials.apiToken",
            "required",
        ),
        (
            "missing user",
            with(&|b| b["credentials"]["username"] = Value::Null),
            "credentials.username",
            "required",
        ),
        (
            "token over 4096",
            with(&|b| b["credentials"]["apiToken"] = json!("t".repeat(4097))),
            "credentials.apiToken",
            "too_long",
        ),
        (
            "empty token",
            with(&|b| b["credentials"]["apiToken"] = json!("")),
            "credentials.apiToken",
            "blank",
        ),
    ];
    for (case, body, field, code) in cases {
        let refused = problem(
            app.post_json("/api/v1/integrations", token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(refused["code"], "validation_failed", "{case}");
        let errors = refused["errors"].as_array().expect("errors");
        assert!(
            errors.iter().any(|e| e["field"] == field
                && e["code"] == code
                && e["message"].as_str().is_some_and(|m| !m.is_empty())),
            "{case}: expected {field}/{code} in {errors:?}"
        );
    }
    // Type errors in the body are malformed bodies, not validation failures.
    let wrong_type = with(&|b| b["urls"]["apiUrl"] = json!(42));
    problem(
        app.post_json("/api/v1/integrations", token, &wrong_type)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(count(&app).await, 0, "nothing stored");

    // The limits themselves are accepted.
    let at_limits = with(&|b| {
        b["name"] = json!("n".repeat(100));
        b["urls"]["apiUrl"] = json!(format!("https://j.example.com/{}", "a".repeat(2048 - 22)));
        b["credentials"]["apiToken"] = json!("t".repeat(4096));
    });
    app.create(&at_limits).await;
}

async fn a_failed_update_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = Some(app.admin_token.as_str());
    let created = app.create(&jenkins("Jenkins")).await;
    let path = format!(
        "/api/v1/integrations/{}",
        created["id"].as_str().expect("id")
    );

    let mixed = json!({"name": "Renamed", "urls": {"apiUrl": "not a url"}, "credentials": {"apiToken": "new-token"}});
    let refused = problem(
        app.patch_json(&path, token, &mixed).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&refused), vec!["urls.apiUrl"]);
    let cleared = problem(
        app.patch_json(&path, token, &json!({"credentials": {"apiToken": null}}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&cleared), vec!["credentials.apiToken"]);
    let unknown = problem(
        app.patch_json(&path, token, &json!({"credentials": {"secretKey": "x"}}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&unknown), vec!["credentials.secretKey"]);
    problem(
        app.patch_json(&path, token, &json!({"tool": "buildbot"}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    assert_eq!(
        app.get_json(&path).await,
        created,
        "every failed update left it as it was"
    );
    let opened = app
        .store()
        .open_credentials(created["id"].as_str().expect("id"))
        .expect("open");
    match opened.get("apiToken") {
        Some(switchboard_store::StoredCredential::Secret(secret)) => {
            assert_eq!(
                secrecy::ExposeSecret::expose_secret(secret),
                "jenkins-token-0123456789"
            );
        }
        other => panic!("{other:?}"),
    }

    // An optional secret can be cleared with null.
    let buildbot = app
        .create(&json!({"name": "Buildbot", "tool": "buildbot", "urls": {"apiUrl": "http://buildbot.internal:8010/"},
            "credentials": {"username": "ci", "password": "bb-password-1"}}))
        .await;
    let path = format!(
        "/api/v1/integrations/{}",
        buildbot["id"].as_str().expect("id")
    );
    let cleared: Value = app
        .patch_json(
            &path,
            token,
            &json!({"credentials": {"password": null, "username": null}}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        cleared["credentials"],
        json!({"password": {"configured": false, "updated_at": null}})
    );
}

async fn lists_page_through_every_integration_in_name_order_with_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for name in ["delta", "Alpha", "charlie", "Bravo", "echo_50%"] {
        app.create(&jenkins(name)).await;
    }
    app.create(&json!({"name": "Buildbot main", "tool": "buildbot", "urls": {"apiUrl": "http://bb.example.com/"}, "credentials": {}}))
        .await;

    let mut names = Vec::new();
    let mut path = "/api/v1/integrations?limit=2".to_owned();
    loop {
        let page = app.get_json(&path).await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        names.extend(
            items
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned)),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/integrations?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        names,
        vec![
            "Alpha",
            "Bravo",
            "Buildbot main",
            "charlie",
            "delta",
            "echo_50%"
        ]
    );

    let buildbots = app.get_json("/api/v1/integrations?tool=buildbot").await;
    assert_eq!(buildbots["items"].as_array().map(Vec::len), Some(1));
    let matching = app.get_json("/api/v1/integrations?q=HAR").await;
    assert_eq!(matching["items"][0]["name"], "charlie");
    let literal = app.get_json("/api/v1/integrations?q=_50%25").await;
    assert_eq!(
        literal["items"].as_array().map(Vec::len),
        Some(1),
        "LIKE wildcards are matched literally"
    );
    let none = app.get_json("/api/v1/integrations?q=%25").await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(1));

    let token = Some(app.admin_token.as_str());
    for bad in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "cursor=%%%",
        "tool=gitlab",
        "colour=red",
    ] {
        let refused = problem(
            app.get(&format!("/api/v1/integrations?{bad}"), token).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(refused["code"], "invalid_parameter", "{bad}");
    }
}

async fn lists_show_changes_made_by_this_or_another_replica_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create(&jenkins("Before")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let first = app.get_json("/api/v1/integrations").await;
    assert_eq!(
        app.get_json("/api/v1/integrations").await,
        first,
        "the same page twice"
    );
    assert_eq!(first["items"][0]["name"], "Before");

    let renamed = app
        .patch_json(
            &format!("/api/v1/integrations/{id}"),
            Some(&app.admin_token),
            &json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(
        app.get_json("/api/v1/integrations").await["items"][0]["name"],
        "Renamed"
    );

    // A write by another replica on the same database shows on the next read here.
    let replica = app.other_replica();
    let change = switchboard_domain::integration::UpdateIntegrationRequest {
        name: Some("From elsewhere".into()),
        ..Default::default()
    };
    let by_cli = switchboard_store::AuditActor {
        name: "cli".into(),
        kind: Some(switchboard_domain::audit::ActorKind::Cli),
        ..Default::default()
    };
    let audit = |action| switchboard_store::NewAuditEvent::new(&by_cli, action);
    replica
        .update_integration(
            &id,
            None,
            None,
            |tool, stored| change.parse(tool, stored),
            &audit("integration.changed"),
        )
        .expect("update by the replica");
    let listed = app.get_json("/api/v1/integrations").await;
    assert_eq!(listed["items"][0]["name"], "From elsewhere");
    assert_eq!(listed["items"][0]["version"], 3);

    replica
        .delete_integration(&id, None, &audit("integration.deleted"))
        .expect("delete by the replica");
    assert_eq!(
        app.get_json("/api/v1/integrations").await["items"],
        json!([])
    );
}

//! The diesel schema, identical on SQLite and PostgreSQL (see `migrations/`).

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        session_epoch -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        kind -> Text,
        created_by -> Nullable<Text>,
    }
}

diesel::table! {
    tool_settings (tool_id) {
        tool_id -> Text,
        enabled -> Bool,
        updated_at -> Timestamp,
        updated_by -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    integrations (id) {
        id -> Text,
        name -> Text,
        name_key -> Text,
        tool -> Text,
        urls -> Text,
        status -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        created_by -> Text,
        last_check -> Nullable<Text>,
        last_sync -> Nullable<Text>,
        next_check_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        check_failures -> Integer,
        change_request_id -> Nullable<Text>,
    }
}

diesel::table! {
    integration_credentials (integration_id, field) {
        integration_id -> Text,
        field -> Text,
        plain_value -> Nullable<Text>,
        sealed_value -> Nullable<Binary>,
        key_id -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(integration_credentials -> integrations (integration_id));

diesel::table! {
    data_versions (name) {
        name -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    pipelines (id) {
        id -> Text,
        integration_id -> Text,
        full_path -> Text,
        path_key -> Text,
        name -> Text,
        folder -> Text,
        kind -> Text,
        url -> Text,
        buildable -> Bool,
        parameters -> Text,
        last_build -> Nullable<Text>,
        removed_at -> Nullable<Timestamp>,
        discovered_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(pipelines -> integrations (integration_id));

diesel::table! {
    runs (id) {
        id -> Text,
        pipeline_id -> Text,
        integration_id -> Text,
        status -> Text,
        parameters -> Text,
        handle -> Text,
        build_number -> Nullable<BigInt>,
        build_url -> Nullable<Text>,
        detail -> Nullable<Text>,
        triggered_by -> Text,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        duration_ms -> Nullable<BigInt>,
        updated_at -> Timestamp,
        next_poll_at -> Nullable<Timestamp>,
        poll_failures -> Integer,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        secret_values -> Nullable<Binary>,
        secret_values_key -> Nullable<Text>,
    }
}

diesel::joinable!(runs -> pipelines (pipeline_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    tool_settings,
    integrations,
    integration_credentials,
    data_versions,
    pipelines,
    runs
);

diesel::table! {
    idempotency_keys (principal_id, idempotency_key) {
        principal_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        response -> Nullable<Text>,
        created_at -> Timestamp,
        held_until -> Timestamp,
    }
}

diesel::table! {
    approval_policy (id) {
        id -> Integer,
        enabled -> Bool,
        approvals_required -> Integer,
        open_days -> Integer,
        version -> BigInt,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    change_requests (id) {
        id -> Text,
        kind -> Text,
        state -> Text,
        integration_id -> Nullable<Text>,
        tool -> Nullable<Text>,
        revision -> Integer,
        author_id -> Text,
        author -> Text,
        business_need -> Text,
        change -> Text,
        secret_values -> Nullable<Binary>,
        secret_values_key -> Nullable<Text>,
        base_version -> Nullable<BigInt>,
        dry_run -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    change_request_events (id) {
        id -> Text,
        request_id -> Text,
        kind -> Text,
        actor_id -> Text,
        actor -> Text,
        revision -> Integer,
        decision -> Nullable<Text>,
        body -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(change_request_events -> change_requests (request_id));

diesel::allow_tables_to_appear_in_same_query!(change_requests, change_request_events, users);

diesel::table! {
    api_tokens (id) {
        id -> Text,
        owner_id -> Text,
        name -> Text,
        token_hash -> Text,
        key_id -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        created_by -> Text,
        expires_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        last_used_from -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
    }
}

diesel::joinable!(api_tokens -> users (owner_id));

diesel::table! {
    revoked_sessions (id) {
        id -> Text,
        expires_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(api_tokens, users, revoked_sessions);

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        id -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor -> Text,
        actor_kind -> Text,
        token_id -> Nullable<Text>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        target -> Nullable<Text>,
        outcome -> Text,
        client_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        changes -> Text,
        detail -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

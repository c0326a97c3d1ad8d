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
    }
}

diesel::table! {
    tool_settings (tool_id) {
        tool_id -> Text,
        enabled -> Bool,
        updated_at -> Timestamp,
        updated_by -> Text,
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

diesel::allow_tables_to_appear_in_same_query!(
    users,
    tool_settings,
    integrations,
    integration_credentials,
    data_versions
);

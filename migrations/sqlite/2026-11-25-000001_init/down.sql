DROP TABLE integration_credentials;
DROP TABLE integrations;
DROP TABLE tool_settings;
DROP TABLE users;

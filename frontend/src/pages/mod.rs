pub mod integration_dialog;
pub mod integrations;
pub mod login;
pub mod tools;
pub mod users;

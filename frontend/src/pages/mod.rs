pub mod integration_dialog;
pub mod integrations;
pub mod login;
pub mod pipelines;
pub mod run_dialog;
pub mod runs;
pub mod tools;
pub mod users;

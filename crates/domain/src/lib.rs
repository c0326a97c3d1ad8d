//! Types shared by the Switchboard server and its web app.
//!
//! This crate knows no HTTP framework, database or DOM: it compiles to `wasm32` so the
//! browser validates input with exactly the rules the server enforces.

pub mod audit;
pub mod change_request;
pub mod check;
pub mod error;
pub mod ids;
pub mod integration;
pub mod pipeline;
pub mod token;
pub mod tools;
pub mod user;

pub use error::{ErrorCode, FieldError, FieldErrorCode, Problem, ValidationErrors};
pub use tools::{APPROVED_TOOLS, Capability, FieldSpec, ToolSpec};

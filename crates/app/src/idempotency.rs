//! `Idempotency-Key` on the requests that start something (a run, an integration): a retry
//! with the same key within 24 hours gets the first answer and never does the work twice; the
//! same key with another request is refused.

use std::future::Future;

use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchboard_store::KeyClaim;

use crate::{AppError, AppResult, Principal, Switchboard, blocking};

/// How long a first answer is kept for retries.
const KEPT: chrono::Duration = chrono::Duration::hours(24);
/// How long a request may hold its key before another one with the same key presumes it dead
/// (beyond the longest a use case waits for a tool).
const HOLD_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// An `Idempotency-Key` value: 1–255 visible ASCII characters (a UUID, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A use case's answer, and whether it is the kept answer to an earlier request with the
/// same key (the work was not done again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Once<T> {
    pub value: T,
    pub replayed: bool,
}

/// The SHA-256 (hex) of an operation and its request: what "the same request" means.
fn request_hash(operation: &str, request: &impl Serialize) -> AppResult<String> {
    let body = serde_json::to_vec(request).map_err(AppError::internal)?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(operation.as_bytes());
    context.update(b"\n");
    context.update(&body);
    Ok(context
        .finish()
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

impl Switchboard {
    /// Does `work` once per `key` (when given) for `by`'s `operation` on `request`.
    pub(crate) async fn once<T, Work, Fut>(
        &self,
        by: &Principal,
        key: Option<&IdempotencyKey>,
        operation: &str,
        request: &impl Serialize,
        work: Work,
    ) -> AppResult<Once<T>>
    where
        T: Serialize + DeserializeOwned,
        Work: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        let Some(key) = key else {
            let value = work().await?;
            return Ok(Once {
                value,
                replayed: false,
            });
        };
        let hash = request_hash(operation, request)?;
        let now = Utc::now();
        let hold = chrono::Duration::from_std(self.tooling.outbound_timeout)
            .unwrap_or(chrono::Duration::minutes(5))
            + HOLD_MARGIN;
        let claim = {
            let store = self.store.clone();
            let principal = by.id.clone();
            let key = key.as_str().to_owned();
            blocking(move || {
                Ok(store.claim_idempotent(&principal, &key, &hash, now, now + hold, now - KEPT)?)
            })
            .await?
        };
        match claim {
            KeyClaim::Answered(answer) => {
                let value = serde_json::from_str(&answer).map_err(AppError::internal)?;
                Ok(Once {
                    value,
                    replayed: true,
                })
            }
            KeyClaim::InProgress => Err(AppError::IdempotencyKeyInUse),
            KeyClaim::Reused => Err(AppError::IdempotencyKeyReused),
            KeyClaim::Claimed => {
                let outcome = work().await;
                let store = self.store.clone();
                let principal = by.id.clone();
                let key = key.as_str().to_owned();
                match outcome {
                    Ok(value) => {
                        let answer = serde_json::to_string(&value).map_err(AppError::internal)?;
                        blocking(move || Ok(store.finish_idempotent(&principal, &key, &answer)?))
                            .await?;
                        Ok(Once {
                            value,
                            replayed: false,
                        })
                    }
                    Err(err) => {
                        // Nothing was done (or it failed): a retry may try again.
                        let released =
                            blocking(move || Ok(store.release_idempotent(&principal, &key)?)).await;
                        if let Err(release) = released {
                            tracing::warn!(error = %release, "cannot release an idempotency key");
                        }
                        Err(err)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_and_not_too_long() {
        assert!(IdempotencyKey::parse("0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b").is_some());
        for bad in ["", "a b", "é", "tab\there"] {
            assert_eq!(IdempotencyKey::parse(bad), None, "{bad:?}");
        }
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_some());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_none());
    }

    #[test]
    fn the_same_request_hashes_alike_and_another_differently() {
        let body = serde_json::json!({"parameters": {"ENV": "prod"}});
        let other = serde_json::json!({"parameters": {"ENV": "staging"}});
        let hash = request_hash("create_run p1", &body).expect("hash");
        assert_eq!(hash, request_hash("create_run p1", &body).expect("hash"));
        assert_ne!(hash, request_hash("create_run p1", &other).expect("hash"));
        assert_ne!(hash, request_hash("create_run p2", &body).expect("hash"));
        assert_eq!(hash.len(), 64);
    }
}

//! Typed ids, parsed at the edge: a path segment becomes an `IntegrationId` (or another id)
//! before any use case sees it, so an id of one kind is never passed where another is meant.
//!
//! Ids are UUIDv7 text as Switchboard writes them; a parse accepts what any version of it
//! could have written (1–64 ASCII letters, digits and `-`), and nothing else: an id that
//! cannot exist names nothing, which the API answers with 404.

use std::fmt;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// `None` for text no stored id can have.
            pub fn parse(raw: &str) -> Option<Self> {
                let valid = (1..=64).contains(&raw.len())
                    && raw.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
                valid.then(|| Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// An integration's id.
    IntegrationId
);
typed_id!(
    /// A pipeline's id.
    PipelineId
);
typed_id!(
    /// A run's id.
    RunId
);
typed_id!(
    /// A user's id.
    UserId
);
typed_id!(
    /// A change request's id.
    ChangeRequestId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_what_switchboard_writes_and_nothing_else() {
        let id = "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b";
        assert_eq!(
            IntegrationId::parse(id).map(|id| id.to_string()),
            Some(id.to_owned())
        );
        assert!(RunId::parse("r1").is_some());
        for bad in ["", "a/b", "x y", "../etc", "é", &"a".repeat(65)] {
            assert_eq!(PipelineId::parse(bad), None, "{bad:?}");
        }
    }
}

//! Who is calling and what they may do.

use base64::Engine as _;

use crate::config::Permission;
use crate::sim::{ItemId, State};

/// The caller after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    /// A configured user (index into `State::users`); `by_token` when an API token was used,
    /// which exempts the request from CSRF crumbs.
    User {
        index: usize,
        by_token: bool,
    },
}

/// The outcome of reading the `Authorization` header.
pub enum AuthOutcome {
    Ok(Principal),
    /// Wrong password or token (or unknown user): the 401 for this user name.
    Rejected(String),
}

/// Basic authentication with an API token or the password. Any other scheme is ignored
/// (the caller is anonymous), as Jenkins does without plugins for it.
pub fn authenticate(st: &State, header: Option<&str>) -> AuthOutcome {
    let Some(value) = header else {
        return AuthOutcome::Ok(Principal::Anonymous);
    };
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return AuthOutcome::Ok(Principal::Anonymous);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return AuthOutcome::Ok(Principal::Anonymous);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let Some((name, secret)) = decoded.as_deref().and_then(|s| s.split_once(':')) else {
        return AuthOutcome::Rejected(String::new());
    };
    let Some(index) = st
        .users
        .iter()
        .position(|u| u.id.eq_ignore_ascii_case(name))
    else {
        return AuthOutcome::Rejected(name.to_owned());
    };
    let user = &st.users[index];
    if user.tokens.iter().any(|t| ct_eq(t, secret)) {
        return AuthOutcome::Ok(Principal::User {
            index,
            by_token: true,
        });
    }
    if user.password.as_deref().is_some_and(|p| ct_eq(p, secret)) {
        return AuthOutcome::Ok(Principal::User {
            index,
            by_token: false,
        });
    }
    AuthOutcome::Rejected(name.to_owned())
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Principal {
    pub fn name<'a>(&self, st: &'a State) -> &'a str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::User { index, .. } => &st.users[*index].id,
        }
    }

    pub fn full_name(&self, st: &State) -> String {
        match self {
            Principal::Anonymous => "anonymous".to_owned(),
            Principal::User { index, .. } => st.users[*index].full_name.clone(),
        }
    }

    fn global(&self, st: &State) -> Vec<Permission> {
        match self {
            Principal::Anonymous => st.cfg.anonymous_permissions.clone(),
            Principal::User { index, .. } => st.users[*index].permissions.clone(),
        }
    }

    /// A global permission (Overall/Administer implies every permission).
    pub fn has_global(&self, st: &State, perm: Permission) -> bool {
        let g = self.global(st);
        g.contains(&Permission::OverallAdminister) || g.contains(&perm)
    }

    /// A permission on an item: global, or granted on the item or a folder above it.
    pub fn has_on(&self, st: &State, perm: Permission, item: ItemId) -> bool {
        if self.has_global(st, perm) {
            return true;
        }
        let Principal::User { index, .. } = self else {
            return false;
        };
        let path = st.path(item);
        st.users[*index].grants.iter().any(|(prefix, perms)| {
            (perms.contains(&perm) || perms.contains(&Permission::OverallAdminister))
                && prefix.len() <= path.len()
                && prefix.iter().zip(&path).all(|(a, b)| a == b)
        })
    }

    /// Visible: Job/Read on the item and on every folder above it.
    pub fn can_see(&self, st: &State, item: ItemId) -> bool {
        let mut cur = Some(item);
        while let Some(i) = cur {
            if !self.has_on(st, Permission::JobRead, i) {
                return false;
            }
            cur = st.items[i].parent;
        }
        true
    }
}

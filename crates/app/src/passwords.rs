//! Passwords: PBKDF2-HMAC-SHA256 hashes with a random salt per user, checked in constant time.

use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

use crate::AppError;

const HASH_LEN: usize = 32;
const SALT_LEN: usize = 16;

pub fn random_bytes<const N: usize>() -> Result<[u8; N], AppError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AppError::internal("system random generator failed"))?;
    Ok(bytes)
}

/// `pbkdf2-sha256$ITERATIONS$SALT$HASH`, salt and hash in base64.
pub fn hash_password(password: &str, iterations: u32) -> Result<String, AppError> {
    let rounds =
        NonZeroU32::new(iterations).ok_or_else(|| AppError::internal("zero PBKDF2 iterations"))?;
    let salt: [u8; SALT_LEN] = random_bytes()?;
    let mut hash = [0u8; HASH_LEN];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    Ok(format!(
        "pbkdf2-sha256${iterations}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(hash)
    ))
}

/// Constant-time check of `password` against a stored hash; a malformed hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Some(rounds), Ok(salt), Ok(hash)) = (
        iterations.parse().ok().and_then(NonZeroU32::new),
        STANDARD.decode(salt),
        STANDARD.decode(hash),
    ) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

/// A hash that matches nothing, checked for unknown users so that they take as long to
/// refuse as known ones.
pub fn decoy_hash(iterations: u32) -> String {
    format!(
        "pbkdf2-sha256${iterations}${}${}",
        STANDARD.encode([7u8; SALT_LEN]),
        STANDARD.encode([0u8; HASH_LEN])
    )
}

/// A fresh password for the first administrator: 24 URL-safe characters (144 bits).
pub fn generate_password() -> Result<String, AppError> {
    let bytes: [u8; 18] = random_bytes()?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

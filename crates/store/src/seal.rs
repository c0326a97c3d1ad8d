//! Credentials sealed at rest: AES-256-GCM with a fresh nonce per value and the integration
//! id plus field name as associated data, so a sealed value opens only in its own row.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};

use crate::key_file;

pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the master key must be {KEY_LEN} bytes in standard base64 ({0})")]
    BadKey(String),
    #[error("cannot read or write the key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a value is sealed with key {0}, which this server does not have")]
    UnknownKey(String),
    #[error("a sealed value failed to open: it was altered or belongs to another row")]
    Tampered,
    #[error("the system random generator failed")]
    Random,
}

/// A 256-bit master key with its public id (a digest prefix, safe to store and log).
pub struct MasterKey {
    id: String,
    key: LessSafeKey,
    raw: [u8; KEY_LEN],
}

impl MasterKey {
    pub fn from_base64(encoded: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|err| SealError::BadKey(err.to_string()))?;
        let raw: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|bytes: Vec<u8>| SealError::BadKey(format!("got {} bytes", bytes.len())))?;
        Self::from_bytes(raw)
    }

    pub fn generate() -> Result<Self, SealError> {
        let mut raw = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| SealError::Random)?;
        Self::from_bytes(raw)
    }

    fn from_bytes(raw: [u8; KEY_LEN]) -> Result<Self, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, &raw)
            .map_err(|_| SealError::BadKey("rejected by AES-256-GCM".into()))?;
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(b"switchboard master key id\0");
        context.update(&raw);
        let id = context.finish().as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            id,
            key: LessSafeKey::new(unbound),
            raw,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.raw)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

/// The keys a server can open values with; the first one seals new values.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Self {
        let mut keys = vec![current];
        keys.extend(previous);
        Self { keys }
    }

    pub fn current(&self) -> &MasterKey {
        &self.keys[0]
    }

    fn find(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|key| key.id == id)
    }
}

/// Where the keyring comes from, so it can be read again after `rotate-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `SWITCHBOARD_MASTER_KEY` (and optional previous keys), fixed for the process.
    Environment,
    /// A 0600 file of base64 keys, one per line, the current one first.
    File(PathBuf),
}

/// A sealed credential: the key id and `nonce || ciphertext || tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub key_id: String,
    pub blob: Vec<u8>,
}

pub struct Sealer {
    source: KeySource,
    ring: RwLock<Keyring>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn associated_data(integration_id: &str, field: &str) -> Vec<u8> {
    let mut aad = b"switchboard credential v1\0".to_vec();
    aad.extend_from_slice(integration_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(field.as_bytes());
    aad
}

impl Sealer {
    pub fn new(source: KeySource, ring: Keyring) -> Self {
        Self {
            source,
            ring: RwLock::new(ring),
            random: SystemRandom::new(),
        }
    }

    /// Uses the key file at `path`, creating it with one fresh key (mode 0600) if absent —
    /// under the file's lock, so that of two processes starting at once one creates the key
    /// and the other reads it. An existing file is only read (no lock: the data directory
    /// may be read-only).
    pub fn from_key_file(path: &Path) -> Result<Self, SealError> {
        if !path.exists() {
            let _lock = key_file::lock(path).map_err(key_file_error(path))?;
            if !path.exists() {
                let key = MasterKey::generate()?;
                write_key_file(path, &Keyring::new(key, Vec::new()))?;
            }
        }
        Ok(Self::new(
            KeySource::File(path.to_owned()),
            read_key_file(path)?,
        ))
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    pub fn current_key_id(&self) -> String {
        self.with_ring(|ring| ring.current().id.clone())
    }

    fn with_ring<T>(&self, f: impl FnOnce(&Keyring) -> T) -> T {
        match self.ring.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// A fingerprint of `value`: the hex HMAC-SHA256 of it under a key derived from the
    /// current master key. It tells equal values apart from different ones and reveals
    /// nothing else; callers show only its first digits.
    pub fn fingerprint(&self, value: &SecretString) -> String {
        self.with_ring(|ring| {
            let master = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &ring.current().raw);
            let derived = ring::hmac::sign(&master, b"switchboard fingerprint v1");
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref());
            ring::hmac::sign(&key, value.expose_secret().as_bytes())
                .as_ref()
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect()
        })
    }

    /// The keyed hash of an API token under every key of the ring, the current key first:
    /// `(key id, hex HMAC-SHA256)`. A token is stored under the key current at its creation
    /// and found under any key still in the ring, so rotating the master key keeps tokens
    /// working while the old key stays listed.
    pub fn token_digests(&self, token: &str) -> Vec<(String, String)> {
        self.with_ring(|ring| {
            ring.keys
                .iter()
                .map(|stored| {
                    let master = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &stored.raw);
                    let derived = ring::hmac::sign(&master, b"switchboard api token v1");
                    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref());
                    let digest: String = ring::hmac::sign(&key, token.as_bytes())
                        .as_ref()
                        .iter()
                        .map(|byte| format!("{byte:02x}"))
                        .collect();
                    (stored.id.clone(), digest)
                })
                .collect()
        })
    }

    pub fn seal(
        &self,
        integration_id: &str,
        field: &str,
        plaintext: &SecretString,
    ) -> Result<SealedValue, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let aad = associated_data(integration_id, field);
        self.with_ring(|ring| {
            let key = ring.current();
            let mut in_out = plaintext.expose_secret().as_bytes().to_vec();
            key.key
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&aad),
                    &mut in_out,
                )
                .map_err(|_| SealError::Tampered)?;
            let mut blob = nonce.to_vec();
            blob.extend_from_slice(&in_out);
            Ok(SealedValue {
                key_id: key.id.clone(),
                blob,
            })
        })
    }

    pub fn open(
        &self,
        integration_id: &str,
        field: &str,
        sealed: &SealedValue,
    ) -> Result<SecretString, SealError> {
        let known = self.with_ring(|ring| ring.find(&sealed.key_id).is_some());
        if !known {
            self.reload()?;
        }
        let aad = associated_data(integration_id, field);
        self.with_ring(|ring| {
            let key = ring
                .find(&sealed.key_id)
                .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
            if sealed.blob.len() < NONCE_LEN {
                return Err(SealError::Tampered);
            }
            let (nonce, ciphertext) = sealed.blob.split_at(NONCE_LEN);
            let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Tampered)?;
            let mut in_out = ciphertext.to_vec();
            let plain = key
                .key
                .open_in_place(nonce, Aad::from(&aad), &mut in_out)
                .map_err(|_| SealError::Tampered)?;
            let text = String::from_utf8(plain.to_vec()).map_err(|_| SealError::Tampered)?;
            Ok(SecretString::from(text))
        })
    }

    /// Reads the key file again (another process may have rotated the key).
    fn reload(&self) -> Result<(), SealError> {
        if let KeySource::File(path) = &self.source {
            let fresh = read_key_file(path)?;
            match self.ring.write() {
                Ok(mut guard) => *guard = fresh,
                Err(poisoned) => *poisoned.into_inner() = fresh,
            }
        }
        Ok(())
    }

    /// Puts a new key first in the key file (older keys stay, to open what a server that has
    /// not yet reloaded may still seal with them) and starts sealing with it.
    pub fn rotate_key_file(&self) -> Result<String, SealError> {
        let KeySource::File(path) = &self.source else {
            return Err(SealError::BadKey(
                "the key comes from SWITCHBOARD_MASTER_KEY; set the new key there".into(),
            ));
        };
        // Read, changed and written under the lock: two rotations at once would each drop
        // the other's new key.
        let _lock = key_file::lock(path).map_err(key_file_error(path))?;
        let mut keys = read_key_file(path)?.keys;
        let fresh = MasterKey::generate()?;
        let id = fresh.id.clone();
        keys.insert(0, fresh);
        let ring = Keyring { keys };
        write_key_file(path, &ring)?;
        match self.ring.write() {
            Ok(mut guard) => *guard = ring,
            Err(poisoned) => *poisoned.into_inner() = ring,
        }
        Ok(id)
    }
}

fn key_file_error(path: &Path) -> impl FnOnce(std::io::Error) -> SealError + '_ {
    move |source| SealError::KeyFile {
        path: path.to_owned(),
        source,
    }
}

fn read_key_file(path: &Path) -> Result<Keyring, SealError> {
    let text = fs::read_to_string(path).map_err(key_file_error(path))?;
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(MasterKey::from_base64)
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(SealError::BadKey(format!(
            "{} holds no key",
            path.display()
        )));
    }
    let current = keys.remove(0);
    Ok(Keyring::new(current, keys))
}

fn write_key_file(path: &Path, ring: &Keyring) -> Result<(), SealError> {
    let mut text = String::from(
        "# Switchboard master keys (base64). The first seals new values. Keep this file secret.\n",
    );
    for key in &ring.keys {
        text.push_str(&key.to_base64());
        text.push('\n');
    }
    key_file::write_atomically(path, text.as_bytes()).map_err(key_file_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(
            KeySource::Environment,
            Keyring::new(MasterKey::generate().expect("key"), Vec::new()),
        )
    }

    #[test]
    fn a_value_opens_only_in_its_own_row_and_field() {
        let sealer = sealer();
        let secret = SecretString::from("t0p-secret");
        let sealed = sealer.seal("row-1", "apiToken", &secret).expect("seal");
        assert!(!sealed.blob.windows(10).any(|w| w == b"t0p-secret"));
        let opened = sealer.open("row-1", "apiToken", &sealed).expect("open");
        assert_eq!(opened.expose_secret(), "t0p-secret");
        assert!(matches!(
            sealer.open("row-2", "apiToken", &sealed),
            Err(SealError::Tampered)
        ));
        assert!(matches!(
            sealer.open("row-1", "password", &sealed),
            Err(SealError::Tampered)
        ));
    }

    #[test]
    fn nonces_are_fresh_and_tampering_is_detected() {
        let sealer = sealer();
        let secret = SecretString::from("same");
        let a = sealer.seal("r", "f", &secret).expect("seal");
        let b = sealer.seal("r", "f", &secret).expect("seal");
        assert_ne!(a.blob, b.blob);
        let mut flipped = a.clone();
        let last = flipped.blob.len() - 1;
        flipped.blob[last] ^= 1;
        assert!(matches!(
            sealer.open("r", "f", &flipped),
            Err(SealError::Tampered)
        ));
        let unknown = SealedValue {
            key_id: "feedface".into(),
            blob: a.blob,
        };
        assert!(matches!(
            sealer.open("r", "f", &unknown),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn the_key_file_is_private_and_rotation_keeps_old_values_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let sealer = Sealer::from_key_file(&path).expect("created");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let old = sealer
            .seal("r", "f", &SecretString::from("v"))
            .expect("seal");
        let old_id = sealer.current_key_id();
        let new_id = sealer.rotate_key_file().expect("rotate");
        assert_ne!(old_id, new_id);
        assert_eq!(
            sealer
                .seal("r", "f", &SecretString::from("v"))
                .expect("seal")
                .key_id,
            new_id
        );
        assert_eq!(
            sealer
                .open("r", "f", &old)
                .expect("old opens")
                .expose_secret(),
            "v"
        );

        // A second process started before the rotation learns the new key on first sight.
        let other = Sealer::from_key_file(&path).expect("reopen");
        let newer_id = sealer.rotate_key_file().expect("rotate again");
        let newer = sealer
            .seal("r", "f", &SecretString::from("w"))
            .expect("seal");
        assert_eq!(newer.key_id, newer_id);
        assert_eq!(
            other
                .open("r", "f", &newer)
                .expect("reloads")
                .expose_secret(),
            "w"
        );
    }

    #[test]
    fn processes_starting_at_once_on_an_empty_directory_share_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("master.key");
            let start = std::sync::Arc::new(std::sync::Barrier::new(4));
            let starters: Vec<_> = (0..4)
                .map(|_| {
                    let (path, start) = (path.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        Sealer::from_key_file(&path).expect("key").current_key_id()
                    })
                })
                .collect();
            let ids: Vec<String> = starters
                .into_iter()
                .map(|starter| starter.join().expect("thread"))
                .collect();
            let on_disk = read_key_file(&path).expect("file").current().id.clone();
            assert!(ids.iter().all(|id| *id == on_disk), "{ids:?} vs {on_disk}");
        }
    }

    #[test]
    fn bad_keys_are_refused_with_the_reason() {
        assert!(matches!(
            MasterKey::from_base64("not base64!"),
            Err(SealError::BadKey(_))
        ));
        assert!(
            matches!(MasterKey::from_base64(&STANDARD.encode([0u8; 16])), Err(SealError::BadKey(m)) if m.contains("16"))
        );
    }
}

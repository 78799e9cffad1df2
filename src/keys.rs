//! The keys a kiosk trusts for invites, and the signing key of a standalone kiosk.
//!
//! A kiosk verifies invite tokens offline against: the hub's public key (stored in the local
//! store once enrolled), any keys listed in `kiosk.toml` (`invites.trusted_keys`), and, in
//! standalone mode, the public half of its own signing key, kept in the data directory as
//! `invite-signing.key` (mode 0600) and created by `lobby-kiosk invite new`.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::config::Config;
use crate::domain::invite::{decode_public_key, decode_seed, encode_seed, signing_key_from_seed};
use crate::store::Store;

/// The file name of a standalone kiosk's invite signing key inside the data directory.
pub const SIGNING_KEY_FILE: &str = "invite-signing.key";

/// The settings key under which the hub's public key is stored after enrollment.
pub const HUB_KEY_SETTING: &str = "hub_public_key";

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not hold a signing key: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("no random source available: {0}")]
    Random(String),
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SIGNING_KEY_FILE)
}

/// Loads the standalone signing key, if this kiosk has one.
pub fn load_signing_key(data_dir: &Path) -> Result<Option<SigningKey>, KeyFileError> {
    let path = key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => decode_seed(&text)
            .map(Some)
            .map_err(|e| KeyFileError::Invalid {
                path,
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyFileError::Read { path, source }),
    }
}

/// Loads the standalone signing key, creating it on first use. The file is written to a
/// temporary name, synced and renamed, so a crash never leaves half a key behind.
pub fn load_or_create_signing_key(data_dir: &Path) -> Result<SigningKey, KeyFileError> {
    if let Some(k) = load_signing_key(data_dir)? {
        return Ok(k);
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeyFileError::Random(e.to_string()))?;
    let key = signing_key_from_seed(seed);
    let path = key_path(data_dir);
    let write_err = |source| KeyFileError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(write_err)?;
    let tmp = data_dir.join(format!("{SIGNING_KEY_FILE}.{}.tmp", std::process::id()));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(write_err)?;
        writeln!(f, "{}", encode_seed(&key)).map_err(write_err)?;
        f.sync_all().map_err(write_err)?;
    }
    // Linking (unlike renaming) never replaces a key another process created meanwhile:
    // the first key stays, and every process uses it.
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return load_signing_key(data_dir)?.ok_or_else(|| KeyFileError::Invalid {
                path,
                reason: "the key file vanished while it was being created".into(),
            });
        }
        Err(e) => return Err(write_err(e)),
    }
    if let Ok(dir) = std::fs::File::open(data_dir) {
        // Make the rename itself durable; failure here only weakens crash safety.
        let _ = dir.sync_all();
    }
    tracing::info!(path = %path.display(), "created the invite signing key");
    Ok(key)
}

/// Every key this kiosk accepts invite signatures from. Keys that cannot be read are logged
/// and skipped: one bad key must not stop the kiosk from admitting visitors.
pub fn trusted_keys(config: &Config, store: &Store, data_dir: &Path) -> Vec<VerifyingKey> {
    let mut keys: Vec<VerifyingKey> = config
        .invites
        .trusted_key_bytes()
        .iter()
        .filter_map(|b| VerifyingKey::from_bytes(b).ok())
        .collect();
    match store.setting(HUB_KEY_SETTING) {
        Ok(Some(text)) => match decode_public_key(&text) {
            Ok(k) => keys.push(k),
            Err(e) => tracing::error!(error = %e, "the stored hub key is unreadable"),
        },
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "cannot read the hub key from the store"),
    }
    match load_signing_key(data_dir) {
        Ok(Some(k)) => keys.push(k.verifying_key()),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "cannot read the local signing key"),
    }
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_signing_key(dir.path()).unwrap().is_none());
        let a = load_or_create_signing_key(dir.path()).unwrap();
        let b = load_or_create_signing_key(dir.path()).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SIGNING_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SIGNING_KEY_FILE), "not a key").unwrap();
        assert!(matches!(
            load_or_create_signing_key(dir.path()),
            Err(KeyFileError::Invalid { .. })
        ));
    }

    #[test]
    fn trusted_keys_gather_config_hub_and_local() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in(dir.path()).unwrap();
        let mut config = Config::embedded().unwrap();
        assert!(trusted_keys(&config, &store, dir.path()).is_empty());
        let local = load_or_create_signing_key(dir.path()).unwrap();
        let hub = signing_key_from_seed([7; 32]);
        let extra = signing_key_from_seed([9; 32]);
        store
            .set_setting(
                HUB_KEY_SETTING,
                &crate::domain::invite::encode_public_key(&hub.verifying_key()),
                chrono::Utc::now(),
            )
            .unwrap();
        config.invites.trusted_keys = vec![crate::domain::invite::encode_public_key(
            &extra.verifying_key(),
        )];
        let keys = trusted_keys(&config, &store, dir.path());
        assert!(keys.contains(&local.verifying_key()));
        assert!(keys.contains(&hub.verifying_key()));
        assert!(keys.contains(&extra.verifying_key()));
    }
}

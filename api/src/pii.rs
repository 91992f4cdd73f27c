//! Residents' ID numbers and phones at rest: AES-256-GCM ciphertext for display after an audited reveal,
//! and an HMAC-SHA256 keyed hash for exact lookup. Both keys derive from one configured master key.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the personal-data key must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("a stored personal-data value could not be decrypted")]
    Corrupt,
}

pub struct Vault {
    cipher: Aes256Gcm,
    hash_key: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<keys redacted>)")
    }
}

fn derive(master: &[u8], label: &[u8]) -> Result<[u8; 32], VaultError> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).map_err(|_| VaultError::BadKey)?;
    mac.update(label);
    Ok(mac.finalize().into_bytes().into())
}

impl Vault {
    /// Builds a vault from a 64-hex-character master key.
    pub fn from_hex(master_hex: &str) -> Result<Self, VaultError> {
        let master = decode_hex(master_hex.trim()).ok_or(VaultError::BadKey)?;
        if master.len() != 32 {
            return Err(VaultError::BadKey);
        }
        let enc = derive(&master, b"fengqiao personal data encryption v1")?;
        let hash_key = derive(&master, b"fengqiao personal data lookup v1")?;
        Ok(Vault {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(enc)),
            hash_key,
        })
    }

    /// A new random master key, as hex.
    pub fn generate_key_hex() -> String {
        let key = Aes256Gcm::generate_key(OsRng);
        key.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn encrypt(&self, plain: &str) -> Result<String, VaultError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| VaultError::Corrupt)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, VaultError> {
        let raw = STANDARD.decode(stored).map_err(|_| VaultError::Corrupt)?;
        if raw.len() < 12 {
            return Err(VaultError::Corrupt);
        }
        let (nonce, sealed) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| VaultError::Corrupt)?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| VaultError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| VaultError::Corrupt)
    }

    /// The keyed hash used to find a record by its exact value.
    pub fn lookup_hash(&self, value: &str) -> String {
        let mut mac = match <HmacSha256 as Mac>::new_from_slice(&self.hash_key) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(value.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypts_with_fresh_nonces_and_hashes_deterministically() {
        let vault = Vault::from_hex(&Vault::generate_key_hex()).unwrap();
        let a = vault.encrypt("11010519491231002X").unwrap();
        let b = vault.encrypt("11010519491231002X").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("1101051949"));
        assert_eq!(vault.decrypt(&a).unwrap(), "11010519491231002X");
        assert_eq!(
            vault.lookup_hash("13812345678"),
            vault.lookup_hash("13812345678")
        );
        assert_ne!(
            vault.lookup_hash("13812345678"),
            vault.lookup_hash("13812345679")
        );
        // The tag authenticates what is stored: one character changed and it no longer opens.
        let mut tampered = a.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        assert!(
            vault
                .decrypt(&String::from_utf8(tampered).unwrap())
                .is_err()
        );
        let other = Vault::from_hex(&Vault::generate_key_hex()).unwrap();
        assert!(other.decrypt(&a).is_err());
        assert_ne!(
            other.lookup_hash("13812345678"),
            vault.lookup_hash("13812345678")
        );
        assert!(Vault::from_hex("abcd").is_err());
    }
}

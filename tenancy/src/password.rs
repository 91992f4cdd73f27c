//! Password hashing with argon2id (the crate's default parameters: 19 MiB, 2 passes, 1 lane, v19).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The shortest password accepted for a new account.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest: argon2 takes any length, but a megabyte of "password" is a way to burn CPU.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Of the four classes (lower-case letters, upper-case letters, digits, anything else), how many a new
/// password uses at least.
pub const MIN_PASSWORD_CLASSES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password has at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("a password has at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error(
        "a password mixes at least {MIN_PASSWORD_CLASSES} of: lower-case letters, upper-case letters, digits, other characters"
    )]
    TooFewClasses,
    #[error("this password is among the commonly used ones that guessing tries first")]
    Common,
    #[error("a password may not contain the username")]
    ContainsUsername,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Passwords that guessing tries first (the commonest of published leak lists, and those seen on Chinese
/// government systems' weak-password checks), compared without regard to case.
const COMMON: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "password1",
    "password123",
    "passw0rd!",
    "p@ssw0rd1",
    "p@ssw0rd123",
    "admin123",
    "admin@123",
    "admin123!",
    "admin@1234",
    "admin12345",
    "administrator",
    "root@123",
    "root1234",
    "qwer1234",
    "qwer@1234",
    "qwe123!@#",
    "qwerty123",
    "qwerty12",
    "1qaz2wsx",
    "1qaz@wsx",
    "1qaz!qaz",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "zaq12wsx",
    "abc@1234",
    "abc12345",
    "abcd1234",
    "abcd@1234",
    "abc123456",
    "a1234567",
    "a12345678",
    "aa123456",
    "aa123456.",
    "aa112233",
    "a1b2c3d4",
    "test@123",
    "test1234",
    "welcome1",
    "welcome@123",
    "woaini1314",
    "woaini520",
    "iloveyou1",
    "asdf1234",
    "zxcv1234",
    "zxcvbnm1",
    "123456aa",
    "12345678a",
    "1234qwer",
    "123qwe!@#",
    "123@abc",
    "huawei@123",
    "huawei123",
    "changeme",
    "changeme1",
    "letmein1",
    "sunshine1",
    "monkey123",
    "fengqiao-demo",
    "fengqiao123",
    "fengqiao@123",
];

/// Words that, with digits and symbols around them, make up most of what is guessed ("Admin@2026",
/// "Password#1"): a password whose letters are one of these, compared without regard to case, is refused.
const GUESSED_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "admin",
    "administrator",
    "root",
    "qwer",
    "qwerty",
    "qwe",
    "asdf",
    "zxcv",
    "qaz",
    "qazwsx",
    "wsx",
    "abc",
    "abcd",
    "abcdef",
    "test",
    "welcome",
    "woaini",
    "iloveyou",
    "love",
    "huawei",
    "changeme",
    "letmein",
    "user",
    "guest",
    "system",
    "fengqiao",
    "zongzhi",
    "china",
];

/// Whether `password` may be chosen by the account `username` (GB/T 22239-2019 8.1.4.1 a): long enough,
/// not too long, of at least three character classes, not a commonly guessed one, and not containing the
/// username.
pub fn check_password_rules(password: &str, username: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong);
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_ascii_digit()),
    ];
    if classes.iter().filter(|c| **c).count() < MIN_PASSWORD_CLASSES {
        return Err(PasswordError::TooFewClasses);
    }
    let lower = password.to_lowercase();
    let letters: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    if COMMON.contains(&lower.as_str()) || GUESSED_WORDS.contains(&letters.as_str()) {
        return Err(PasswordError::Common);
    }
    // The username, or its part after a tenant prefix (`c620521.admin` → `admin`), typed in the password.
    let name = username.to_lowercase();
    let parts = std::iter::once(name.as_str()).chain(name.split(['.', '_', '-']));
    for part in parts.filter(|p| p.chars().count() >= 4) {
        if lower.contains(part) {
            return Err(PasswordError::ContainsUsername);
        }
    }
    Ok(())
}

/// Hashes a new password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let hash = hash_password("qingshui-2026").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("qingshui-2026", &hash));
        assert!(!verify_password("qingshui-2027", &hash));
        assert!(!verify_password("qingshui-2026", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
    }

    #[test]
    fn new_passwords_are_long_mixed_uncommon_and_free_of_the_username() {
        let ok = |p: &str| check_password_rules(p, "c620521.zhangsan");
        assert!(ok("Qingshui river 7").is_ok());
        assert!(
            ok("qingshui-2026").is_ok(),
            "lower case, digits and a symbol"
        );
        assert!(matches!(ok("Qs-7"), Err(PasswordError::TooShort)));
        assert!(matches!(
            ok(&"Aa1-".repeat(40)),
            Err(PasswordError::TooLong)
        ));
        assert!(matches!(
            ok("qingshuiriver"),
            Err(PasswordError::TooFewClasses)
        ));
        assert!(matches!(
            ok("qingshui2026"),
            Err(PasswordError::TooFewClasses)
        ));
        assert!(matches!(ok("P@ssw0rd"), Err(PasswordError::Common)));
        assert!(matches!(ok("Admin@2026"), Err(PasswordError::Common)));
        assert!(matches!(ok("1qaz@WSX"), Err(PasswordError::Common)));
        assert!(matches!(
            ok("Zhangsan#2026"),
            Err(PasswordError::ContainsUsername)
        ));
        // A short part of a name is not taken for it.
        assert!(check_password_rules("Bei-jing 2026 x", "c620521.bei").is_ok());
        // Chinese characters count as "other".
        assert!(ok("清水县综治2026a").is_ok());
    }
}

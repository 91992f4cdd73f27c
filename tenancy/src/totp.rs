//! Time-based one-time passwords (RFC 6238, on HOTP of RFC 4226): the second factor of a sign-in
//! (GB/T 22239-2019 8.1.4.1 d). HMAC-SHA-1, 6 digits, 30-second steps — what every authenticator app
//! reads from an `otpauth://` link — with one step either side accepted for clocks that drift.

use hmac::{Hmac, Mac};
use rand::RngCore;

/// Seconds per step (RFC 6238 §4, the default X).
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;
/// Bytes of a secret: 160 bits, as RFC 4226 §4 recommends for HMAC-SHA-1.
pub const SECRET_BYTES: usize = 20;

/// A new random secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut secret);
    secret
}

/// The secret as authenticator apps take it: RFC 4648 base32 without padding.
pub fn secret_text(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// A secret from its base32 text.
pub fn secret_bytes(text: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD.decode(text.as_bytes()).ok()
}

/// The `otpauth://totp/…` link an authenticator app scans (as a QR code) or opens.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        escape(issuer),
        escape(account),
        secret_text(secret),
        escape(issuer)
    )
}

/// The step a Unix time falls in.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The code of `step` (HOTP with the step as its counter, RFC 4226 §5.3).
pub fn code_at(secret: &[u8], step: i64) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

/// The step whose code `code` is, within `DRIFT_STEPS` of `now`'s and after `used` (the last step
/// accepted, so that no code works twice); `None` if it is none of them.
pub fn verify(secret: &[u8], code: &str, unix_seconds: i64, used: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    (now - DRIFT_STEPS..=now + DRIFT_STEPS)
        .filter(|step| used.is_none_or(|u| *step > u))
        .find(|step| constant_time_eq(code_at(secret, *step).as_bytes(), code.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (the 8-digit codes' last 6 digits: the same truncation).
    #[test]
    fn the_codes_of_rfc_6238s_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(secret, step_of(time)), &eight[2..], "at {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_never_twice() {
        let secret = new_secret();
        let now = 1_765_000_000;
        let code = code_at(&secret, step_of(now));
        assert_eq!(verify(&secret, &code, now, None), Some(step_of(now)));
        assert_eq!(
            verify(&secret, &code, now + STEP_SECONDS, None),
            Some(step_of(now))
        );
        assert_eq!(verify(&secret, &code, now + 2 * STEP_SECONDS, None), None);
        assert_eq!(
            verify(&secret, &code, now, Some(step_of(now))),
            None,
            "a replay"
        );
        assert_eq!(verify(&secret, "12345", now, None), None);
        assert_eq!(verify(&secret, "12345a", now, None), None);
        assert_eq!(verify(&new_secret(), &code, now, None), None);
        let uri = otpauth_uri("枫桥 清水县", "c620521.admin", &secret);
        assert!(uri.starts_with("otpauth://totp/%E6%9E%AB"), "{uri}");
        assert!(uri.contains(&format!("secret={}", secret_text(&secret))));
    }
}

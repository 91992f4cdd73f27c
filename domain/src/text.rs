//! Free text from users: bounded in length (in characters) and free of control characters, which
//! PostgreSQL refuses (NUL) and which have no place in names, titles or notes. Line breaks and tabs are
//! allowed where the text may run over several lines.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must have {min} to {max} characters")]
    Length { min: usize, max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// Checks `text` after trimming surrounding whitespace, and returns the trimmed text.
pub fn checked(text: &str, min: usize, max: usize, multiline: bool) -> Result<&str, TextError> {
    let trimmed = text.trim();
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if trimmed.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(TextError::ControlCharacter);
    }
    let n = trimmed.chars().count();
    if n < min || n > max {
        return Err(TextError::Length { min, max });
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_and_refuses_control_characters() {
        assert_eq!(checked("  宅基地纠纷 ", 1, 5, false), Ok("宅基地纠纷"));
        assert_eq!(
            checked("宅基地界址纠纷", 1, 5, false),
            Err(TextError::Length { min: 1, max: 5 })
        );
        assert_eq!(
            checked("   ", 1, 5, false),
            Err(TextError::Length { min: 1, max: 5 })
        );
        assert_eq!(
            checked("a\u{0}b", 0, 5, true),
            Err(TextError::ControlCharacter)
        );
        assert_eq!(checked("第一行\n第二行", 0, 10, true), Ok("第一行\n第二行"));
        assert_eq!(
            checked("第一行\n第二行", 0, 10, false),
            Err(TextError::ControlCharacter)
        );
    }
}

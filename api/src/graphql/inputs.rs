//! Every mutation takes one `input` (as Relay asks). Those that took separate arguments before keep them
//! for one release, deprecated and optional (`CHANGELOG.md`): a call gives `input` or the arguments, never
//! both, and an argument the old shape required is still required there, as `BAD_USER_INPUT` naming it.

use crate::error::{ApiError, ApiResult};

/// The input of a mutation: `input` itself, or what the deprecated separate arguments make of it.
pub fn input_or_arguments<T>(
    input: Option<T>,
    any_argument: bool,
    from_arguments: impl FnOnce() -> ApiResult<T>,
) -> ApiResult<T> {
    match (input, any_argument) {
        (Some(_), true) => Err(ApiError::bad_input(
            "input",
            "give input, or the deprecated separate arguments, not both",
        )),
        (Some(input), false) => Ok(input),
        (None, true) => from_arguments(),
        (None, false) => Err(ApiError::bad_input("input", "required")),
    }
}

/// A separate argument that the old shape required.
pub fn required<T>(field: &str, value: Option<T>) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::bad_input(field, "required (or give input)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_or_the_arguments_never_both_nor_neither() {
        assert_eq!(input_or_arguments(Some(1), false, || Ok(2)).unwrap(), 1);
        assert_eq!(input_or_arguments(None, true, || Ok(2)).unwrap(), 2);
        assert!(input_or_arguments(Some(1), true, || Ok(2)).is_err());
        assert!(input_or_arguments::<i32>(None, false, || Ok(2)).is_err());
        assert!(required::<i32>("id", None).is_err());
    }
}

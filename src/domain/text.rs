//! Free text a client or a staff system sends.

use crate::error::ApiError;

/// The text, or empty when absent; refused (naming `field`) past `max_chars`.
pub fn bounded(field: &str, value: Option<String>, max_chars: usize) -> Result<String, ApiError> {
    let value = value.unwrap_or_default();
    if value.chars().count() > max_chars {
        return Err(ApiError::invalid(field, format!("at most {max_chars} characters")));
    }
    Ok(value)
}

//! Pages of lists: the page size rule and opaque cursors.

use crate::AppError;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;

pub fn page_size(limit: Option<i64>) -> Result<i64, AppError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => Ok(limit),
        Some(limit) => Err(AppError::InvalidParameter(format!(
            "limit must be 1 to {MAX_PAGE_SIZE}, not {limit}"
        ))),
    }
}

/// Cursors are opaque to clients: the sort key of the last item, hex-encoded (any even-length
/// hex string is a valid position).
pub fn encode_cursor(key: &str) -> String {
    key.bytes().map(|byte| format!("{byte:02x}")).collect()
}

pub fn decode_cursor(cursor: &str) -> Result<String, AppError> {
    let invalid = || AppError::InvalidParameter("cursor is not one this API returned".into());
    if !cursor.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|at| {
            cursor
                .get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The position a client sends back, decoded; `None` when there is none.
pub fn after(cursor: Option<&str>) -> Result<Option<String>, AppError> {
    cursor.map(decode_cursor).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_made_up_ones_are_refused() {
        let key = "jenkins (prod) ✓";
        assert_eq!(decode_cursor(&encode_cursor(key)).expect("valid"), key);
        assert!(decode_cursor("abc").is_err());
        assert!(decode_cursor("zz").is_err());
        assert_eq!(page_size(None).expect("default"), DEFAULT_PAGE_SIZE);
        assert!(page_size(Some(0)).is_err() && page_size(Some(201)).is_err());
    }
}

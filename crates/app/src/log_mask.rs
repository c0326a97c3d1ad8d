//! What a served log never shows: the values of the run's password parameters and the
//! integration's own secrets, wherever the build printed them.
//!
//! A read can end inside such a value when the tool's offsets are bytes and the build is
//! still writing: the end of the piece that could be the start of a value is held back (the
//! next read starts at it, as the offsets stay the tool's), so a value is never shown in two
//! halves. Pieces of tools whose offsets are whole lines end at a line's end, where a
//! single-line value cannot be cut.

/// What a masked value shows as.
pub const MASK: &str = "********";

/// Values (or lines of a multi-line value) shorter than this are not masked: masking every
/// `a` or `42` in a log would leave it unreadable and hide nothing worth hiding.
pub const MIN_MASKED_CHARS: usize = 3;

/// The values to mask in one run's log.
#[derive(Default)]
pub struct LogMask {
    /// Longest first, so that a value containing another is masked whole.
    values: Vec<String>,
}

impl std::fmt::Debug for LogMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMask")
            .field("values", &self.values.len())
            .finish()
    }
}

impl LogMask {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values: Vec<String> = secrets
            .into_iter()
            .flat_map(str::lines)
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| line.chars().count() >= MIN_MASKED_CHARS)
            .map(str::to_owned)
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Self { values }
    }

    /// `text` with every value masked, and how many bytes at its end were held back because
    /// they may be the start of a value still being written (only when `hold_partial`).
    pub fn apply(&self, text: &str, hold_partial: bool) -> (String, usize) {
        let mut masked = text.to_owned();
        for value in &self.values {
            if masked.contains(value.as_str()) {
                masked = masked.replace(value.as_str(), MASK);
            }
        }
        let held = if hold_partial {
            self.partial_at_end(&masked)
        } else {
            0
        };
        masked.truncate(masked.len() - held);
        (masked, held)
    }

    /// The length of the longest end of `text` that is a proper start of a value.
    fn partial_at_end(&self, text: &str) -> usize {
        self.values
            .iter()
            .filter_map(|value| {
                (1..value.len())
                    .rev()
                    .filter(|&len| value.is_char_boundary(len))
                    .find(|&len| text.ends_with(&value[..len]))
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_masked_and_short_values_are_left() {
        let mask = LogMask::new(["s3cr3t-pass", "ab", "line-one\nline-two\n"]);
        let (text, held) = mask.apply(
            "echo s3cr3t-pass; x=s3cr3t-pass\nab line-one\nline-two\n",
            false,
        );
        assert_eq!(held, 0);
        assert_eq!(text, "echo ********; x=********\nab ********\n********\n");
    }

    #[test]
    fn a_value_containing_another_is_masked_whole() {
        let mask = LogMask::new(["token", "token-and-more"]);
        assert_eq!(mask.apply("[token-and-more]", false).0, "[********]");
    }

    #[test]
    fn a_value_cut_by_the_end_of_a_read_is_held_back() {
        let mask = LogMask::new(["s3cr3t-pass"]);
        let log = "password is s3cr3t-pass!\n";
        // Whatever the build has written when the first read comes, the two reads together
        // show the log masked, and no read shows a part of the value.
        for cut in 0..=log.len() {
            let (first, held) = mask.apply(&log[..cut], true);
            let (second, _) = mask.apply(&log[cut - held..], false);
            assert_eq!(
                first.clone() + &second,
                "password is ********!\n",
                "cut {cut}"
            );
            for piece in [&first, &second] {
                assert!(!piece.contains("s3cr"), "cut {cut}: {piece:?}");
            }
        }
    }
}

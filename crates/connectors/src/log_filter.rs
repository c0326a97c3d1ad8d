//! What a served log never shows: the values of the run's password parameters and the
//! integration's own secrets (masked as `********` wherever the build printed them), and
//! Jenkins' encoded console notes (removed).
//!
//! Tools whose log offsets count whole lines (Buildbot) hand out pieces that end at a line's
//! end, where no single-line value can be cut: [`LogMask::mask_lines`] is all they need.
//! Tools whose offsets are bytes (Jenkins) can end a piece, or be asked to start one,
//! anywhere — inside a value, a note, or a character. [`render_bytes`] works in the tool's
//! byte coordinates throughout:
//!
//! - the read starts [`LogMask::look_behind`] bytes before the asked offset, so a value the
//!   offset cuts is still recognised and masked whole, whatever offset a client sends;
//! - an end that could be the start of a value, of a note, or of a character, is held back
//!   while the build still writes: the returned offset stops before it and the next read
//!   gets it whole, so a resumed read never skips or repeats text;
//! - values that overlap are masked together, and a value that starts another (`hunter2`,
//!   `hunter2-prod`) is held back until the longer one can be told.

use std::fmt;
use std::ops::Range;

use aho_corasick::AhoCorasick;

/// What a masked value shows as.
pub const MASK: &str = "********";

/// Values (or lines of a multi-line value) shorter than this are not masked: masking every
/// `a` or `42` in a log would leave it unreadable and hide nothing worth hiding.
pub const MIN_MASKED_CHARS: usize = 3;

/// Jenkins' console note: `ESC[8mha:` + base64 + `ESC[0m` (since 2.516.1 streamed as is by
/// `logText/progressiveText`).
const NOTE_START: &[u8] = b"\x1b[8mha:";
const NOTE_END: &[u8] = b"\x1b[0m";
/// A longer "note" is not one: a build that prints a note's start without its end is shown,
/// not held back for ever.
const MAX_NOTE_BYTES: usize = 64 * 1024;

/// The values to mask in one run's log.
#[derive(Clone, Default)]
pub struct LogMask {
    /// Longest first.
    values: Vec<Vec<u8>>,
    finder: Option<AhoCorasick>,
}

impl fmt::Debug for LogMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogMask")
            .field("values", &self.values.len())
            .finish()
    }
}

impl LogMask {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values: Vec<Vec<u8>> = secrets
            .into_iter()
            .flat_map(str::lines)
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| line.chars().count() >= MIN_MASKED_CHARS)
            .map(|line| line.as_bytes().to_vec())
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        let finder = if values.is_empty() {
            None
        } else {
            AhoCorasick::new(&values).ok()
        };
        Self { values, finder }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// How many bytes before an asked offset a read starts, so that a value the offset cuts
    /// is recognised whole.
    pub fn look_behind(&self) -> usize {
        self.values
            .first()
            .map_or(0, |longest| longest.len().saturating_sub(1))
    }

    /// Masks every value in `text`, which ends at a line's end (offsets in whole lines).
    pub fn mask_lines(&self, text: &str) -> String {
        let masks = self.masked_ranges(text.as_bytes());
        let mut shown = Vec::with_capacity(text.len());
        emit(text.as_bytes(), 0, text.len(), &[], &masks, &mut shown);
        String::from_utf8_lossy(&shown).into_owned()
    }

    /// Every occurrence of a value in `text`, overlapping ones merged.
    fn masked_ranges(&self, text: &[u8]) -> Vec<Range<usize>> {
        let Some(finder) = &self.finder else {
            return Vec::new();
        };
        let mut ranges: Vec<Range<usize>> = finder
            .find_overlapping_iter(text)
            .map(|found| found.start()..found.end())
            .collect();
        ranges.sort_by_key(|range| range.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        merged
    }

    /// The length of the longest end of `text` that is a proper start of a value.
    fn partial_at_end(&self, text: &[u8]) -> usize {
        self.values
            .iter()
            .filter_map(|value| {
                (1..value.len())
                    .rev()
                    .find(|&len| text.ends_with(&value[..len]))
            })
            .max()
            .unwrap_or(0)
    }
}

/// A piece of a byte-offset log as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPiece {
    pub text: String,
    /// How many bytes of `raw` the piece accounts for: the next read starts there.
    pub consumed: usize,
}

/// Renders `raw` — the tool's log from some byte on — from byte `visible_from` of it: notes
/// removed, values masked (also those that begin before `visible_from`), and, while `more`
/// may follow, an end that could start a value, a note or a character held back.
pub fn render_bytes(raw: &[u8], visible_from: usize, more: bool, mask: &LogMask) -> RenderedPiece {
    let visible_from = visible_from.min(raw.len());
    let mut end = raw.len();
    if more {
        end = complete_characters(&raw[..end]);
    }
    let (notes, held_note) = console_notes(&raw[..end], more);
    if let Some(start) = held_note {
        end = start;
    }
    let masks = mask.masked_ranges(&raw[..end]);
    if more {
        // Held: an end that could start a value — and, should that cut a value found whole
        // (a value ending in a letter that starts another), the whole of that value.
        let mut cut = end - mask.partial_at_end(&raw[..end]);
        if let Some(cut_through) = masks
            .iter()
            .find(|masked| masked.start < cut && cut < masked.end)
        {
            cut = cut_through.start;
        }
        end = cut;
    }
    let end = end.max(visible_from);
    let notes: Vec<Range<usize>> = notes.into_iter().filter(|note| note.end <= end).collect();
    let masks: Vec<Range<usize>> = masks
        .into_iter()
        .filter(|masked| masked.end <= end)
        .collect();
    let mut shown = Vec::with_capacity(end - visible_from);
    emit(raw, visible_from, end, &notes, &masks, &mut shown);
    RenderedPiece {
        text: String::from_utf8_lossy(&shown).into_owned(),
        consumed: end,
    }
}

/// Writes `raw[from..to]` to `out`, leaving out `notes` and writing each of `masks` that
/// reaches into the range as one [`MASK`]. Both lists are sorted and disjoint, so one pass
/// with a cursor in each keeps this linear in the piece (a Jenkins log has a note per line).
fn emit(
    raw: &[u8],
    from: usize,
    to: usize,
    notes: &[Range<usize>],
    masks: &[Range<usize>],
    out: &mut Vec<u8>,
) {
    let (mut note, mut masked) = (0, 0);
    let mut at = from;
    while at < to {
        while notes.get(note).is_some_and(|range| range.end <= at) {
            note += 1;
        }
        while masks.get(masked).is_some_and(|range| range.end <= at) {
            masked += 1;
        }
        if let Some(range) = notes.get(note).filter(|range| range.start <= at) {
            at = range.end;
            continue;
        }
        if let Some(range) = masks.get(masked).filter(|range| range.start <= at) {
            out.extend_from_slice(MASK.as_bytes());
            at = range.end;
            continue;
        }
        // Up to the next note or mask, whichever comes first.
        let next = [notes.get(note), masks.get(masked)]
            .into_iter()
            .flatten()
            .map(|range| range.start)
            .min()
            .unwrap_or(to)
            .min(to);
        out.extend_from_slice(&raw[at..next]);
        at = next;
    }
}

/// Where `raw` ends without a character cut short.
fn complete_characters(raw: &[u8]) -> usize {
    let len = raw.len();
    // The start of the last character: at most three continuation bytes back.
    for back in 1..=len.min(4) {
        let byte = raw[len - back];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue;
        }
        let needed = match byte {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        return if needed > back { len - back } else { len };
    }
    len
}

fn is_base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
}

/// The console notes in `raw`, and where a note (or a note's start) that is not finished yet
/// begins, while `more` may follow.
fn console_notes(raw: &[u8], more: bool) -> (Vec<Range<usize>>, Option<usize>) {
    let mut notes = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&raw[at..], NOTE_START) {
        let start = at + found;
        let payload = start + NOTE_START.len();
        let payload_end = raw[payload..]
            .iter()
            .position(|byte| !is_base64(*byte))
            .map_or(raw.len(), |len| payload + len);
        let rest = &raw[payload_end..];
        if rest.starts_with(NOTE_END) && payload_end - payload <= MAX_NOTE_BYTES {
            notes.push(start..payload_end + NOTE_END.len());
            at = payload_end + NOTE_END.len();
            continue;
        }
        let unfinished = NOTE_END.starts_with(rest) && payload_end - payload <= MAX_NOTE_BYTES;
        if more && unfinished {
            return (notes, Some(start));
        }
        // Not a note: shown as the build wrote it.
        at = payload;
    }
    if more {
        let partial = (1..NOTE_START.len())
            .rev()
            .find(|&len| raw.ends_with(&NOTE_START[..len]));
        if let Some(len) = partial {
            return (notes, Some(raw.len() - len));
        }
    }
    (notes, None)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(payload: &str) -> String {
        format!("\u{1b}[8mha:////{payload}\u{1b}[0m")
    }

    /// Reads `log` as a client following it would, the build having written `cut` bytes at
    /// the first read and everything at the second.
    fn read_in_two(log: &[u8], cut: usize, mask: &LogMask) -> (String, String) {
        let first = render_bytes(&log[..cut], 0, true, mask);
        assert!(first.consumed <= cut);
        let offset = first.consumed;
        let from = offset - mask.look_behind().min(offset);
        let second = render_bytes(&log[from..], offset - from, false, mask);
        assert_eq!(from + second.consumed, log.len());
        (first.text, second.text)
    }

    #[test]
    fn notes_and_values_split_across_reads_never_show_and_no_text_is_lost() {
        let mask = LogMask::new(["s3cr3t-pass", "ab"]);
        let log = format!(
            "{}Started by user {}Alice ✓\n{}+ deploy --password s3cr3t-pass\nab {}done\n",
            note("H4sIAAAAAAAA/5VSTW"),
            note("aGVsbG8gd29ybGQ="),
            note("YWJjZGVm"),
            note("eHl6")
        );
        let shown = "Started by user Alice ✓\n+ deploy --password ********\nab done\n";
        for cut in 0..=log.len() {
            let (first, second) = read_in_two(log.as_bytes(), cut, &mask);
            assert_eq!(first.clone() + &second, shown, "cut at {cut}");
            for piece in [&first, &second] {
                assert!(
                    !piece.contains("ha:") && !piece.contains("s3c"),
                    "cut {cut}: {piece:?}"
                );
            }
        }
    }

    #[test]
    fn a_read_from_any_offset_shows_no_part_of_a_value() {
        let mask = LogMask::new(["Zq9Xw7Vu"]);
        let log = b"token=Zq9Xw7Vu; again Zq9Xw7Vu\n";
        for offset in 0..log.len() {
            let from = offset - mask.look_behind().min(offset);
            let piece = render_bytes(&log[from..], offset - from, false, &mask);
            for window in [2, 3] {
                for part in b"Zq9Xw7Vu".windows(window) {
                    let part = std::str::from_utf8(part).expect("ascii");
                    assert!(
                        !piece.text.contains(part),
                        "offset {offset}: {:?}",
                        piece.text
                    );
                }
            }
        }
    }

    #[test]
    fn a_value_that_starts_a_longer_one_waits_for_it_and_overlaps_mask_together() {
        let mask = LogMask::new(["hunter2", "hunter2-prod"]);
        let first = render_bytes(b"pw hunter2", 0, true, &mask);
        assert_eq!(
            first,
            RenderedPiece {
                text: "pw ".into(),
                consumed: 3
            }
        );
        let rest = render_bytes(b"hunter2-prod\n", 0, false, &mask);
        assert_eq!(rest.text, "********\n");

        let overlapping = LogMask::new(["abcdef", "defghi"]);
        assert_eq!(overlapping.mask_lines("[abcdefghi]\n"), "[********]\n");
        assert_eq!(
            LogMask::new(["token"]).mask_lines("a token\n"),
            "a ********\n"
        );
    }

    #[test]
    fn what_only_looks_like_a_note_is_shown_and_never_holds_the_log() {
        let mask = LogMask::default();
        let text = "echo \u{1b}[8mha: not base64 here\nnext\n";
        let piece = render_bytes(text.as_bytes(), 0, true, &mask);
        assert_eq!(piece.text, text);
        // An unfinished note is held while more may come, dropped from a finished log.
        let unfinished = "done\n\u{1b}[8mha:////H4sI";
        let held = render_bytes(unfinished.as_bytes(), 0, true, &mask);
        assert_eq!((held.text.as_str(), held.consumed), ("done\n", 5));
        let partial = render_bytes(b"done\n\x1b[8", 0, true, &mask);
        assert_eq!((partial.text.as_str(), partial.consumed), ("done\n", 5));
    }

    #[test]
    fn a_character_cut_by_the_end_waits_for_its_other_bytes() {
        let log = "ok ✓\n".as_bytes();
        let first = render_bytes(&log[..4], 0, true, &LogMask::default());
        assert_eq!((first.text.as_str(), first.consumed), ("ok ", 3));
        let rest = render_bytes(&log[3..], 0, false, &LogMask::default());
        assert_eq!(rest.text, "✓\n");
    }
}

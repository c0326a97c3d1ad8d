//! Encoded console notes in a Jenkins log.
//!
//! Jenkins keeps annotations of its console (links, pipeline step markers, timestamps) in
//! the log itself, each as `ESC[8mha:` + base64 of a serialized object + `ESC[0m`. Since
//! 2.516.1 (JENKINS-75081) `logText/progressiveText` streams them as they are written, where
//! they show as noise around the annotated text. They are removed wherever Switchboard serves
//! a log. A read can end inside a note that the build is still writing (or inside its
//! preamble): that tail is held back, and the next read starts at it, so the offsets stay
//! Jenkins' own and a resumed read never skips or repeats text.

const PREAMBLE: &str = "\u{1b}[8mha:";
const POSTAMBLE: &str = "\u{1b}[0m";

/// `text` without its console notes, and how many bytes at its end were held back (only
/// while `more` text may follow; a finished log that ends inside a note drops that note).
pub(super) fn strip_console_notes(text: &str, more: bool) -> (String, usize) {
    let mut shown = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let Some(start) = rest.find(PREAMBLE) else {
            let held = if more { partial_preamble(rest) } else { 0 };
            shown.push_str(&rest[..rest.len() - held]);
            return (shown, held);
        };
        shown.push_str(&rest[..start]);
        let note = &rest[start + PREAMBLE.len()..];
        match note.find(POSTAMBLE) {
            Some(end) => rest = &note[end + POSTAMBLE.len()..],
            None if more => return (shown, rest.len() - start),
            None => return (shown, 0),
        }
    }
}

/// The length of the longest end of `text` that is the start of a preamble.
fn partial_preamble(text: &str) -> usize {
    (1..PREAMBLE.len())
        .rev()
        .find(|&len| text.ends_with(&PREAMBLE[..len]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(payload: &str) -> String {
        format!("{PREAMBLE}////{payload}{POSTAMBLE}")
    }

    #[test]
    fn notes_are_removed_and_the_text_around_them_kept() {
        let text = format!(
            "{}Started by user {}Alice\n{}[Pipeline] echo\nplain \u{1b}[1mbold\u{1b}[0m\n",
            note("H4sIAAAAAAAA/1vz"),
            note("aGVsbG8="),
            note("YWJj")
        );
        assert_eq!(
            strip_console_notes(&text, false),
            (
                "Started by user Alice\n[Pipeline] echo\nplain \u{1b}[1mbold\u{1b}[0m\n".to_owned(),
                0
            )
        );
    }

    #[test]
    fn an_unfinished_note_is_held_back_while_more_may_come() {
        let text = format!("done\n{PREAMBLE}////H4sIAAA");
        assert_eq!(
            strip_console_notes(&text, true),
            ("done\n".to_owned(), PREAMBLE.len() + 11)
        );
        assert_eq!(strip_console_notes(&text, false), ("done\n".to_owned(), 0));
        assert_eq!(
            strip_console_notes("done\n\u{1b}[8", true),
            ("done\n".to_owned(), 3)
        );
        assert_eq!(
            strip_console_notes("done\n\u{1b}[8", false),
            ("done\n\u{1b}[8".to_owned(), 0)
        );
    }
}

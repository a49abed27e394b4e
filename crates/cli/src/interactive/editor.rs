//! The line editor (rustyline), set up to behave as redis-cli's linenoise: Tab cycles through
//! whole-line completions and back to what was typed, hints are grey text after the line cut
//! at the terminal's edge, the history keeps no line twice in a row and at most
//! [`MAX_LINES`](super::history::MAX_LINES), and pasted text arrives as typed keys (no
//! bracketed paste), so a pasted line runs at its newline.
//!
//! linenoise also throws away what was typed while a command ran (it enters raw mode with
//! `TCSAFLUSH`); rustyline would keep part of it, depending on how it was read, so
//! [`discard_typeahead`] does what linenoise does before each prompt.
//!
//! [`LineHelper`] answers the editor's questions (completions, hint, colours) from the
//! command table and the preferences.

use std::borrow::Cow;

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hint, Hinter};
use rustyline::history::MemHistory;
use rustyline::line_buffer::LineBuffer;
use rustyline::validate::Validator;
use rustyline::{Changeset, CompletionType, Config, Context, Editor, Helper};

use super::docs::Docs;
use super::history::MAX_LINES;
use super::prefs::Preferences;
use super::{completion, hints};

/// The editor kv-cli reads lines with.
pub type LineEditor = Editor<LineHelper, MemHistory>;

/// A line editor configured as linenoise behaves, with `helper`.
pub fn new(helper: LineHelper) -> rustyline::Result<LineEditor> {
    let config = Config::builder()
        .completion_type(CompletionType::Circular)
        .max_history_size(MAX_LINES)?
        .history_ignore_dups(true)?
        .history_ignore_space(false)
        .auto_add_history(false)
        .bracketed_paste(false)
        .build();
    let history = MemHistory::with_config(&config);
    let mut editor = Editor::with_history(config, history)?;
    editor.set_helper(Some(helper));
    Ok(editor)
}

/// Discards the input typed ahead on the terminal, as linenoise's `TCSAFLUSH` does; nothing
/// happens when standard input is not a terminal.
pub fn discard_typeahead() {
    let _ = nix::sys::termios::tcflush(std::io::stdin(), nix::sys::termios::FlushArg::TCIFLUSH);
}

/// What the editor asks about while a line is typed.
#[derive(Debug)]
pub struct LineHelper {
    /// The command table.
    pub docs: Docs,
    /// The preferences (whether to show hints).
    pub prefs: Preferences,
    /// The terminal's width, when known, to cut hints at its edge.
    pub columns: Option<usize>,
    /// The width of the prompt the line is typed after.
    pub prompt_width: usize,
}

/// A hint: shown, never inserted (rustyline would insert a plain string's hint on →).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxHint(pub String);

impl Hint for SyntaxHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

impl LineHelper {
    /// The hint for `line` as shown: `None` when hints are off, there is none, or the line
    /// leaves no room for it.
    pub fn hint_for(&self, line: &str) -> Option<String> {
        if !self.prefs.hints {
            return None;
        }
        let hint = hints::hint(&self.docs, line)?;
        match self.columns {
            Some(columns) => {
                let used = self.prompt_width + line.chars().count();
                hints::fit(&hint, used, columns).map(str::to_string)
            }
            None => Some(hint),
        }
    }
}

impl Hinter for LineHelper {
    type Hint = SyntaxHint;

    fn hint(&self, line: &str, _pos: usize, _ctx: &Context<'_>) -> Option<SyntaxHint> {
        self.hint_for(line).map(SyntaxHint)
    }
}

impl Highlighter for LineHelper {
    /// linenoise's colour for redis-cli's hints: grey (90), not bold.
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[0;90;49m{hint}\x1b[0m"))
    }
}

impl Completer for LineHelper {
    type Candidate = String;

    /// Whole-line candidates, wherever the cursor is.
    fn complete(
        &self,
        line: &str,
        _pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok((0, completion::complete(&self.docs, line)))
    }

    /// A candidate replaces the whole line, as in linenoise.
    fn update(&self, line: &mut LineBuffer, start: usize, elected: &str, cl: &mut Changeset) {
        let end = line.len();
        line.replace(start..end, elected, cl);
    }
}

impl Validator for LineHelper {}

impl Helper for LineHelper {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interactive::docs::tests::redis_docs;

    fn helper(columns: Option<usize>) -> LineHelper {
        LineHelper {
            docs: redis_docs(),
            prefs: Preferences::default(),
            columns,
            prompt_width: "127.0.0.1:6379> ".len(),
        }
    }

    #[test]
    fn hints_follow_preferences_and_width() {
        let mut wide = helper(None);
        assert_eq!(wide.hint_for("GET"), Some(" key".into()));
        wide.prefs.hints = false;
        assert_eq!(wide.hint_for("GET"), None);
        // 16 columns of prompt, 3 of line: one column left.
        assert_eq!(helper(Some(20)).hint_for("GET"), Some(" ".into()));
        assert_eq!(helper(Some(19)).hint_for("GET"), None);
        assert_eq!(helper(Some(80)).hint_for("GET"), Some(" key".into()));
    }

    #[test]
    fn hints_are_never_inserted() {
        assert_eq!(SyntaxHint(" key".into()).completion(), None);
        assert_eq!(SyntaxHint(" key".into()).display(), " key");
        assert_eq!(
            helper(None).highlight_hint(" key"),
            "\x1b[0;90;49m key\x1b[0m"
        );
    }
}

//! Text from stores, made safe to show on a terminal.
//!
//! A record is untrusted input: its Runfile, commit messages, author names,
//! labels and any stored cell may hold terminal escape sequences (which can
//! rewrite the screen, set the window title or fake a prompt) or Unicode
//! controls that disguise text (bidi overrides reorder what is shown). Every
//! string that comes from a store or a repository and is printed for a
//! person goes through [`for_terminal`]; JSON output stays exact JSON.
//! URLs that may carry credentials are shown through [`strip_credentials`],
//! the one URL redactor of dsi.

use std::borrow::Cow;
use std::fmt;

/// Removes the user-info part (`user:password@`) from a URL with a scheme;
/// scp-like `user@host:path` is returned unchanged (no password can be there).
pub fn strip_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://{}{path}", &authority[at + 1..]),
        None => url.to_owned(),
    }
}

/// Whether a character is shown escaped: C0 controls (TAB and LF too), DEL,
/// C1 controls (U+0080–U+009F), the bidi embedding/override/isolate
/// controls (U+202A–U+202E, U+2066–U+2069), the invisible marks that change
/// direction or hide text (U+061C, U+200B–U+200F, U+2028, U+2029, U+FEFF).
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{061c}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{feff}')
}

/// `text` with every [unsafe](is_unsafe) character written visibly as
/// `\u{hex}` (e.g. `\u{1b}[2J`, `\u{202e}`); borrowed when nothing needs it.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Displays a string through [`for_terminal`].
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&for_terminal(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_are_shown_visibly() {
        assert_eq!(for_terminal("plain ✓ text"), "plain ✓ text");
        assert!(matches!(for_terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(for_terminal("\x1b[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(for_terminal("a\u{202e}txt.exe"), "a\\u{202e}txt.exe");
        assert_eq!(for_terminal("c1\u{9b}31m"), "c1\\u{9b}31m");
        assert_eq!(for_terminal("two\nlines\t"), "two\\u{a}lines\\u{9}");
        assert_eq!(for_terminal("\u{2066}iso\u{2069}"), "\\u{2066}iso\\u{2069}");
        assert_eq!(format!("{:<6}|", Shown("\u{7}")), "\\u{7} |");
    }
}

//! Redis's glob-style matcher (`stringmatchlen`), for KEYS, SCAN MATCH and pattern
//! subscriptions.
//!
//! `*` matches any run of bytes (but, as in Redis, nothing matches an empty string), `?` any one byte, `[abc]`, `[^abc]` and `[a-z]` classes (a
//! reversed range is swapped), and `\` escapes the next byte. Quirks are kept on purpose: an
//! unterminated class ends at the end of the pattern, and a trailing lone `\` matches itself.

/// Recursion depth beyond which a pattern is declared not to match, as Redis does, so that a
/// hostile pattern like `*a*a*a*...` cannot exhaust the stack.
const MAX_NESTING: usize = 1000;

/// Whether `string` matches `pattern`; `nocase` folds ASCII case.
pub fn matches(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_from(pattern, string, nocase, &mut skip_longer, 0)
}

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

fn match_from(
    pattern: &[u8],
    string: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    let (mut p, mut s) = (0usize, 0usize);
    while p < pattern.len() && s < string.len() {
        match pattern[p] {
            b'*' => {
                while pattern.get(p + 1) == Some(&b'*') {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < string.len() {
                    if match_from(
                        &pattern[p + 1..],
                        &string[s..],
                        nocase,
                        skip_longer,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                // Nothing after this star matches anywhere in the rest of the string, so no
                // earlier star can help by matching more: give up on the whole pattern.
                *skip_longer = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let negate = pattern.get(p) == Some(&b'^');
                if negate {
                    p += 1;
                }
                let c = fold(string[s], nocase);
                let mut matched = false;
                loop {
                    match pattern.get(p) {
                        Some(b'\\') if p + 1 < pattern.len() => {
                            p += 1;
                            if pattern[p] == string[s] {
                                matched = true;
                            }
                        }
                        Some(b']') => break,
                        None => {
                            // Unterminated class: step back so the final advance ends the pattern.
                            p -= 1;
                            break;
                        }
                        Some(&first) if p + 2 < pattern.len() && pattern[p + 1] == b'-' => {
                            let (mut lo, mut hi) =
                                (fold(first, nocase), fold(pattern[p + 2], nocase));
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            p += 2;
                            if (lo..=hi).contains(&c) {
                                matched = true;
                            }
                        }
                        Some(&other) => {
                            if fold(other, nocase) == c {
                                matched = true;
                            }
                        }
                    }
                    p += 1;
                }
                if matched == negate {
                    return false;
                }
                s += 1;
            }
            b'\\' if p + 1 < pattern.len() => {
                p += 1;
                if fold(pattern[p], nocase) != fold(string[s], nocase) {
                    return false;
                }
                s += 1;
            }
            literal => {
                if fold(literal, nocase) != fold(string[s], nocase) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == string.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_rules() {
        let yes =
            |p: &str, s: &str| assert!(matches(p.as_bytes(), s.as_bytes(), false), "{p} ~ {s}");
        let no =
            |p: &str, s: &str| assert!(!matches(p.as_bytes(), s.as_bytes(), false), "{p} !~ {s}");
        // Redis's matcher never matches an empty string (KEYS and SCAN special-case a lone `*`).
        no("*", "");
        yes("*", "anything");
        yes("h?llo", "hello");
        no("h?llo", "hllo");
        yes("h*llo", "heeeello");
        yes("h[ae]llo", "hallo");
        no("h[ae]llo", "hillo");
        yes("h[^e]llo", "hallo");
        no("h[^e]llo", "hello");
        yes("h[a-b]llo", "hbllo");
        yes("h[b-a]llo", "hallo");
        yes("h\\*llo", "h*llo");
        no("h\\*llo", "hello");
        yes("[\\]]", "]");
        yes("a*b*c", "aXXbYYc");
        no("a*b*c", "aXXbYY");
        no("ab[", "ab");
        no("ab[", "abc");
        yes("a[b", "ab");
        no("", "a");
        yes("", "");
        yes("a**", "a");
        yes("user:*:name", "user:42:name");
        no("user:*:name", "user:42:names");
        yes("\\", "\\");
    }

    #[test]
    fn nocase_folds_ascii() {
        assert!(matches(b"HeLLo", b"hello", true));
        assert!(matches(b"[A-Z]", b"q", true));
        assert!(!matches(b"HeLLo", b"hello", false));
    }

    #[test]
    fn pathological_patterns_finish_quickly() {
        let pattern = "a*".repeat(30) + "b";
        let string = "a".repeat(60);
        assert!(!matches(pattern.as_bytes(), string.as_bytes(), false));
    }
}

//! Reads the argument syntax written in each table row (redis.io's notation, e.g.
//! `key [NX | XX] [EX seconds]`) into the structured arguments `COMMAND DOCS` reports, so the
//! table holds one readable line per command instead of a hand-built tree.

use crate::Reply;

/// One argument of a command, as `COMMAND DOCS` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argument {
    /// Lowercase name.
    pub name: String,
    /// `key`, `string`, `integer`, `pattern`, `unix-time`, `pure-token`, `oneof` or `block`.
    pub kind: &'static str,
    /// The literal keyword that introduces it, if any (`EX`).
    pub token: Option<String>,
    /// May be left out.
    pub optional: bool,
    /// May be repeated.
    pub multiple: bool,
    /// Repeated with its token each time (`GET pattern [GET pattern ...]`).
    pub multiple_token: bool,
    /// Alternatives of a `oneof`, members of a `block`.
    pub children: Vec<Argument>,
}

/// Parses a syntax line; anything it cannot make sense of is skipped rather than guessed.
pub fn parse(syntax: &str) -> Vec<Argument> {
    let tokens = tokenize(syntax);
    let mut pos = 0;
    sequence(&tokens, &mut pos)
}

/// Splits a syntax line into words and the brackets (`[` `]` optional, `<` `>` a required
/// choice) and bars around them.
fn tokenize(syntax: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    for word in syntax.split_whitespace() {
        let mut rest = word;
        while let Some(open) = ["[", "<"].into_iter().find(|b| rest.starts_with(b)) {
            tokens.push(open);
            rest = &rest[1..];
        }
        let mut closing = Vec::new();
        while let Some(close) = ["]", ">"].into_iter().find(|b| rest.ends_with(b)) {
            closing.push(close);
            rest = &rest[..rest.len() - 1];
        }
        if !rest.is_empty() {
            tokens.push(rest);
        }
        tokens.extend(closing.into_iter().rev());
    }
    tokens
}

/// Whether `token` is punctuation of the notation rather than an argument.
fn is_punctuation(token: &str) -> bool {
    matches!(token, "[" | "]" | "<" | ">" | "|" | "...")
}

/// Reads the alternatives of a bracketed group whose opening bracket was just passed, up to
/// and past its `closing` bracket.
fn alternatives(tokens: &[&str], pos: &mut usize, closing: &str) -> Vec<Vec<Argument>> {
    let mut alternatives = vec![sequence(tokens, pos)];
    while tokens.get(*pos) == Some(&"|") {
        *pos += 1;
        alternatives.push(sequence(tokens, pos));
    }
    if tokens.get(*pos) == Some(&closing) {
        *pos += 1;
    }
    alternatives
}

/// A choice between `alternatives` (each one argument, or a block of several).
fn one_of(alternatives: Vec<Vec<Argument>>, optional: bool) -> Argument {
    let children: Vec<Argument> = alternatives
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(|mut a| {
            if a.len() == 1 {
                a.remove(0)
            } else {
                block(a, false, false)
            }
        })
        .collect();
    let name = children
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join("-");
    Argument {
        name,
        kind: "oneof",
        token: None,
        optional,
        multiple: false,
        multiple_token: false,
        children,
    }
}

fn is_keyword(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_uppercase()) && !word.chars().any(|c| c.is_ascii_lowercase())
}

fn kind_of(name: &str) -> &'static str {
    match name {
        n if n.starts_with("key") || matches!(n, "destination" | "source" | "newkey") => "key",
        n if n.starts_with("unix-time") => "unix-time",
        "pattern" => "pattern",
        "seconds" | "milliseconds" | "count" | "index" | "offset" | "start" | "end"
        | "decrement" | "numkeys" | "timeout" | "db" | "min-match-len" | "cursor"
        | "destination-db" | "index1" | "index2" | "numfields" => "integer",
        _ => "string",
    }
}

fn plain(name: &str) -> Argument {
    Argument {
        name: name.to_string(),
        kind: kind_of(name),
        token: None,
        optional: false,
        multiple: false,
        multiple_token: false,
        children: Vec::new(),
    }
}

/// Items up to a closing `]`, a `|`, or the end.
fn sequence(tokens: &[&str], pos: &mut usize) -> Vec<Argument> {
    let mut out: Vec<Argument> = Vec::new();
    while let Some(&token) = tokens.get(*pos) {
        match token {
            "]" | ">" | "|" => break,
            "..." => {
                *pos += 1;
                if let Some(last) = out.last_mut() {
                    last.multiple = true;
                }
            }
            "[" => {
                *pos += 1;
                let alternatives = alternatives(tokens, pos, "]");
                optional_group(&mut out, alternatives);
            }
            "<" => {
                *pos += 1;
                let alternatives = alternatives(tokens, pos, ">");
                out.push(one_of(alternatives, false));
            }
            word if is_keyword(word) => {
                *pos += 1;
                match tokens.get(*pos) {
                    Some(&value) if !is_keyword(value) && !is_punctuation(value) => {
                        *pos += 1;
                        let mut arg = plain(value);
                        arg.token = Some(word.to_string());
                        out.push(arg);
                    }
                    // `AGGREGATE <SUM | MIN | MAX>`: the keyword introduces the choice.
                    Some(&"<") => {
                        *pos += 1;
                        let mut choice = one_of(alternatives(tokens, pos, ">"), false);
                        choice.name = word.to_ascii_lowercase();
                        choice.token = Some(word.to_string());
                        out.push(choice);
                    }
                    _ => out.push(Argument {
                        name: word.to_ascii_lowercase(),
                        kind: "pure-token",
                        token: Some(word.to_string()),
                        optional: false,
                        multiple: false,
                        multiple_token: false,
                        children: Vec::new(),
                    }),
                }
            }
            word => {
                *pos += 1;
                out.push(plain(word));
            }
        }
    }
    out
}

/// Adds a bracketed group: a repetition of what precedes it (`key [key ...]`), one optional
/// argument, an optional block, or an optional choice.
fn optional_group(out: &mut Vec<Argument>, mut alternatives: Vec<Vec<Argument>>) {
    if alternatives.len() == 1 {
        let mut group = alternatives.remove(0);
        let repeats = group.last().is_some_and(|a| a.multiple);
        if repeats {
            if let Some(last) = group.last_mut() {
                last.multiple = false;
            }
            let n = group.len();
            // `WEIGHTS weight [weight ...]`: the repetition leaves the token out;
            // `GET pattern [GET pattern ...]`: it repeats the token too.
            let same = |a: &Argument, b: &Argument| {
                a.name == b.name
                    && a.kind == b.kind
                    && (b.token.is_none() || a.token == b.token)
                    && a.children == b.children
            };
            let repeated = out.len() >= n
                && out[out.len() - n..]
                    .iter()
                    .zip(&group)
                    .all(|(a, b)| same(a, b));
            if repeated {
                if n == 1 {
                    let with_token = group[0].token.is_some();
                    if let Some(last) = out.last_mut() {
                        last.multiple = true;
                        last.multiple_token = with_token;
                    }
                } else {
                    let members = out.split_off(out.len() - n);
                    out.push(block(members, false, true));
                }
                return;
            }
            if let Some(last) = group.last_mut() {
                last.multiple = true;
            }
        }
        if group.len() == 1 {
            let mut arg = group.remove(0);
            arg.optional = true;
            out.push(arg);
        } else if !group.is_empty() {
            out.push(block(group, true, false));
        }
        return;
    }
    out.push(one_of(alternatives, true));
}

fn block(children: Vec<Argument>, optional: bool, multiple: bool) -> Argument {
    Argument {
        name: children
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join("-"),
        kind: "block",
        token: None,
        optional,
        multiple,
        multiple_token: false,
        children,
    }
}

/// Writes arguments as `COMMAND DOCS` does: an array of maps.
pub fn write(arguments: &[Argument], reply: &mut Reply) {
    reply.array(arguments.len());
    for arg in arguments {
        let flags: Vec<&str> = [
            (arg.optional, "optional"),
            (arg.multiple, "multiple"),
            (arg.multiple_token, "multiple_token"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| f)
        .collect();
        let fields = 2
            + usize::from(arg.kind == "key")
            + usize::from(arg.token.is_some())
            + usize::from(!flags.is_empty())
            + usize::from(!arg.children.is_empty());
        reply.map(fields);
        reply.bulk(b"name");
        reply.bulk(arg.name.as_bytes());
        reply.bulk(b"type");
        reply.bulk(arg.kind.as_bytes());
        if arg.kind == "key" {
            reply.bulk(b"key_spec_index");
            reply.integer(0);
        }
        if let Some(token) = &arg.token {
            reply.bulk(b"token");
            reply.bulk(token.as_bytes());
        }
        if !flags.is_empty() {
            reply.bulk(b"flags");
            reply.set(flags.len());
            for flag in flags {
                reply.simple(flag);
            }
        }
        if !arg.children.is_empty() {
            reply.bulk(b"arguments");
            write(&arg.children, reply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(args: &[Argument]) -> Vec<String> {
        args.iter()
            .map(|a| {
                let mut s = format!("{}:{}", a.name, a.kind);
                if let Some(t) = &a.token {
                    s += &format!(" token={t}");
                }
                if a.optional {
                    s += " optional";
                }
                if a.multiple {
                    s += " multiple";
                }
                if !a.children.is_empty() {
                    s += &format!(" {:?}", summary(&a.children));
                }
                s
            })
            .collect()
    }

    #[test]
    fn set_syntax() {
        let args = parse("key value [NX | XX] [GET] [EX seconds | PX milliseconds | KEEPTTL]");
        assert_eq!(
            summary(&args),
            [
                "key:key",
                "value:string",
                "nx-xx:oneof optional [\"nx:pure-token token=NX\", \"xx:pure-token token=XX\"]",
                "get:pure-token token=GET optional",
                "seconds-milliseconds-keepttl:oneof optional [\"seconds:integer token=EX\", \"milliseconds:integer token=PX\", \"keepttl:pure-token token=KEEPTTL\"]",
            ]
        );
    }

    #[test]
    fn required_choices_and_repeated_tokens() {
        assert_eq!(
            summary(&parse("source destination <LEFT | RIGHT> <BEFORE | AFTER> x")),
            [
                "source:key",
                "destination:key",
                "left-right:oneof [\"left:pure-token token=LEFT\", \"right:pure-token token=RIGHT\"]",
                "before-after:oneof [\"before:pure-token token=BEFORE\", \"after:pure-token token=AFTER\"]",
                "x:string",
            ]
        );
        assert_eq!(
            summary(&parse(
                "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"
            )),
            [
                "numkeys:integer",
                "key:key multiple",
                "weight:string token=WEIGHTS optional multiple",
                "aggregate:oneof token=AGGREGATE optional [\"sum:pure-token token=SUM\", \"min:pure-token token=MIN\", \"max:pure-token token=MAX\"]",
            ]
        );
        let sort = parse("key [GET pattern [GET pattern ...]]");
        assert_eq!(
            summary(&sort),
            ["key:key", "pattern:pattern token=GET optional multiple"]
        );
        assert!(sort[1].multiple_token);
    }

    #[test]
    fn repetitions() {
        assert_eq!(summary(&parse("key [key ...]")), ["key:key multiple"]);
        assert_eq!(
            summary(&parse("key value [key value ...]")),
            ["key-value:block multiple [\"key:key\", \"value:string\"]"]
        );
        assert_eq!(summary(&parse("[message]")), ["message:string optional"]);
        assert!(parse("").is_empty());
    }
}

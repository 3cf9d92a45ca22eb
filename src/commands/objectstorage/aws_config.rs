//! Adding one profile to the AWS config file (`AWS_CONFIG_FILE`, else `~/.aws/config`)
//! without re-serialising it: the new section is appended, in the file's own line ending,
//! and every existing byte is kept.

/// An AWS config file is a few kilobytes.
pub const MAX_AWS_CONFIG: u64 = 1024 * 1024;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AwsConfigError {
    #[error("it is not UTF-8 text")]
    NotText,
    #[error(
        "it already has a profile {name:?} (line {line}) that says something else; \
         remove it or choose another name"
    )]
    Different { name: String, line: usize },
    #[error(
        "it has {count} sections for profile {name:?} (lines {lines}); the AWS CLI refuses \
         duplicate sections, so fix the file first"
    )]
    Duplicate {
        name: String,
        count: usize,
        lines: String,
    },
}

/// What adding the profile comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// The same profile is already there: nothing to write.
    Present,
    /// The whole new content of the file.
    Write(Vec<u8>),
}

/// A section as found: its header's line number (1-based), its name, and its body lines.
struct Section<'a> {
    line: usize,
    header: &'a str,
    body: Vec<&'a str>,
}

fn is_comment(trimmed: &str) -> bool {
    trimmed.starts_with('#') || trimmed.starts_with(';')
}

/// The header's name, when `line` is read as a section header.
fn header_of(line: &str) -> Option<&str> {
    // A BOM before the first header: Python keeps it and then fails on the file; a reader
    // that drops it sees the header.
    let t = line.trim().trim_start_matches('\u{feff}').trim();
    if is_comment(t) {
        return None;
    }
    let rest = t.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    Some(&rest[..end])
}

fn sections(text: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        match header_of(line) {
            Some(header) => out.push(Section {
                line: i + 1,
                header,
                body: Vec::new(),
            }),
            None => {
                if let Some(s) = out.last_mut() {
                    s.body.push(line);
                }
            }
        }
    }
    out
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.trim();
        }
    }
    s
}

/// Whether a section header may name profile `name` for some reader: configparser ends
/// the name at the last `]`, a simpler reader at the first.
fn names(header: &str, name: &str) -> bool {
    let first = header.split(']').next().unwrap_or(header);
    names_exactly(header, name) || names_exactly(first, name)
}

/// Case is ignored (botocore minds it; other SDKs' readers may not).
fn names_exactly(header: &str, name: &str) -> bool {
    let h = header.trim();
    if unquote(h).eq_ignore_ascii_case(name) {
        return true;
    }
    let keyword = h.get(..7).filter(|k| k.eq_ignore_ascii_case("profile"));
    match keyword.map(|_| &h[7..]) {
        Some(rest) if rest.starts_with(char::is_whitespace) => {
            unquote(rest).eq_ignore_ascii_case(name)
        }
        _ => false,
    }
}

/// The sections of another AWS file (the shared credentials file) that could name
/// profile `name`, by their header's line number; a text that is not UTF-8 is read as
/// far as it is.
///
/// Which sections count as the profile is decided on the safe side of every reader: any
/// line whose trimmed text starts with `[` and has a `]` is read as a header, even indented
/// or inside what Python's configparser would take for a continuation value; its name is
/// what lies between the first `[` and the last `]` (configparser's greedy pattern) or the
/// first `]` (a simpler reader's);
/// `[NAME]`, `[profile NAME]` with any spacing, and a quoted NAME all name the profile
/// (botocore splits `profile NAME` with shlex; the credentials file uses bare names).
/// Comment lines (`#`, `;`) are not headers, as for configparser. So a profile the AWS CLI
/// would see is never missed; a look-alike only makes `--write` refuse.
pub fn lines_naming(bytes: &[u8], name: &str) -> Vec<usize> {
    let text = String::from_utf8_lossy(bytes);
    sections(&text)
        .into_iter()
        .filter(|s| names(s.header, name))
        .map(|s| s.line)
        .collect()
}

/// The section's settings as data: comments and blank lines dropped, `key = value`
/// spacing ignored, indentation kept only as "nested or not".
fn settings(body: &[&str]) -> Vec<(bool, String)> {
    body.iter()
        .filter(|l| {
            let t = l.trim();
            !t.is_empty() && !is_comment(t)
        })
        .map(|l| {
            let nested = l.starts_with(char::is_whitespace);
            let t = l.trim();
            let norm = match t.split_once('=') {
                Some((k, v)) => format!("{}={}", k.trim(), v.trim()),
                None => t.to_string(),
            };
            (nested, norm)
        })
        .collect()
}

/// How to add `section` (its text with `\n` line breaks, header first) as profile `name`
/// to a file holding `original` (None: no file yet).
///
/// The file is read with a bound, must be UTF-8 text without NUL bytes, may use LF or CRLF
/// and may lack a final line break.
pub fn plan_add(
    original: Option<&[u8]>,
    name: &str,
    section: &str,
) -> Result<Plan, AwsConfigError> {
    let bytes = original.unwrap_or_default();
    if bytes.contains(&0) {
        return Err(AwsConfigError::NotText);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| AwsConfigError::NotText)?;
    let wanted = sections(section);
    let wanted_settings = settings(&wanted.first().map(|s| s.body.clone()).unwrap_or_default());
    let found: Vec<Section<'_>> = sections(text)
        .into_iter()
        .filter(|s| names(s.header, name))
        .collect();
    match found.as_slice() {
        [] => {}
        [one] if settings(&one.body) == wanted_settings => return Ok(Plan::Present),
        [one] => {
            return Err(AwsConfigError::Different {
                name: name.to_string(),
                line: one.line,
            })
        }
        many => {
            return Err(AwsConfigError::Duplicate {
                name: name.to_string(),
                count: many.len(),
                lines: many
                    .iter()
                    .map(|s| s.line.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
    let eol = if text
        .split_once('\n')
        .is_some_and(|(first, _)| first.ends_with('\r'))
    {
        "\r\n"
    } else {
        "\n"
    };
    let mut out = String::with_capacity(text.len() + section.len() + 4);
    out.push_str(text);
    if !text.is_empty() {
        if !text.ends_with('\n') {
            out.push_str(eol);
        }
        out.push_str(eol);
    }
    for line in section.lines() {
        out.push_str(line);
        out.push_str(eol);
    }
    // The proof: every old byte is still first, and the profile now reads as intended.
    let added: Vec<Section<'_>> = sections(&out)
        .into_iter()
        .filter(|s| names(s.header, name))
        .collect();
    let proven = out.as_bytes().starts_with(bytes)
        && added.len() == 1
        && settings(&added[0].body) == wanted_settings;
    if !proven {
        return Err(AwsConfigError::Different {
            name: name.to_string(),
            line: added.first().map_or(0, |s| s.line),
        });
    }
    Ok(Plan::Write(out.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECTION: &str = "[profile cw]\ncredential_process = /bin/p objectstorage credentials\nendpoint_url = https://cwobject.com\ns3 =\n  addressing_style = virtual\n";

    fn add(original: &str) -> Result<Plan, AwsConfigError> {
        plan_add(Some(original.as_bytes()), "cw", SECTION)
    }

    fn written(original: &str) -> String {
        match add(original).expect("plans") {
            Plan::Write(b) => String::from_utf8(b).unwrap(),
            Plan::Present => panic!("present"),
        }
    }

    #[test]
    fn appends_keeping_every_byte_and_the_line_ending() {
        assert_eq!(
            plan_add(None, "cw", SECTION).unwrap(),
            Plan::Write(SECTION.as_bytes().to_vec())
        );
        let lf = "# mine\n[default]\nregion = x\n";
        assert_eq!(written(lf), format!("{lf}\n{SECTION}"));
        let no_final = "[default]\nregion = x";
        assert_eq!(written(no_final), format!("{no_final}\n\n{SECTION}"));
        let crlf = "[default]\r\nregion = x\r\n";
        let out = written(crlf);
        assert!(out.starts_with(crlf));
        assert!(out.ends_with("  addressing_style = virtual\r\n"), "{out:?}");
        assert!(
            !out[crlf.len()..].replace("\r\n", "").contains('\n'),
            "{out:?}"
        );
    }

    #[test]
    fn the_same_profile_is_left_alone_in_any_spacing() {
        assert_eq!(add(SECTION).unwrap(), Plan::Present);
        let spaced = "[default]\n[profile   cw ]\r\n# note\ncredential_process=/bin/p objectstorage credentials\r\nendpoint_url=https://cwobject.com\ns3=\n    addressing_style=virtual";
        assert_eq!(add(spaced).unwrap(), Plan::Present);
    }

    #[test]
    fn another_profile_of_that_name_is_refused_in_every_spelling() {
        for planted in [
            "[profile cw]\nregion = x\n",
            "[cw]\naws_access_key_id = A\n",
            "[profile \"cw\"]\n",
            "[profile 'cw'] ; comment ]\n",
            "  [profile cw]\n",
            "\u{feff}[profile cw]\n",
            "[PROFILE CW]\n",
            "[profile\tcw]\n",
            "[profile cw]]\n",
            "[profile x]\ns3 =\n  [profile cw]\n",
            "[profile cw]\ncredential_process = /evil objectstorage credentials\nendpoint_url = https://cwobject.com\ns3 =\n  addressing_style = virtual\n",
        ] {
            assert!(
                matches!(add(planted), Err(AwsConfigError::Different { .. })),
                "{planted:?}"
            );
        }
        let twice = format!("{SECTION}{SECTION}");
        assert!(matches!(
            add(&twice),
            Err(AwsConfigError::Duplicate { count: 2, .. })
        ));
    }

    #[test]
    fn look_alikes_that_name_other_profiles_are_kept() {
        for other in [
            "[profile cw2]\n",
            "[profilecw]\n",
            "# [profile cw]\n",
            "; [cw]\n",
            "[profile x]\nnote = [profile cw\n",
        ] {
            let out = written(other);
            assert!(out.starts_with(other), "{other:?}");
        }
    }

    #[test]
    fn binary_files_are_refused() {
        assert_eq!(
            plan_add(Some(b"[a]\n\0"), "cw", SECTION),
            Err(AwsConfigError::NotText)
        );
        assert_eq!(
            plan_add(Some(b"\xff\xfe[a]"), "cw", SECTION),
            Err(AwsConfigError::NotText)
        );
    }
}

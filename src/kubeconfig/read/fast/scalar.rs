//! The line scanner's reading of one line: which characters it accepts, where a key ends,
//! and a value on the key's line (plain, single- or double-quoted), with the plain words
//! that YAML 1.1 would type as something other than a string. Every answer it is unsure of
//! is [`Bail`]: the full parser decides.

/// The full parser looks at most 1,024 characters ahead for a key's colon.
const MAX_KEY_LEN: usize = 256;

/// Giving up: the full parser decides.
pub(super) struct Bail;

pub(super) type R<T> = Result<T, Bail>;

/// Part of a line, up to its end, with what reading the line learnt: where its last `:`
/// or `#` is, so that scanning a long value for them is not done twice.
#[derive(Clone, Copy)]
pub(super) struct Text<'a> {
    pub(super) s: &'a str,
    /// No `:` or `#` at or after this offset.
    pub(super) quiet: usize,
}

impl<'a> Text<'a> {
    pub(super) fn from(self, offset: usize) -> R<Text<'a>> {
        Ok(Text {
            s: self.s.get(offset..).ok_or(Bail)?,
            quiet: self.quiet.saturating_sub(offset),
        })
    }

    pub(super) fn trim_start(self) -> R<Text<'a>> {
        self.from(leading_spaces(self.s))
    }
}

/// How many spaces `s` starts with. (A byte loop: `trim_start_matches(' ')` goes through
/// the generic character searcher, about 45 instructions a line in the shipped build.)
pub(super) fn leading_spaces(s: &str) -> usize {
    leading_spaces_of(s.as_bytes())
}

pub(super) fn leading_spaces_of(s: &[u8]) -> usize {
    s.iter().take_while(|&&b| b == b' ').count()
}

/// A value on the same line as its key (or its `-`).
pub(super) enum Val<'a> {
    /// Nothing, or only a comment: null, or a block node on the following lines.
    Empty,
    EmptyMap,
    EmptySeq,
    /// A plain scalar, trailing spaces and comment removed.
    Plain(&'a str),
    /// The text between the quotes of a single-quoted scalar, not yet unescaped.
    Single(&'a str),
    /// The text between the quotes of a double-quoted scalar (escapes checked).
    Double(&'a str),
}

/// Each key the model reads may appear once per mapping (the full parser would keep the
/// last; being sure of that is not worth it).
pub(super) fn once(seen: &mut u8, bit: u8) -> R<()> {
    if *seen & bit != 0 {
        return Err(Bail);
    }
    *seen |= bit;
    Ok(())
}

pub(super) fn is_printable_ascii(b: u8) -> bool {
    b.wrapping_sub(0x20) < 0x5f
}

/// Whether every byte is printable ASCII (0x20 to 0x7e), eight bytes at a time as one
/// `u64`. Every byte of every file passes through here; the shipped build optimises for
/// size and does not vectorise a per-byte loop, which cost five instructions a byte (a
/// seventh of `token show` at 2,000 contexts). `tests::printable_ascii_by_words` holds
/// this to the per-byte rule.
pub(super) fn all_printable_ascii(line: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = line.chunks_exact(8);
    let mut bad = 0u64;
    for chunk in &mut chunks {
        if let Ok(bytes) = <[u8; 8]>::try_from(chunk) {
            let x = u64::from_le_bytes(bytes);
            // With each byte's high bit set, subtracting a constant under 0x80 cannot
            // borrow from the next byte, and the high bit stays set exactly when the
            // byte's low seven bits are at least that constant.
            let set = x | HIGH;
            let below_space = !set.wrapping_sub(0x20 * ONES) & HIGH;
            let delete = set.wrapping_sub(0x7f * ONES) & HIGH;
            bad |= (x & HIGH) | below_space | delete;
        }
    }
    bad == 0 && chunks.remainder().iter().all(|&b| is_printable_ascii(b))
}

/// The slow check of a line that is not all printable ASCII: every character printable
/// ASCII or a safe non-ASCII one (tabs, control characters and a lone CR give up).
pub(super) fn check_chars(line: &str) -> R<()> {
    for c in line.chars() {
        let ok = if c.is_ascii() {
            is_printable_ascii(c as u8)
        } else {
            is_safe_non_ascii(c)
        };
        if !ok {
            return Err(Bail);
        }
    }
    Ok(())
}

/// YAML's printable characters beyond ASCII, less those some parser takes for a line
/// break (NEL, LS, PS) or a byte-order mark.
pub(super) fn is_safe_non_ascii(c: char) -> bool {
    matches!(u32::from(c), 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x1_0000..=0x10_FFFF)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// A `-` that starts a block sequence entry.
pub(super) fn is_seq_entry(text: &str) -> bool {
    matches!(text.as_bytes(), [b'-'] | [b'-', b' ', ..])
}

/// The characters of the keys read: `[A-Za-z0-9_./-]`.
static KEY_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        table[i] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-');
        i += 1;
    }
    table
};

/// Split `key: rest` for a plain key of the characters `[A-Za-z_][A-Za-z0-9_./-]*` that is
/// not a word YAML 1.1 could read as a boolean or null (such keys are errors for struct
/// fields under `no_schema`). `rest` is empty or starts with a space.
pub(super) fn split_key(text: Text<'_>) -> R<(&str, Text<'_>)> {
    let b = text.s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return Err(Bail),
    }
    let len = b
        .iter()
        .position(|&c| !KEY_CHARS[usize::from(c)])
        .unwrap_or(b.len());
    if len > MAX_KEY_LEN || b.get(len) != Some(&b':') {
        return Err(Bail);
    }
    let after = len.saturating_add(1);
    if !matches!(b.get(after), None | Some(b' ')) {
        return Err(Bail);
    }
    let key = text.s.get(..len).ok_or(Bail)?;
    if is_special_word(key) {
        return Err(Bail);
    }
    Ok((key, text.from(after)?))
}

/// After a quoted scalar or `{}`/`[]`: only spaces, or a comment after at least one space.
pub(super) fn tail_ok(s: &str) -> bool {
    let spaces = leading_spaces(s);
    let t = s.get(spaces..).unwrap_or_default();
    t.is_empty() || (spaces > 0 && t.starts_with('#'))
}

/// Classify the value written after a colon or a `-`. `rest` is empty or starts with a
/// space (the caller checked), so a `#` after the spaces starts a comment.
pub(super) fn value(rest: Text<'_>) -> R<Val<'_>> {
    let text = rest.trim_start()?;
    let t = text.s;
    let b = t.as_bytes();
    let Some(&first) = b.first() else {
        return Ok(Val::Empty);
    };
    match first {
        b'#' => Ok(Val::Empty),
        b'{' | b'[' => {
            let (val, close) = if first == b'{' {
                (Val::EmptyMap, b'}')
            } else {
                (Val::EmptySeq, b']')
            };
            if b.get(1) != Some(&close) || !tail_ok(t.get(2..).ok_or(Bail)?) {
                return Err(Bail);
            }
            Ok(val)
        }
        b'\'' => {
            let end = single_quoted_end(b)?;
            if !tail_ok(t.get(end.saturating_add(1)..).ok_or(Bail)?) {
                return Err(Bail);
            }
            Ok(Val::Single(t.get(1..end).ok_or(Bail)?))
        }
        b'"' => {
            let end = double_quoted_end(b)?;
            if !tail_ok(t.get(end.saturating_add(1)..).ok_or(Bail)?) {
                return Err(Bail);
            }
            Ok(Val::Double(t.get(1..end).ok_or(Bail)?))
        }
        // `-x`, `?x` and `:x` are plain scalars (`--region` in exec args); alone or before
        // a space they are indicators.
        b'-' | b'?' | b':' if matches!(b.get(1), None | Some(b' ')) => Err(Bail),
        b',' | b']' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`' => Err(Bail),
        _ => Ok(Val::Plain(plain_end(text)?)),
    }
}

/// A plain scalar on one line: ends at a comment (` #`) or the end of the line, trailing
/// spaces dropped. A `:` followed by a space or the end of the line would make it a key
/// (an error here): give up.
pub(super) fn plain_end(text: Text<'_>) -> R<&str> {
    let t = text.s;
    let b = t.as_bytes();
    let mut end = b.len();
    let mut i = 0;
    let searched = b.get(..text.quiet.min(b.len())).ok_or(Bail)?;
    while let Some(off) = memchr::memchr2(b':', b'#', searched.get(i..).ok_or(Bail)?) {
        let j = i.saturating_add(off);
        let next = j.saturating_add(1);
        if b.get(j) == Some(&b':') {
            if matches!(b.get(next), None | Some(b' ')) {
                return Err(Bail);
            }
        } else if j > 0 && b.get(j.saturating_sub(1)) == Some(&b' ') {
            end = j;
            break;
        }
        i = next;
    }
    let kept = b.get(..end).ok_or(Bail)?;
    let spaces = kept.iter().rev().take_while(|&&c| c == b' ').count();
    t.get(..end.saturating_sub(spaces)).ok_or(Bail)
}

/// Index of the closing quote of a single-quoted scalar starting at `b[0]`, on this line.
pub(super) fn single_quoted_end(b: &[u8]) -> R<usize> {
    let mut i = 1;
    loop {
        let off = b.get(i..).ok_or(Bail)?.iter().position(|&c| c == b'\'');
        let j = i.saturating_add(off.ok_or(Bail)?);
        if b.get(j.saturating_add(1)) == Some(&b'\'') {
            i = j.saturating_add(2);
        } else {
            return Ok(j);
        }
    }
}

/// Index of the closing quote of a double-quoted scalar starting at `b[0]`, on this line,
/// allowing only the escapes `\\ \" \/ \n \t`.
pub(super) fn double_quoted_end(b: &[u8]) -> R<usize> {
    let mut i = 1;
    loop {
        match b.get(i) {
            None => return Err(Bail),
            Some(b'"') => return Ok(i),
            Some(b'\\') => {
                if !matches!(
                    b.get(i.saturating_add(1)),
                    Some(b'\\' | b'"' | b'/' | b'n' | b't')
                ) {
                    return Err(Bail);
                }
                i = i.saturating_add(2);
            }
            Some(_) => i = i.saturating_add(1),
        }
    }
}

/// The value of a double-quoted scalar whose escapes `double_quoted_end` checked.
pub(super) fn unescape_double(raw: &str) -> R<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(rest.get(..i).ok_or(Bail)?);
        let c = match rest.as_bytes().get(i.saturating_add(1)) {
            Some(b'\\') => '\\',
            Some(b'"') => '"',
            Some(b'/') => '/',
            Some(b'n') => '\n',
            Some(b't') => '\t',
            _ => return Err(Bail),
        };
        out.push(c);
        rest = rest.get(i.saturating_add(2)..).ok_or(Bail)?;
    }
    out.push_str(rest);
    Ok(out)
}

/// The plain scalars the full parser reads as null.
pub(super) fn is_null(s: &str) -> bool {
    matches!(s, "~" | "null" | "Null" | "NULL")
}

/// Words that YAML 1.1 or the full parser may read as something else than a string, in
/// any case (booleans, null, and the float spellings Rust's parser knows).
pub(super) fn is_special_word(s: &str) -> bool {
    let words: &[&str] = match s.len() {
        1 => &["y", "n"],
        2 => &["no", "on"],
        3 => &["yes", "off", "inf", "nan"],
        4 => &["true", "null"],
        5 => &["false"],
        8 => &["infinity"],
        _ => return false,
    };
    words.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// A plain scalar (not null) that the full parser, under `no_schema`, surely reads as
/// this very string: not a boolean or null word in any case, and not a number.
pub(in crate::kubeconfig) fn is_clearly_string(s: &str) -> bool {
    !is_special_word(s) && !may_be_number(s)
}

/// A plain scalar that the full parser surely accepts where it skips a value (it still
/// converts it, and refuses infinities and NaN): anything that cannot be a number, and
/// short decimals such as `8443`, `-1` or `1.5`.
pub(in crate::kubeconfig) fn is_safe_ignored(s: &str) -> bool {
    if !may_be_number(s) {
        return true;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |d: &str| d.len() <= 18 && d.bytes().all(|c| c.is_ascii_digit());
    !int.is_empty() && digits(int) && digits(frac)
}

/// Whether the full parser might read a plain scalar as a number (or an infinity or NaN):
/// after at most one sign it starts with a digit or a dot, and it has only characters that
/// numbers are written with. So `1.2.3`, `1password` and `.inf` may be numbers, while
/// `10.0.0.1:6443`, `--region` and `-x` are not.
pub(super) fn may_be_number(s: &str) -> bool {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    matches!(unsigned.as_bytes().first(), Some(b'0'..=b'9' | b'.'))
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-'))
}

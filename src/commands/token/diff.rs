//! The line diff every dry run prints (`token rotate`, `token store`/`unstore`,
//! `kubeconfig import`), and the editor's fuzzing property reads: `similar`'s patience diff
//! over the real lines (unique lines anchor it, so thousands of changed token lines in a
//! 2 MB file stay fast), printed through the caller's masked view of each line.

use similar::{Algorithm, DiffOp};

/// One line of the walk, line break included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

pub fn lines<'a>(a: &'a str, b: &'a str) -> Vec<Line<'a>> {
    let a: Vec<&str> = a.split_inclusive('\n').collect();
    let b: Vec<&str> = b.split_inclusive('\n').collect();
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    for op in similar::capture_diff_slices(Algorithm::Patience, &a, &b) {
        let (old, new) = (op.old_range(), op.new_range());
        match op {
            DiffOp::Equal { .. } => {
                out.extend(a.get(old).unwrap_or(&[]).iter().map(|l| Line::Same(l)))
            }
            _ => {
                out.extend(a.get(old).unwrap_or(&[]).iter().map(|l| Line::Removed(l)));
                out.extend(b.get(new).unwrap_or(&[]).iter().map(|l| Line::Added(l)));
            }
        }
    }
    out
}

/// A unified diff of `a` and `b` under `name`, with `context` lines around each change.
/// The walk compares the real lines, but every line is printed as `shown_a[i]` or
/// `shown_b[j]` (line breaks not included): the caller's view of the texts, secrets hidden,
/// one entry per line of each text. A line the view lacks prints as `…`.
pub fn unified(
    a: &str,
    b: &str,
    shown_a: &[String],
    shown_b: &[String],
    name: &str,
    context: usize,
) -> String {
    let walk = lines(a, b);
    let changed: Vec<usize> = walk
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, Line::Same(_)))
        .map(|(k, _)| k)
        .collect();
    let mut out = String::new();
    if changed.is_empty() {
        return out;
    }
    out.push_str(&format!("--- {name}\n+++ {name}\n"));
    // Each step's 0-based line numbers in `a` and `b`.
    let mut numbers = Vec::with_capacity(walk.len());
    let (mut i, mut j) = (0usize, 0usize);
    for l in &walk {
        numbers.push((i, j));
        match l {
            Line::Same(_) => {
                i += 1;
                j += 1;
            }
            Line::Removed(_) => i += 1,
            Line::Added(_) => j += 1,
        }
    }
    // Group changes whose context windows touch into hunks.
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &k in &changed {
        let (start, end) = (k.saturating_sub(context), (k + context + 1).min(walk.len()));
        match hunks.last_mut() {
            Some(h) if start <= h.1 => h.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    let view = |v: &[String], n: usize| v.get(n).map_or("…", String::as_str).to_string();
    for (start, end) in hunks {
        let (a_line, b_line) = numbers[start];
        let part = &walk[start..end];
        let a_count = part.iter().filter(|l| !matches!(l, Line::Added(_))).count();
        let b_count = part
            .iter()
            .filter(|l| !matches!(l, Line::Removed(_)))
            .count();
        out.push_str(&format!(
            "@@ -{},{a_count} +{},{b_count} @@\n",
            a_line + 1,
            b_line + 1
        ));
        for (l, &(i, j)) in part.iter().zip(&numbers[start..end]) {
            let (mark, text, shown) = match l {
                Line::Same(t) => (' ', t, view(shown_a, i)),
                Line::Removed(t) => ('-', t, view(shown_a, i)),
                Line::Added(t) => ('+', t, view(shown_b, j)),
            };
            out.push(mark);
            out.push_str(&shown);
            out.push('\n');
            if !text.ends_with('\n') {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `token store` turns one token line into a nine-line exec entry and `import` adds whole
    /// entries: a change of any size is one hunk of exactly its lines, and the lines after
    /// it are context again.
    #[test]
    fn a_long_insertion_is_one_hunk() {
        let before: String = (0..40).map(|i| format!("line {i}\n")).collect();
        let inserted: String = (0..25).map(|i| format!("new {i}\n")).collect();
        let after = before.replacen("line 10\n", &inserted, 1);
        let walk = lines(&before, &after);
        let removed = walk
            .iter()
            .filter(|l| matches!(l, Line::Removed(_)))
            .count();
        let added = walk.iter().filter(|l| matches!(l, Line::Added(_))).count();
        assert_eq!((removed, added), (1, 25));
        assert_eq!(walk.last(), Some(&Line::Same("line 39\n")));
    }

    fn plain(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn replaced_and_shrunk_lines_make_tight_hunks() {
        let a = "a\nb\ntoken: |-\n  OLD\nc\nd\ne\nf\ng\ntoken: OLD\nh\n";
        let b = "a\nb\ntoken: \"NEW\"\nc\nd\ne\nf\ng\ntoken: NEW\nh\n";
        assert_eq!(
            unified(a, b, &plain(a), &plain(b), "f", 1),
            "--- f\n+++ f\n@@ -2,4 +2,3 @@\n b\n-token: |-\n-  OLD\n+token: \"NEW\"\n c\n@@ -9,3 +8,3 @@\n g\n-token: OLD\n+token: NEW\n h\n"
        );
    }

    #[test]
    fn walking_both_texts_reproduces_them() {
        let a = "x\ny\nz\n1\n2\n3";
        let b = "x\nq\nz\n1\n4\n2\n3\n";
        let walk = lines(a, b);
        let back_a: String = walk
            .iter()
            .filter_map(|l| match l {
                Line::Same(t) | Line::Removed(t) => Some(*t),
                _ => None,
            })
            .collect();
        let back_b: String = walk
            .iter()
            .filter_map(|l| match l {
                Line::Same(t) | Line::Added(t) => Some(*t),
                _ => None,
            })
            .collect();
        assert_eq!((back_a.as_str(), back_b.as_str()), (a, b));
        assert_eq!(unified(a, a, &plain(a), &plain(a), "f", 2), "");
    }

    #[test]
    fn lines_print_through_the_view() {
        let (a, b) = ("k: 1\nt: OLD\n", "k: 1\nt: NEW\n");
        let view = |s: &str| -> Vec<String> {
            s.lines()
                .map(|l| l.replace("OLD", "o").replace("NEW", "n"))
                .collect()
        };
        assert_eq!(
            unified(a, b, &view(a), &view(b), "f", 1),
            "--- f\n+++ f\n@@ -1,2 +1,2 @@\n k: 1\n-t: o\n+t: n\n"
        );
    }
}

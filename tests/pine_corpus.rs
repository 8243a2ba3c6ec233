//! Corpus test: every `corpus/valid/*.pine` script must check without errors, every
//! `corpus/invalid/*.pine` script must produce its first error at the position and with the message
//! given on its first line (`// expect: LINE:COL substring`), and no truncated script may panic.

use aio::pine;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pine")
}

fn pine_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pine")).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn valid_scripts_have_no_errors() {
    let files = pine_files(&corpus_dir().join("valid"));
    assert!(files.len() >= 35, "only {} valid scripts", files.len());
    let mut failures = String::new();
    for f in &files {
        let src = read(f);
        let errors: Vec<_> = pine::check(&src).into_iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            failures.push_str(&pine::format_diagnostics(&f.display().to_string(), &errors));
        }
        let report = pine::fix(&src);
        if report.remaining.iter().any(|d| d.is_error()) {
            failures.push_str(&format!("{}: fix broke a valid script: {:?}\n", f.display(), report.remaining));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn invalid_scripts_report_expected_error() {
    let files = pine_files(&corpus_dir().join("invalid"));
    assert!(files.len() >= 15, "only {} invalid scripts", files.len());
    let mut failures = String::new();
    for f in &files {
        let src = read(f);
        let Some(expect) = src.lines().next().and_then(|l| l.strip_prefix("// expect: ")) else {
            failures.push_str(&format!("{}: missing `// expect: LINE:COL message` header\n", f.display()));
            continue;
        };
        let (pos, substring) = expect.split_once(' ').unwrap_or((expect, ""));
        let (line, col) = pos.split_once(':').unwrap_or(("0", "0"));
        let (line, col): (usize, usize) = (line.parse().unwrap_or(0), col.parse().unwrap_or(0));
        let diags = pine::check(&src);
        match diags.iter().find(|d| d.is_error()) {
            Some(d) if d.line == line && d.col == col && d.message.contains(substring.trim()) => {}
            other => failures.push_str(&format!(
                "{}: expected {line}:{col} `{}`, got {:?}\n",
                f.display(),
                substring.trim(),
                other.map(ToString::to_string)
            )),
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn truncated_scripts_never_panic() {
    let mut files = pine_files(&corpus_dir().join("valid"));
    files.extend(pine_files(&corpus_dir().join("invalid")));
    for f in &files {
        let src = read(f);
        for cut in (0..=src.len()).step_by(7).filter(|&i| src.is_char_boundary(i)) {
            let part = &src[..cut];
            let _ = pine::check(part);
            let _ = pine::parse(part);
            let _ = pine::highlight(part);
            if cut % 49 == 0 {
                let _ = pine::fix(part);
            }
        }
    }
}

#[test]
fn mutated_scripts_never_panic() {
    // Deterministic xorshift so failures are reproducible.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const SNIPPETS: &[&str] = &[
        "(", ")", "[", "]", "\n", "\n    ", "\n  ", "\t", "\"", "'", "#", "=>", ":=", "?", ":", ",", ".", "if ",
        "else", "for ", " to ", "switch", "=", "é", "//", "var ", "type ", "method ", "enum ", "<", ">", "\r\n",
    ];
    let mut files = pine_files(&corpus_dir().join("valid"));
    files.extend(pine_files(&corpus_dir().join("invalid")));
    for f in &files {
        let src = read(f);
        for _ in 0..40 {
            let mut s = src.clone();
            for _ in 0..(1 + next() % 4) {
                let mut at = (next() as usize) % (s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                if next() % 2 == 0 {
                    let snippet = SNIPPETS[(next() as usize) % SNIPPETS.len()];
                    s.insert_str(at, snippet);
                } else {
                    let mut end = (at + 1 + (next() as usize) % 8).min(s.len());
                    while !s.is_char_boundary(end) {
                        end += 1;
                    }
                    s.replace_range(at..end, "");
                }
            }
            let _ = pine::check(&s);
            let _ = pine::highlight(&s);
            let report = pine::fix(&s);
            let _ = pine::check(&report.source);
        }
    }
}

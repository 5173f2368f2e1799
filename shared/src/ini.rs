//! A line-numbered INI reader with Python `configparser` semantics.
//!
//! twilio-aws-ivr read `config.ini` with `configparser.ConfigParser`, so our
//! reader accepts what it accepted (`=` or `:` delimiters, `#`/`;` comment
//! lines, indented continuation lines, case-insensitive keys) and keeps the
//! line of every section and key so that errors can point at `config.ini:LINE`.
//! Unlike `ConfigParser`, values are taken literally: `%` is not interpolated
//! (mp3 names are often URL-encoded). A `;` preceded by whitespace starts an
//! inline comment, as with `inline_comment_prefixes=(';',)`.

use std::fmt;

/// One `key = value` line (plus any continuation lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lower-cased, as `configparser` does.
    pub key: String,
    pub value: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub sections: Vec<Section>,
}

impl Document {
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// A syntax error: the file cannot be read as INI at all at this line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub section: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses INI text. Every problem found is returned, not just the first.
pub fn parse(text: &str) -> Result<Document, Vec<SyntaxError>> {
    let mut doc = Document::default();
    let mut errors = Vec::new();
    // Indentation of the key line that a continuation line must exceed.
    let mut last_key_indent: Option<usize> = None;
    // Section name → its header line, so a duplicate is found without a scan.
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();

    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            // configparser keeps blank lines inside multi-line values only when
            // more continuation follows; trailing blanks are dropped below.
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let (Some(key_indent), Some(section)) = (last_key_indent, doc.sections.last_mut()) {
            if indent > key_indent {
                if let Some(entry) = section.entries.last_mut() {
                    let extra = strip_inline_comment(trimmed);
                    if !extra.is_empty() {
                        if !entry.value.is_empty() {
                            entry.value.push('\n');
                        }
                        entry.value.push_str(extra);
                    }
                    continue;
                }
            }
        }
        if trimmed.starts_with('[') {
            last_key_indent = None;
            let Some(end) = trimmed.rfind(']') else {
                errors.push(SyntaxError {
                    line: line_no,
                    section: None,
                    key: None,
                    message: format!("section header `{trimmed}` has no closing `]`"),
                });
                continue;
            };
            let name = trimmed[1..end].trim().to_string();
            if name.is_empty() {
                errors.push(SyntaxError {
                    line: line_no,
                    section: None,
                    key: None,
                    message: "empty section name `[]`".into(),
                });
                continue;
            }
            if let Some(first) = seen.get(&name) {
                errors.push(SyntaxError {
                    line: line_no,
                    section: Some(name.clone()),
                    key: None,
                    message: format!("section defined twice (first on line {first})"),
                });
            } else {
                seen.insert(name.clone(), line_no);
            }
            doc.sections.push(Section {
                name,
                line: line_no,
                entries: Vec::new(),
            });
            continue;
        }
        let Some(pos) = trimmed.find(['=', ':']) else {
            errors.push(SyntaxError {
                line: line_no,
                section: doc.sections.last().map(|s| s.name.clone()),
                key: None,
                message: format!("expected `key = value`, found `{trimmed}`"),
            });
            continue;
        };
        let key = trimmed[..pos].trim().to_lowercase();
        let value = strip_inline_comment(trimmed[pos + 1..].trim()).to_string();
        let Some(section) = doc.sections.last_mut() else {
            errors.push(SyntaxError {
                line: line_no,
                section: None,
                key: Some(key),
                message: "key before any [section] header".into(),
            });
            continue;
        };
        if key.is_empty() {
            errors.push(SyntaxError {
                line: line_no,
                section: Some(section.name.clone()),
                key: None,
                message: "empty key name".into(),
            });
            continue;
        }
        if let Some(first) = section.get(&key) {
            errors.push(SyntaxError {
                line: line_no,
                section: Some(section.name.clone()),
                key: Some(key.clone()),
                message: format!(
                    "key set twice in this section (first on line {})",
                    first.line
                ),
            });
        }
        section.entries.push(Entry {
            key,
            value,
            line: line_no,
        });
        last_key_indent = Some(indent);
    }
    if errors.is_empty() {
        Ok(doc)
    } else {
        Err(errors)
    }
}

fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b';' && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return value[..i].trim_end();
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_keys_and_lines() {
        let doc = parse(
            "# top\n[twilio]\nAccount_SID = AC1\nauth_token:\n\n[ivr]\n timezone = Europe/London\n",
        )
        .unwrap();
        assert_eq!(doc.sections.len(), 2);
        let t = doc.section("twilio").unwrap();
        assert_eq!(t.line, 2);
        assert_eq!(t.get("account_sid").unwrap().value, "AC1");
        assert_eq!(t.get("account_sid").unwrap().line, 3);
        assert_eq!(t.get("auth_token").unwrap().value, "");
        assert_eq!(
            doc.section("ivr").unwrap().get("timezone").unwrap().value,
            "Europe/London"
        );
    }

    #[test]
    fn percent_is_literal_and_first_delimiter_wins() {
        let doc = parse("[a]\nplay_sample = https://x.example/a%20b.mp3?x=1:2\n").unwrap();
        assert_eq!(
            doc.sections[0].get("play_sample").unwrap().value,
            "https://x.example/a%20b.mp3?x=1:2"
        );
    }

    #[test]
    fn inline_semicolon_comment_needs_whitespace() {
        let doc = parse("[a]\nx = 1 ; note\ny = a;b\nz = Press # to go back\n").unwrap();
        let s = &doc.sections[0];
        assert_eq!(s.get("x").unwrap().value, "1");
        assert_eq!(s.get("y").unwrap().value, "a;b");
        assert_eq!(s.get("z").unwrap().value, "Press # to go back");
    }

    #[test]
    fn continuation_lines_join_with_newline() {
        let doc = parse("[a]\nsay = Hello\n  and welcome\nnext = 1\n").unwrap();
        let s = &doc.sections[0];
        assert_eq!(s.get("say").unwrap().value, "Hello\nand welcome");
        assert_eq!(s.get("next").unwrap().value, "1");
    }

    #[test]
    fn reports_every_syntax_error_with_its_line() {
        let errs = parse("x = 1\n[a]\nnot a pair\n[a]\n[b\nk=1\nk=2\n").unwrap_err();
        let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 3, 4, 5, 7]);
        assert!(errs[2].message.contains("first on line 2"));
        assert!(errs[4].message.contains("first on line 6"));
    }
}

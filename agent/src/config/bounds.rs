//! What is checked before the YAML parser sees a configuration: its size (read no more than
//! [`MAX_CONFIG_BYTES`], so `--config /dev/zero` fails at once), its encoding (a byte that is
//! not UTF-8 is named with its line) and how deeply it nests (the parser's work grows with the
//! square of the depth: 100,000 brackets took 12 s).
//!
//! The nesting scan is not a YAML parser: it counts block levels (indentation and `- `) and
//! flow collections (`[`, `{` where a value starts, outside quotes and comments). A real
//! configuration nests 5 levels deep; [`MAX_NESTING`] leaves room for any layout.

use std::io::Read;
use std::path::Path;

use super::ConfigError;

/// The largest configuration file read (1 MiB; a host's is a few KiB).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;
/// The deepest nesting accepted (block levels and flow collections together).
pub const MAX_NESTING: usize = 64;

/// Read `path`, at most [`MAX_CONFIG_BYTES`], as UTF-8.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    let origin = path.display().to_string();
    let io = |source| ConfigError::Read {
        path: origin.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_CONFIG_BYTES).unwrap_or(u64::MAX);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_CONFIG_BYTES} bytes: not a latticed configuration"),
        )));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let before = bytes.get(..at).unwrap_or_default();
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = at
                - before
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
                + 1;
            let byte = bytes.get(at).copied().unwrap_or_default();
            Err(ConfigError::Syntax {
                origin,
                line,
                key: ".".into(),
                message: format!(
                    "byte 0x{byte:02x} at column {column} is not UTF-8 (the file must be UTF-8)"
                ),
            })
        }
    }
}

/// Refuse text over [`MAX_CONFIG_BYTES`] or nested deeper than [`MAX_NESTING`].
pub fn check(text: &str, origin: &str) -> Result<(), ConfigError> {
    let refuse = |line, message: String| ConfigError::Syntax {
        origin: origin.to_string(),
        line,
        key: ".".into(),
        message,
    };
    if text.len() > MAX_CONFIG_BYTES {
        return Err(refuse(
            1,
            format!("larger than {MAX_CONFIG_BYTES} bytes: not a latticed configuration"),
        ));
    }
    match deepest(text) {
        Some(line) => Err(refuse(
            line,
            format!("nested more than {MAX_NESTING} levels deep: not a latticed configuration"),
        )),
        None => Ok(()),
    }
}

/// The line where the nesting first goes past [`MAX_NESTING`], if it does.
fn deepest(text: &str) -> Option<usize> {
    let mut scan = Scan::default();
    for (i, line) in text.lines().enumerate() {
        if scan.line(line) > MAX_NESTING {
            return Some(i + 1);
        }
    }
    None
}

/// The scanner's state carried from line to line.
#[derive(Default)]
struct Scan {
    /// Indentation columns of the open block levels.
    indents: Vec<usize>,
    /// Open flow collections.
    flow: usize,
    /// Inside a quoted scalar that spans lines: its quote.
    quote: Option<char>,
}

impl Scan {
    /// Account for one line; the deepest nesting reached on it.
    fn line(&mut self, line: &str) -> usize {
        let mut rest = line;
        let mut block = self.indents.len();
        if self.flow == 0 && self.quote.is_none() {
            let content = line.trim_start_matches(' ');
            if content.is_empty() || content.starts_with('#') {
                return block;
            }
            let column = line.len() - content.len();
            while self.indents.last().is_some_and(|&c| c >= column) {
                self.indents.pop();
            }
            self.indents.push(column);
            // Each `- ` opens one more level on the same line.
            rest = content;
            let mut dashes = 0;
            while let Some(after) = rest
                .strip_prefix("- ")
                .or(rest.strip_prefix('-').filter(|r| r.is_empty()))
            {
                dashes += 1;
                rest = after.trim_start_matches(' ');
            }
            block = self.indents.len() + dashes;
        }
        let mut deepest = block + self.flow;
        let mut value_start = true;
        let mut previous = ' ';
        let mut chars = rest.chars().peekable();
        while let Some(ch) = chars.next() {
            match self.quote {
                Some('\'') => {
                    if ch == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            self.quote = None;
                        }
                    }
                }
                Some(_) => match ch {
                    '\\' => {
                        chars.next();
                    }
                    '"' => self.quote = None,
                    _ => {}
                },
                None => match ch {
                    '#' if previous == ' ' || previous == '\t' => break,
                    '\'' | '"' if value_start => self.quote = Some(ch),
                    '[' | '{' if value_start || self.flow > 0 => {
                        self.flow += 1;
                        deepest = deepest.max(block + self.flow);
                    }
                    ']' | '}' if self.flow > 0 => self.flow -= 1,
                    _ => {}
                },
            }
            if self.quote.is_none() && !ch.is_whitespace() {
                // A value starts after `:`, `-`, `?` and, in a flow collection, `,` `[` `{`.
                value_start = matches!(ch, ':' | '-' | '?')
                    || (self.flow > 0 && matches!(ch, ',' | '[' | '{'));
            }
            previous = ch;
        }
        deepest
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ordinary_configurations_nest_a_few_levels() {
        let text = "node: { name: h, asn: 1, router_id: 1.1.1.1 }\nbgp:\n  peers:\n    - address: 10.0.0.1\n      import: [{prefix: 10.0.0.0/8, le: 24}]\n      password: \"a[[[{\\\"\"\n      communities: ['x[', it's]\n";
        let mut scan = Scan::default();
        let max = text.lines().map(|l| scan.line(l)).max().unwrap();
        assert!(max <= 6, "{max}");
        assert_eq!(deepest(text), None);
        // Brackets inside a plain scalar in block context open nothing.
        assert_eq!(deepest(&"key: a[[[[\n".repeat(100)), None);
    }

    #[test]
    fn deep_flow_or_block_nesting_is_refused_with_its_line() {
        let flow = format!("a: 1\nb: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(deepest(&flow), Some(2));
        let block: String = (0..100)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert_eq!(deepest(&block), Some(MAX_NESTING + 1));
        let dashes = format!("x:\n  {}1\n", "- ".repeat(200));
        assert_eq!(deepest(&dashes), Some(2));
    }
}

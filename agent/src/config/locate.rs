//! Finding the line of a key path in YAML text, for errors found after parsing.
//!
//! A small scanner, not a YAML parser: it follows the path's names in order through the text and
//! counts list items for indices. If a key is absent (a default was used) the line of the nearest
//! parent found is returned, which is where the operator has to add it.

/// 1-based line of `path` (e.g. `bgp.peers[1].hold_time`) in `text`; 1 if nothing matches.
pub fn line_of(text: &str, path: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    // The search for each segment stays inside the scope of the previous one: [at, end).
    let (mut at, mut end) = (0usize, lines.len());
    let mut found = 0usize;
    for segment in path.split('.') {
        let (name, index) = split_index(segment);
        let Some(line) = (at..end).find(|&i| lines.get(i).is_some_and(|l| has_key(l, name))) else {
            break;
        };
        found = line;
        (at, end) = (line, scope_end(&lines, line, end));
        if let Some(index) = index {
            match nth_item(&lines, line, index) {
                Some(item) => {
                    found = item;
                    (at, end) = (item, scope_end(&lines, item, end));
                }
                None => break,
            }
        }
    }
    found + 1
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

/// First line after `line` that is not nested under it (no deeper indentation), before `limit`.
fn scope_end(lines: &[&str], line: usize, limit: usize) -> usize {
    let own = lines.get(line).map(|l| indent(l)).unwrap_or(0);
    (line + 1..limit)
        .find(|&i| {
            lines
                .get(i)
                .is_some_and(|l| !l.trim().is_empty() && indent(l) <= own)
        })
        .unwrap_or(limit)
}

/// `peers[2]` -> ("peers", Some(2)).
fn split_index(segment: &str) -> (&str, Option<usize>) {
    match segment.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse().ok()),
        None => (segment, None),
    }
}

/// Whether `line` has `name:` as a key, in block (`name: x`, `- name: x`) or flow (`{name: x}`) style.
fn has_key(line: &str, name: &str) -> bool {
    let code = line.split(" #").next().unwrap_or(line);
    code.match_indices(name).any(|(i, _)| {
        let before = code.get(..i).and_then(|s| s.chars().last());
        let after = code.get(i + name.len()..).unwrap_or("");
        let starts = before.is_none_or(|c| c == ' ' || c == '{' || c == ',' || c == '-');
        starts && after.trim_start().starts_with(':')
    })
}

/// Line of the `index`-th list item after the key on line `key_line`.
fn nth_item(lines: &[&str], key_line: usize, index: usize) -> Option<usize> {
    let key_indent = lines.get(key_line).map(|l| indent(l))?;
    let mut seen = 0usize;
    for (i, l) in lines.iter().enumerate().skip(key_line + 1) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if indent(l) < key_indent || (indent(l) == key_indent && !l.trim_start().starts_with('-')) {
            return None;
        }
        if l.trim_start().starts_with("- ") || l.trim() == "-" {
            if seen == index {
                return Some(i);
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const TEXT: &str = "node: {name: h1, asn: 1, router_id: 10.0.0.1}\n\
cluster:\n  cidr: 10.244.0.0/16\n\
bgp:\n  peers:\n    - {address: 10.0.1.1, asn: 65001}\n    - address: 10.0.2.1\n      asn: 65002\n      hold_time: 1\n";

    #[test]
    fn finds_nested_and_indexed_keys() {
        assert_eq!(line_of(TEXT, "node.asn"), 1);
        assert_eq!(line_of(TEXT, "cluster.cidr"), 3);
        assert_eq!(line_of(TEXT, "bgp.peers[0].asn"), 6);
        assert_eq!(line_of(TEXT, "bgp.peers[1].hold_time"), 9);
        assert_eq!(line_of(TEXT, "bgp.peers[1]"), 7);
    }

    #[test]
    fn absent_keys_point_at_their_parent() {
        assert_eq!(line_of(TEXT, "bgp.peers[0].hold_time"), 6);
        assert_eq!(line_of(TEXT, "ipam.block"), 1);
    }
}

//! A node's environment: its `env-files` (Docker's `--env-file` format) in order, then `env`
//! over them. It is the environment of every process the lab starts for the node (exec lines,
//! FRR's daemons and vtysh, latticed) and of `lattice-lab exec`.

use crate::error::LabError;
use crate::topology::Node;

/// `KEY=VALUE` lines; blank lines and `#` comments skipped; a bare `KEY` takes the value this
/// process has, as Docker does (and is left out if unset).
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (line.trim_end(), std::env::var(line.trim_end()).ok()),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("line {}: `{key}` is not a variable name", i + 1));
        }
        if let Some(v) = value {
            out.push((key.to_string(), v));
        }
    }
    Ok(out)
}

/// The node's environment, `env` winning over `env-files`, later files over earlier ones.
pub fn environment(node: &Node) -> Result<Vec<(String, String)>, LabError> {
    let mut all: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String| {
        all.retain(|(o, _)| *o != k);
        all.push((k, v));
    };
    for f in &node.env_files {
        let text = std::fs::read_to_string(f).map_err(LabError::io(format!(
            "node {}: reading env file {}",
            node.name,
            f.display()
        )))?;
        let vars = parse_env_file(&text)
            .map_err(|m| LabError::Failed(format!("node {}: {}: {m}", node.name, f.display())))?;
        for (k, v) in vars {
            set(k, v);
        }
    }
    for (k, v) in &node.env {
        set(k.clone(), v.clone());
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_parse_like_docker() {
        let vars = parse_env_file("# c\nA=1\n\nB=x=y\n  C=\n").unwrap();
        assert_eq!(
            vars,
            [
                ("A".to_string(), "1".to_string()),
                ("B".into(), "x=y".into()),
                ("C".into(), "".into())
            ]
        );
        assert!(parse_env_file("A B=1\n").unwrap_err().starts_with("line 1"));
    }
}

//! FRR's own verdict on a configuration: `vtysh -C` before anything is created (unknown or
//! malformed commands), and the answer of `vtysh -b` when the daemons take the config (what
//! only a daemon can refuse, such as a neighbour option before its `remote-as`). Both name the
//! file and line: vtysh says `line N: ...` of the file it read, and the lab reads the user's
//! file (or an exact copy of it).

use std::path::Path;
use std::process::Command;

use crate::error::LabError;
use crate::sh;

/// vtysh's complaints, as `FILE:LINE: message` (other lines kept as vtysh wrote them; its
/// summary `Configuration file[...] processing failure` and a missing vtysh.conf left out).
pub fn complaints(output: &str, origin: &Path) -> Vec<String> {
    let file = origin.display();
    output
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.starts_with("Configuration file[") && !l.contains("vtysh.conf"))
        .map(|l| {
            let numbered = l
                .strip_prefix("line ")
                .and_then(|rest| rest.split_once(": "))
                .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()));
            match numbered {
                Some((n, msg)) => format!("{file}:{n}: {msg}"),
                None => l.to_string(),
            }
        })
        .collect()
}

/// `vtysh -C -f FILE`: FRR's parser checks every command of the file (no daemon needed).
pub fn dry_run(node: &str, origin: &Path) -> Result<(), LabError> {
    let mut cmd = Command::new("vtysh");
    cmd.arg("-C").arg("-f").arg(origin);
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| LabError::Spawn {
            cmd: sh::show(&cmd),
            error,
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        return Ok(());
    }
    let found = complaints(&text, origin);
    Err(LabError::Failed(format!(
        "node {node}: FRR rejects {} (`vtysh -C`):\n  {}",
        origin.display(),
        if found.is_empty() {
            format!("vtysh exited with {}", out.status)
        } else {
            found.join("\n  ")
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_lines_name_the_file() {
        let out = "% Specify remote-as or peer-group commands first\n\
                   line 3: Failure to communicate[13] to bgpd, line:  neighbor 10.1.1.9 timers 3 9\n\
                   \n\
                   line 10: % Unknown command[17]:  ip address 10.1.1.300/24\n\
                   Configuration file[/x/etc/frr.conf] processing failure: 2\n\
                   % Can't open configuration file /x/etc/vtysh.conf due to 'No such file'.\n";
        let c = complaints(out, Path::new("/lab/r1/frr.conf"));
        assert_eq!(
            c,
            [
                "% Specify remote-as or peer-group commands first",
                "/lab/r1/frr.conf:3: Failure to communicate[13] to bgpd, line:  neighbor 10.1.1.9 timers 3 9",
                "/lab/r1/frr.conf:10: % Unknown command[17]:  ip address 10.1.1.300/24",
            ]
        );
    }
}

//! Which FRR daemons a node runs, with which options, decided the way FRR's container image
//! decides (its `frrinit.sh` and `frrcommon.sh`): zebra and staticd always; the others from
//! `extras.frr.daemons`, else a `daemons` file (`bgpd=yes`, `bgpd_options="..."`), else what
//! the configuration itself configures (`router bgp` needs bgpd, a `bfd` section bfdd, ...).

use std::collections::BTreeMap;

/// FRR's daemons, in the order FRR's init script starts them (zebra first: the others connect
/// to it).
pub const DAEMONS: [&str; 20] = [
    "zebra", "bgpd", "ripd", "ripngd", "ospfd", "ospf6d", "isisd", "babeld", "pimd", "pim6d",
    "ldpd", "nhrpd", "eigrpd", "sharpd", "pbrd", "staticd", "bfdd", "fabricd", "vrrpd", "pathd",
];

/// Daemons FRR's init script starts whatever the daemons file says.
pub const ALWAYS: [&str; 2] = ["zebra", "staticd"];

/// A parsed `daemons` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonsFile {
    /// Daemons set to anything but `no`/`0`/empty.
    pub enabled: Vec<&'static str>,
    /// `<daemon>_options`, split into words.
    pub options: BTreeMap<&'static str, Vec<String>>,
    /// `frr_global_options` and `-F <frr_profile>`, passed to every daemon.
    pub global: Vec<String>,
    /// Settings the lab does not use, with the reason.
    pub ignored: Vec<String>,
}

/// A daemons-file problem, with its 1-based line.
pub type LineError = (usize, String);

/// The value of `KEY=VALUE`: one level of quotes removed; shell expansion is refused because
/// the lab does not run the file through a shell.
fn value(line_no: usize, raw: &str) -> Result<String, LineError> {
    let raw = raw.trim();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| raw.strip_prefix(*q)?.strip_suffix(*q))
        .unwrap_or(raw);
    if unquoted.contains(['$', '`', '"', '\'', '\\']) {
        return Err((
            line_no,
            format!("`{raw}`: shell expansion and nested quotes are not supported"),
        ));
    }
    Ok(unquoted.to_string())
}

/// Parse a daemons file (a shell fragment of `KEY=VALUE` lines; other lines are ignored, as
/// unused shell variables are).
pub fn parse_daemons_file(text: &str) -> Result<DaemonsFile, LineError> {
    let mut out = DaemonsFile::default();
    let mut profile = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if let Some(d) = DAEMONS.iter().find(|d| **d == key) {
            let v = value(line_no, raw)?;
            if !v.is_empty() && v != "no" && v != "0" && !out.enabled.contains(d) {
                out.enabled.push(d);
            }
        } else if let Some(d) = DAEMONS.iter().find(|d| key == format!("{d}_options")) {
            let v = value(line_no, raw)?;
            out.options
                .insert(d, v.split_whitespace().map(String::from).collect());
        } else if key == "frr_global_options" {
            let v = value(line_no, raw)?;
            out.global.extend(v.split_whitespace().map(String::from));
        } else if key == "frr_profile" {
            profile = Some(value(line_no, raw)?).filter(|p| !p.is_empty());
        } else if let Some(d) = DAEMONS.iter().find(|d| key == format!("{d}_instances")) {
            if !value(line_no, raw)?.is_empty() {
                out.ignored.push(format!(
                    "line {line_no}: {key} (multi-instance {d} is not supported: one {d} runs)"
                ));
            }
        } else if (key.ends_with("_wrap") || key.starts_with("watchfrr") || key == "MAX_FDS")
            && !value(line_no, raw)?.is_empty()
        {
            out.ignored.push(format!(
                "line {line_no}: {key} (there is no watchfrr, wrapper or fd limit here)"
            ));
        }
    }
    if let Some(p) = profile {
        out.global.extend(["-F".to_string(), p]);
    }
    Ok(out)
}

/// Options the lab sets itself (paths, user, daemon mode), with whether they take a value.
const MANAGED: [(Option<&str>, &str, bool); 14] = [
    (Some("-d"), "--daemon", false),
    (Some("-f"), "--config_file", true),
    (Some("-i"), "--pid_file", true),
    (Some("-z"), "--socket", true),
    (None, "--vty_socket", true),
    (Some("-u"), "--user", true),
    (Some("-g"), "--group", true),
    (Some("-N"), "--pathspace", true),
    (None, "--log", true),
    (Some("-t"), "--terminal", false),
    (Some("-C"), "--dryrun", false),
    (None, "--bfdctl", true),
    (None, "--ctl_socket", true),
    (Some("-n"), "--instance", true),
];

/// Split options into those passed on and those the lab sets itself (`-d` is dropped
/// silently: the lab daemonises every daemon, as FRR's init script does).
pub fn filter_options(words: &[String]) -> (Vec<String>, Vec<String>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let managed = MANAGED.iter().find(|(short, long, takes)| {
            w == long
                || Some(w.as_str()) == *short
                || (*takes && w.starts_with(&format!("{long}=")))
                || (*takes && short.is_some_and(|s| w.starts_with(s) && w.len() > 2))
        });
        match managed {
            None => kept.push(w.clone()),
            Some((short, long, takes)) => {
                let mut text = w.clone();
                let bare = w == long || Some(w.as_str()) == *short;
                if *takes && bare {
                    if let Some(v) = it.next() {
                        text = format!("{w} {v}");
                    }
                }
                if *long != "--daemon" {
                    dropped.push(text);
                }
            }
        }
    }
    (kept, dropped)
}

/// Whether options ask for a TCP vty (`-A`/`-P`); otherwise the lab passes `-P 0`.
pub fn wants_tcp_vty(options: &[String]) -> bool {
    options.iter().any(|w| {
        ["-A", "-P", "--vty_addr", "--vty_port"]
            .iter()
            .any(|o| w == o || w.starts_with(&format!("{o}=")))
            || (w.len() > 2 && (w.starts_with("-A") || w.starts_with("-P")))
    })
}

/// Daemons an FRR configuration configures, each with the first line (1-based) that needs it.
pub fn configured(text: &str) -> Vec<(&'static str, usize)> {
    let mut out: Vec<(&'static str, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let top = !line.starts_with(char::is_whitespace);
        let t = line.trim();
        if t.starts_with('!') || t.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        for d in daemons_of(top, t, &words) {
            if !out.iter().any(|(o, _)| *o == d) {
                out.push((d, i + 1));
            }
        }
    }
    out
}

/// The daemons one config line belongs to (besides zebra, which takes every `interface`).
fn daemons_of(top: bool, t: &str, words: &[&str]) -> Vec<&'static str> {
    let starts = |p: &str| t.starts_with(p);
    let mut out = Vec::new();
    let rules: [(bool, &'static str); 16] = [
        (starts("router bgp") || (top && starts("bgp ")), "bgpd"),
        (starts("router ospf6") || starts("ipv6 ospf6 "), "ospf6d"),
        (
            (starts("router ospf") && !starts("router ospf6")) || starts("ip ospf "),
            "ospfd",
        ),
        (starts("router ripng") || starts("ipv6 rip"), "ripngd"),
        (
            (starts("router rip") && !starts("router ripng")) || starts("ip rip"),
            "ripd",
        ),
        (starts("router isis") || starts("ip router isis"), "isisd"),
        (starts("router openfabric"), "fabricd"),
        (starts("router eigrp"), "eigrpd"),
        (starts("router babel"), "babeld"),
        (starts("mpls ldp"), "ldpd"),
        (
            starts("router pim") || starts("ip pim") || starts("ip igmp"),
            "pimd",
        ),
        (starts("pbr-map") || starts("pbr-policy"), "pbrd"),
        (starts("vrrp "), "vrrpd"),
        (starts("ip nhrp") || starts("ipv6 nhrp"), "nhrpd"),
        (top && starts("segment-routing"), "pathd"),
        (
            (top && t == "bfd") || words.iter().skip(1).any(|w| *w == "bfd"),
            "bfdd",
        ),
    ];
    for (hit, d) in rules {
        if hit {
            out.push(d);
        }
    }
    if starts("ip route ") || starts("ipv6 route ") {
        out.push("staticd");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_a_containerlab_style_daemons_file() {
        let text = "zebra=yes\nbgpd=no\nospfd=yes\nbfdd=yes # with bfd\nldpd=0\n\
                    vtysh_enable=yes\nzebra_options=\" -s 90000000 --daemon -A 127.0.0.1\"\n\
                    ospfd_options='-A 127.0.0.1'\nfrr_profile=\"datacenter\"\nospfd_instances=\n\
                    MAX_FDS=1024\n";
        let f = parse_daemons_file(text).unwrap();
        assert_eq!(f.enabled, ["zebra", "ospfd", "bfdd"]);
        assert_eq!(
            f.options["zebra"],
            words("-s 90000000 --daemon -A 127.0.0.1")
        );
        assert_eq!(f.options["ospfd"], words("-A 127.0.0.1"));
        assert_eq!(f.global, words("-F datacenter"));
        assert_eq!(f.ignored.len(), 1, "{:?}", f.ignored);
        assert!(f.ignored[0].starts_with("line 11: MAX_FDS"));
        let e = parse_daemons_file("bgpd=yes\nbgpd_options=\"$OPTS\"\n").unwrap_err();
        assert_eq!(e.0, 2);
    }

    #[test]
    fn managed_options_are_dropped() {
        let (kept, dropped) = filter_options(&words(
            "-s 90000000 --daemon -A 127.0.0.1 -i /x.pid --vty_socket=/v -f/etc/z.conf -M fpm \
             --log-level debug --log syslog",
        ));
        assert_eq!(
            kept,
            words("-s 90000000 -A 127.0.0.1 -M fpm --log-level debug")
        );
        assert_eq!(
            dropped,
            [
                "-i /x.pid",
                "--vty_socket=/v",
                "-f/etc/z.conf",
                "--log syslog"
            ]
        );
        assert!(wants_tcp_vty(&kept));
        assert!(!wants_tcp_vty(&words("-M bmp")));
    }

    #[test]
    fn configured_daemons_come_from_sections() {
        let conf = "frr version 10.5.1\nhostname r1\n!\ninterface eth1\n ip address 10.0.0.1/31\n \
                    ip ospf network point-to-point\n ipv6 ospf6 area 0.0.0.0\n!\n\
                    ip route 10.9.0.0/16 blackhole\n!\nrouter bgp 65001\n neighbor 10.0.0.0 bfd\n!\n\
                    router ospf\n network 10.0.0.0/31 area 0\n!\nbfd\n peer 10.0.0.0\n!\n";
        let got = configured(conf);
        assert_eq!(
            got,
            [
                ("ospfd", 6),
                ("ospf6d", 7),
                ("staticd", 9),
                ("bgpd", 11),
                ("bfdd", 12)
            ]
        );
        assert!(configured("! router bgp 1\nhostname x\n").is_empty());
        assert_eq!(configured("router ripng\n")[0].0, "ripngd");
        assert_eq!(configured("router rip\n")[0].0, "ripd");
    }
}

//! Shared helpers of the root-only lab tests: a lab copied into a tempdir under a unique name,
//! driven through the built `lattice-lab` binary, and always destroyed by a Drop guard.

#![allow(dead_code)]

pub mod containers;
pub mod dockerd;
pub mod restart;

pub use testkit::eventually;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built lattice-lab binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_lattice-lab");

/// What every lab needs installed: FRR and iproute2.
pub const LAB_TOOLS: &[&str] = &[
    "/usr/lib/frr/zebra",
    "/usr/lib/frr/bgpd",
    "/usr/bin/vtysh",
    "/usr/sbin/ip",
];

/// True when a lab test can run here: root, [`LAB_TOOLS`] and the files `more` (built binaries,
/// other daemons). Otherwise it says why, and under `make test` fails (see
/// [`testkit::require`]).
pub fn can_run(more: &[&str]) -> bool {
    let mut all = LAB_TOOLS.to_vec();
    all.extend_from_slice(more);
    testkit::require(true, &all)
}

/// `examples/EXAMPLE.clab.yml` (configs in `examples/EXAMPLE/`) as a lab named `TAG<pid>`,
/// run with the `latticed` built next to `lattice-lab`; `None` (after saying why) when the
/// test cannot run here.
pub fn example_lab(example: &str, tag: &str) -> Option<Lab> {
    let latticed = Path::new(BIN).with_file_name("latticed");
    if !can_run(&[&latticed.display().to_string()]) {
        return None;
    }
    std::env::set_var("LATTICED_BIN", latticed);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    Some(Lab::new(
        &examples.join(format!("{example}.clab.yml")),
        &examples.join(example),
        example,
        &format!("{tag}{}", std::process::id()),
    ))
}

/// A deployed-or-not lab under a unique name; destroyed on drop.
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub topo: PathBuf,
    pub name: String,
    pub state_root: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

impl Lab {
    /// Copy `file` (and its config dir `configs`) under a tempdir with the lab renamed `name`.
    pub fn new(file: &Path, configs: &Path, orig_name: &str, name: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        // FRR's daemons run as user frr and must traverse the state directory.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        let text = text.replace(&format!("name: {orig_name}\n"), &format!("name: {name}\n"));
        let topo = dir.path().join(file.file_name().unwrap());
        std::fs::write(&topo, text).unwrap();
        copy_dir(configs, &dir.path().join(configs.file_name().unwrap()));
        let state_root = dir.path().join("state");
        Lab {
            dir,
            topo,
            name: name.to_string(),
            state_root,
        }
    }

    /// Run `lattice-lab ARGS... -t TOPO` (the topology flag goes right after the subcommand).
    pub fn run(&self, sub: &str, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        c.arg(sub).arg("-t").arg(&self.topo).args(args);
        c.env("LATTICE_LAB_DIR", &self.state_root);
        let out = c.output().unwrap();
        eprintln!(
            "$ lattice-lab {sub} {args:?} -> {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Like [`Lab::run`], but the command must succeed; returns stdout.
    pub fn ok(&self, sub: &str, args: &[&str]) -> String {
        let out = self.run(sub, args);
        assert!(out.status.success(), "lattice-lab {sub} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    /// This lab's state directory.
    pub fn lab_dir(&self) -> PathBuf {
        self.state_root.join(&self.name)
    }

    /// Namespaces whose name starts with `<name>-`.
    pub fn namespaces(&self) -> Vec<String> {
        let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&format!("{}-", self.name)))
            .map(String::from)
            .collect()
    }

    /// Live processes whose command line mentions this lab's directory.
    pub fn processes(&self) -> Vec<String> {
        let needle = format!("{}/", self.lab_dir().display());
        let mut found = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
            if cmd.contains(&needle) && !zombie {
                found.push(format!("{pid}: {cmd}"));
            }
        }
        found
    }

    /// Destroy and check that nothing of the lab is left.
    pub fn destroy_and_check(&self) {
        self.ok("destroy", &[]);
        assert_eq!(
            self.namespaces(),
            Vec::<String>::new(),
            "namespaces left behind"
        );
        assert_eq!(
            self.processes(),
            Vec::<String>::new(),
            "processes left behind"
        );
        assert!(!self.lab_dir().exists(), "state dir left behind");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.run("destroy", &[]);
    }
}

/// latticed's `/metrics` in namespace `ns` (metrics.listen's default, 127.0.0.1:9469).
pub fn scrape_metrics(ns: &str) -> String {
    use std::io::{Read, Write};
    testkit::netns::on_thread_in(ns, || {
        let mut s = std::net::TcpStream::connect("127.0.0.1:9469").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    })
}

/// The value of one series in a `/metrics` text (0 when absent).
pub fn series_value(metrics: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

//! FRR (zebra with bgpd and/or bfdd, or bgpd alone) in a namespace: no watchfrr, nothing under
//! /etc; the daemons run as user frr in a state directory owned by frr.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use nix::sys::signal::Signal;

use crate::process::PidFile;

/// A running FRR; its daemons are killed when it drops.
#[derive(Debug)]
pub struct Frr {
    ns: String,
    dir: PathBuf,
    zebra: bool,
    running: Mutex<HashMap<&'static str, PidFile>>,
}

impl Frr {
    /// zebra and bgpd in namespace `ns` with `bgpd_conf`; their files in `dir/frr` (`dir` must
    /// be traversable by user frr, see [`crate::cmd::shared_tempdir`]).
    pub fn start(ns: &str, dir: &Path, bgpd_conf: &str) -> Frr {
        Frr::launch(ns, dir, &[("bgpd", bgpd_conf)], true)
    }

    /// bgpd alone, with `-Z` (no zebra: nothing it learns reaches the kernel).
    pub fn start_bgpd_only(ns: &str, dir: &Path, bgpd_conf: &str) -> Frr {
        Frr::launch(ns, dir, &[("bgpd", bgpd_conf)], false)
    }

    /// zebra and `daemons` (`("bgpd", conf)`, `("bfdd", conf)`, in that order), each with its
    /// configuration; bfdd with its control socket (`--bfdctl`), as FRR's own image runs it,
    /// so `neighbor X bfd` in bgpd reaches it through zebra.
    pub fn with_daemons(ns: &str, dir: &Path, daemons: &[(&'static str, &str)]) -> Frr {
        Frr::launch(ns, dir, daemons, true)
    }

    fn launch(ns: &str, dir: &Path, daemons: &[(&'static str, &str)], zebra: bool) -> Frr {
        let dir = dir.join("frr");
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::write(dir.join("zebra.conf"), "hostname peer\n").unwrap();
        let frr = Frr {
            ns: ns.to_string(),
            dir,
            zebra,
            running: Mutex::new(HashMap::new()),
        };
        for (daemon, conf) in daemons {
            frr.write_conf(daemon, conf);
        }
        if zebra {
            frr.run_daemon("zebra");
            // bgpd connects to zebra's socket at start (it retries, but later).
            let zserv = frr.dir.join("run/zserv.api");
            let up = crate::eventually(std::time::Duration::from_secs(10), || zserv.exists());
            assert!(up, "zebra did not create {}", zserv.display());
        }
        for (daemon, _) in daemons {
            frr.run_daemon(daemon);
        }
        frr
    }

    /// `<daemon>.conf` logging events to `<daemon>.log` next to it.
    fn write_conf(&self, daemon: &str, conf: &str) {
        let log = self.dir.join(format!("{daemon}.log"));
        let debug = match daemon {
            "bgpd" => "debug bgp neighbor-events\ndebug bgp bfd\n",
            "bfdd" => "debug bfd peer\ndebug bfd network\n",
            _ => "",
        };
        let text = format!("log file {} debugging\n{debug}{conf}", log.display());
        std::fs::write(self.dir.join(format!("{daemon}.conf")), text).unwrap();
        let ok = Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(&self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "chown frr {}", self.dir.display());
    }

    fn run_daemon(&self, daemon: &'static str) {
        let d = self.dir.display().to_string();
        let mut args = vec![
            format!("/usr/lib/frr/{daemon}"),
            "-d".into(),
            "-f".into(),
            format!("{d}/{daemon}.conf"),
            "-i".into(),
            format!("{d}/run/{daemon}.pid"),
            "--vty_socket".into(),
            format!("{d}/run"),
            "-P".into(),
            "0".into(),
        ];
        if daemon == "bfdd" {
            args.extend(["--bfdctl".into(), format!("{d}/run/bfdd.sock")]);
        }
        if self.zebra {
            args.extend(["-z".into(), format!("{d}/run/zserv.api")]);
        } else {
            args.push("-Z".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut all = vec!["ip", "netns", "exec", &self.ns];
        all.extend_from_slice(&args);
        crate::cmd::run(&all);
        let pidfile = PidFile(self.dir.join(format!("run/{daemon}.pid")));
        self.running.lock().unwrap().insert(daemon, pidfile);
    }

    /// Kills bgpd the hard way: no NOTIFICATION, as in a crash or a restart for an upgrade.
    pub fn kill_bgpd(&self) {
        let bgpd = self.running.lock().unwrap().remove("bgpd");
        if let Some(bgpd) = bgpd {
            assert!(bgpd.signal_and_wait(Signal::SIGKILL), "bgpd did not die");
        }
    }

    /// Starts bgpd again, with `bgpd_conf` if given.
    pub fn start_bgpd(&self, bgpd_conf: Option<&str>) {
        if let Some(conf) = bgpd_conf {
            self.write_conf("bgpd", conf);
        }
        self.run_daemon("bgpd");
    }

    /// Stops bgpd, bfdd, then zebra, with SIGTERM (zebra removes its routes) and waits for them.
    pub fn stop(&self) {
        for daemon in ["bgpd", "bfdd", "zebra"] {
            let guard = self.running.lock().unwrap().remove(daemon);
            if let Some(pidfile) = guard {
                assert!(
                    pidfile.signal_and_wait(Signal::SIGTERM),
                    "{daemon} did not stop"
                );
            }
        }
    }

    /// Runs vtysh commands against the daemons; their stdout.
    pub fn vtysh(&self, cmds: &[&str]) -> String {
        let mut c = crate::netns::command(&self.ns, "vtysh");
        c.arg("--vty_socket").arg(self.dir.join("run"));
        for cmd in cmds {
            c.args(["-c", cmd]);
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    }

    /// `daemon`'s vty socket (`bgpd.vty`): commands end with a NUL, answers with three NULs
    /// and a status octet.
    pub fn vty_socket(&self, daemon: &str) -> PathBuf {
        self.dir.join(format!("run/{daemon}.vty"))
    }

    /// The directory of its files (configs, pid files, sockets, bgpd.log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A connection to an FRR daemon's vty socket speaking its protocol directly (what vtysh does,
/// without a process per command): a command ends with a NUL, the answer with three NULs and a
/// status octet.
#[derive(Debug)]
pub struct FrrVty {
    stream: std::os::unix::net::UnixStream,
}

impl FrrVty {
    /// Connects to the socket (see [`Frr::vty_socket`]).
    pub fn connect(socket: &Path) -> std::io::Result<FrrVty> {
        Ok(FrrVty {
            stream: std::os::unix::net::UnixStream::connect(socket)?,
        })
    }

    /// Runs `command`; its output.
    pub fn query(&mut self, command: &str) -> std::io::Result<String> {
        use std::io::{Read, Write};
        self.stream.write_all(command.as_bytes())?;
        self.stream.write_all(&[0])?;
        let mut out = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            out.extend_from_slice(&chunk[..n]);
            let len = out.len();
            if len >= 4 && out[len - 4..len - 1] == [0, 0, 0] {
                out.truncate(len - 4);
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
        }
    }
}

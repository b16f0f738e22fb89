//! BIRD 2 in the foreground in a namespace, with its control socket in the test's directory.

use std::path::{Path, PathBuf};

use crate::process::Daemon;

/// A running BIRD; killed when dropped.
#[derive(Debug)]
pub struct Bird {
    ns: String,
    ctl: PathBuf,
    daemon: Daemon,
}

impl Bird {
    /// Writes `conf` to `dir/bird.conf` and runs `bird -f` in namespace `ns` with `extra` flags
    /// (`-R`: a graceful restart), logging to `dir/LOG`.
    pub fn start(ns: &str, dir: &Path, conf: &str, extra: &[&str], log: &str) -> Bird {
        let conf_path = dir.join("bird.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let ctl = dir.join("bird.ctl");
        let (c, s) = (conf_path.display().to_string(), ctl.display().to_string());
        let mut args = vec!["bird", "-f", "-c", &c, "-s", &s];
        args.extend_from_slice(extra);
        let daemon = Daemon::in_netns(ns, &args, &dir.join(log));
        Bird {
            ns: ns.to_string(),
            ctl,
            daemon,
        }
    }

    /// `birdc ARGS...` on its control socket; stdout, success or not.
    pub fn birdc(&self, args: &[&str]) -> String {
        let ctl = self.ctl.display().to_string();
        let mut all = vec!["ip", "netns", "exec", &self.ns, "birdc", "-s", &ctl];
        all.extend_from_slice(args);
        crate::cmd::stdout(&all)
    }

    /// Its control socket (for a client that speaks the protocol itself).
    pub fn control_socket(&self) -> &Path {
        &self.ctl
    }

    /// The BIRD process.
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}

/// A connection to BIRD's control socket speaking its CLI protocol directly (what birdc does,
/// without a process per query): reply lines carry a 4-digit code, `-` when more follow.
#[derive(Debug)]
pub struct BirdControl {
    reader: std::io::BufReader<std::os::unix::net::UnixStream>,
    writer: std::os::unix::net::UnixStream,
}

impl BirdControl {
    /// Connects and reads BIRD's greeting.
    pub fn connect(socket: &Path) -> std::io::Result<BirdControl> {
        let stream = std::os::unix::net::UnixStream::connect(socket)?;
        let mut me = BirdControl {
            reader: std::io::BufReader::new(stream.try_clone()?),
            writer: stream,
        };
        me.reply()?;
        Ok(me)
    }

    /// Sends `command` (`show protocols all`); the reply's text, codes stripped.
    pub fn query(&mut self, command: &str) -> std::io::Result<String> {
        use std::io::Write;
        writeln!(self.writer, "{command}")?;
        self.reply()
    }

    fn reply(&mut self) -> std::io::Result<String> {
        use std::io::BufRead;
        let mut text = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let coded = line.len() > 4 && line.as_bytes()[..4].iter().all(u8::is_ascii_digit);
            let last = coded && line.as_bytes()[4] == b' ';
            text.push_str(if coded { &line[5..] } else { &line });
            if last {
                return Ok(text);
            }
        }
    }
}

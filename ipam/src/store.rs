//! Crash-safe persistence of a host's allocations.
//!
//! The whole state is one small JSON document, replaced atomically: write `allocations.json.tmp`,
//! fsync it, rename it over `allocations.json`, fsync the directory. At any instant the file is
//! either the old or the new state, never a mix. A host holds at most a few hundred containers,
//! so rewriting the document is cheaper than running an embedded database and keeps the state
//! readable with `cat`. An exclusive `flock` on `state_dir/lock` stops two agents sharing a state.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::{Allocation, IpamError};

const STATE_FILE: &str = "allocations.json";
const LOCK_FILE: &str = "lock";
const VERSION: u32 = 1;

/// The persisted document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Format version.
    pub version: u32,
    /// The block the allocations belong to.
    pub block: Ipv4Net,
    /// Allocations in address order.
    pub allocations: Vec<Allocation>,
}

impl State {
    /// A current-version state.
    pub fn new(block: Ipv4Net, allocations: Vec<Allocation>) -> Self {
        Self {
            version: VERSION,
            block,
            allocations,
        }
    }
}

/// A locked state directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl Store {
    /// Create `dir` if needed and lock it.
    pub fn open(dir: &Path) -> Result<Store, IpamError> {
        fs::create_dir_all(dir).map_err(io("creating state directory", dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("opening lock file", &lock_path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| IpamError::Locked(dir.to_path_buf()))?;
        // A temp file left by a crash mid-write is the unfinished new state: drop it.
        let _ = fs::remove_file(dir.join(format!("{STATE_FILE}.tmp")));
        Ok(Store {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// Path of the state document.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The saved state, or `None` on first start.
    pub fn load(&self) -> Result<Option<State>, IpamError> {
        let path = self.dir.join(STATE_FILE);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("reading", &path)(e)),
        };
        let state: State = serde_json::from_slice(&text).map_err(|e| IpamError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if state.version != VERSION {
            return Err(IpamError::Corrupt {
                path,
                message: format!(
                    "version {} is not supported (expected {VERSION})",
                    state.version
                ),
            });
        }
        Ok(Some(state))
    }

    /// Replace the saved state atomically and durably.
    pub fn save(&self, state: &State) -> Result<(), IpamError> {
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| IpamError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut file = File::create(&tmp).map_err(io("creating", &tmp))?;
        file.write_all(&bytes).map_err(io("writing", &tmp))?;
        file.sync_all().map_err(io("syncing", &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io("renaming into", &path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing directory", &self.dir))?;
        Ok(())
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IpamError {
    let path = path.to_path_buf();
    move |source| IpamError::Io { what, path, source }
}

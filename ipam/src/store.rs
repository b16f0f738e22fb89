//! Crash-safe persistence of a host's IPAM state: a snapshot plus an append-only journal.
//!
//! Each change is one journal line, `HASH JSON\n` (HASH: FNV-1a 64 of JSON), appended and
//! `fdatasync`ed before the change is acknowledged: one small write and one flush per
//! allocation, however many containers the host runs. On open the journal is replayed onto
//! the snapshot; a last line cut short by a crash (no newline, or a hash that does not match)
//! was never acknowledged and is dropped, while damage anywhere else is reported as corruption.
//! Then the state is compacted: a new snapshot (`state.json`) is written to a temporary file,
//! fsynced, renamed into place and the directory fsynced, and only then the journal emptied.
//! Journal entries carry a sequence number, so a crash between those two steps replays nothing
//! twice. This is the write-ahead-log design of embedded databases, small enough to read
//! whole; it needs no dependency and the files stay readable with `cat`.
//!
//! An exclusive `flock` on `state_dir/lock` stops two agents sharing a state. A state written by
//! the first version (`allocations.json`, one block) is read and converted.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::pool::Allocation;
use crate::state::{IpamState, Record};
use crate::IpamError;

const SNAPSHOT: &str = "state.json";
const JOURNAL: &str = "journal.log";
const LEGACY: &str = "allocations.json";
const LOCK_FILE: &str = "lock";
const VERSION: u32 = 2;
/// Journal entries after which the running store compacts.
const COMPACT_AFTER: usize = 8192;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    version: u32,
    seq: u64,
    records: Vec<Record>,
}

/// The first version's document: one block and its allocations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyState {
    version: u32,
    block: Ipv4Net,
    allocations: Vec<Allocation>,
}

#[derive(Debug, Deserialize)]
struct VersionOnly {
    version: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    seq: u64,
    record: Record,
}

/// A locked state directory with its open journal.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    journal: File,
    entries: usize,
    seq: u64,
    _lock: Flock<File>,
}

impl Store {
    /// Create `dir` if needed, lock it, load the state into `state` and compact.
    /// Returns the store and whether any state was found.
    pub fn open(dir: &Path, state: &mut IpamState, now: u64) -> Result<(Store, bool), IpamError> {
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
        // A temporary file left by a crash mid-write is an unfinished snapshot: drop it.
        let _ = fs::remove_file(dir.join(format!("{SNAPSHOT}.tmp")));
        let (seq, found_snapshot) = load_snapshot(dir, state, now)?;
        let (seq, found_journal) = replay(dir, state, seq, now)?;
        let journal_path = dir.join(JOURNAL);
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(io("opening", &journal_path))?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            journal,
            entries: 0,
            seq,
            _lock: lock,
        };
        store.compact(state)?;
        Ok((store, found_snapshot || found_journal))
    }

    /// Path of the snapshot.
    pub fn snapshot_path(&self) -> PathBuf {
        self.dir.join(SNAPSHOT)
    }

    /// Append `records` durably (one write, one `fdatasync`); compacts now and then.
    pub fn append(&mut self, records: &[Record], state: &IpamState) -> Result<(), IpamError> {
        let path = self.dir.join(JOURNAL);
        let mut buf = Vec::new();
        let mut seq = self.seq;
        for record in records {
            seq = seq.saturating_add(1);
            let json = serde_json::to_vec(&Entry {
                seq,
                record: record.clone(),
            })
            .map_err(|e| corrupt(&path, e.to_string()))?;
            buf.extend_from_slice(format!("{:016x} ", fnv1a64(&json)).as_bytes());
            buf.extend_from_slice(&json);
            buf.push(b'\n');
        }
        self.journal
            .write_all(&buf)
            .map_err(io("appending to", &path))?;
        self.journal.sync_data().map_err(io("syncing", &path))?;
        self.seq = seq;
        self.entries = self.entries.saturating_add(records.len());
        if self.entries >= COMPACT_AFTER {
            self.compact(state)?;
        }
        Ok(())
    }

    /// Write `state` as the snapshot, then empty the journal.
    pub fn compact(&mut self, state: &IpamState) -> Result<(), IpamError> {
        let path = self.dir.join(SNAPSHOT);
        let tmp = self.dir.join(format!("{SNAPSHOT}.tmp"));
        let snapshot = Snapshot {
            version: VERSION,
            seq: self.seq,
            records: state.to_records(),
        };
        let bytes =
            serde_json::to_vec_pretty(&snapshot).map_err(|e| corrupt(&path, e.to_string()))?;
        let mut file = File::create(&tmp).map_err(io("creating", &tmp))?;
        file.write_all(&bytes).map_err(io("writing", &tmp))?;
        file.sync_all().map_err(io("syncing", &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io("renaming into", &path))?;
        sync_dir(&self.dir)?;
        // The snapshot now holds everything: the legacy file and the journal are redundant.
        let legacy = self.dir.join(LEGACY);
        if legacy.exists() {
            fs::remove_file(&legacy).map_err(io("removing", &legacy))?;
            sync_dir(&self.dir)?;
        }
        let journal = self.dir.join(JOURNAL);
        self.journal
            .set_len(0)
            .map_err(io("truncating", &journal))?;
        self.journal.sync_all().map_err(io("syncing", &journal))?;
        self.entries = 0;
        Ok(())
    }
}

/// Load `state.json` (or the legacy `allocations.json`); returns its sequence number.
fn load_snapshot(dir: &Path, state: &mut IpamState, now: u64) -> Result<(u64, bool), IpamError> {
    let path = dir.join(SNAPSHOT);
    let (path, text) = match read_optional(&path)? {
        Some(t) => (path, t),
        None => {
            let legacy = dir.join(LEGACY);
            match read_optional(&legacy)? {
                Some(t) => (legacy, t),
                None => return Ok((0, false)),
            }
        }
    };
    let version: VersionOnly =
        serde_json::from_slice(&text).map_err(|e| corrupt(&path, e.to_string()))?;
    let (seq, records) = match version.version {
        1 => {
            let old: LegacyState =
                serde_json::from_slice(&text).map_err(|e| corrupt(&path, e.to_string()))?;
            let _ = old.version;
            let mut records = vec![Record::AddBlock {
                block: old.block.into(),
                primary: true,
            }];
            records.extend(old.allocations.into_iter().map(|a| Record::Assign {
                key: a.key(),
                addresses: vec![a.address],
            }));
            (0, records)
        }
        VERSION => {
            let s: Snapshot =
                serde_json::from_slice(&text).map_err(|e| corrupt(&path, e.to_string()))?;
            (s.seq, s.records)
        }
        v => {
            return Err(corrupt(
                &path,
                format!("version {v} is not supported (expected 1 or {VERSION})"),
            ))
        }
    };
    for r in &records {
        state.apply(r, now).map_err(|m| corrupt(&path, m))?;
    }
    Ok((seq, true))
}

/// Replay journal entries newer than `seq`; returns the last sequence number.
fn replay(
    dir: &Path,
    state: &mut IpamState,
    mut seq: u64,
    now: u64,
) -> Result<(u64, bool), IpamError> {
    let path = dir.join(JOURNAL);
    let Some(bytes) = read_optional(&path)? else {
        return Ok((seq, false));
    };
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // The piece after the last newline is empty, or a write cut short: never acknowledged.
    lines.pop();
    let count = lines.len();
    let mut found = false;
    for (i, line) in lines.into_iter().enumerate() {
        let is_last = i + 1 == count;
        let entry = match parse_line(line) {
            Ok(e) => e,
            // A crash may leave the last line half written even with its newline in place.
            Err(_) if is_last => break,
            Err(m) => return Err(corrupt(&path, format!("line {}: {m}", i + 1))),
        };
        if entry.seq <= seq {
            continue;
        }
        state
            .apply(&entry.record, now)
            .map_err(|m| corrupt(&path, format!("line {}: {m}", i + 1)))?;
        seq = entry.seq;
        found = true;
    }
    Ok((seq, found))
}

fn parse_line(line: &[u8]) -> Result<Entry, String> {
    let (hash, json) = match line.iter().position(|b| *b == b' ') {
        Some(p) => (
            line.get(..p).unwrap_or_default(),
            line.get(p + 1..).unwrap_or_default(),
        ),
        None => return Err("no checksum".into()),
    };
    let hash = std::str::from_utf8(hash)
        .ok()
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or("bad checksum field")?;
    if hash != fnv1a64(json) {
        return Err("checksum mismatch".into());
    }
    serde_json::from_slice(json).map_err(|e| e.to_string())
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, IpamError> {
    match fs::read(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("reading", path)(e)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), IpamError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing directory", dir))
}

/// FNV-1a, 64 bits: detects a torn or damaged journal line (not an adversary).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn corrupt(path: &Path, message: String) -> IpamError {
    IpamError::Corrupt {
        path: path.to_path_buf(),
        message,
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IpamError {
    let path = path.to_path_buf();
    move |source| IpamError::Io { what, path, source }
}

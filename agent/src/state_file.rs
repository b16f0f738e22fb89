//! Small state files (attachments, Docker endpoints) written so that a crash of latticed leaves
//! either the old file or the new one, never a torn one.
//!
//! They are not flushed to disk: they describe wiring into network namespaces, which a power
//! cut takes away too, and an fsync on every CNI ADD and DEL would cost more than the rest of
//! the call. (The IPAM journal, whose allocations must survive a reboot, is flushed.)

use std::path::Path;

/// Writes `value` as pretty JSON to `path`: to a temporary file beside it, then renamed over
/// `path` (atomic: a reader or a restarted latticed sees one or the other).
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        write_json(&path, &vec![1, 2]).unwrap();
        write_json(&path, &vec![3]).unwrap();
        let back: Vec<u32> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back, vec![3]);
        assert!(!path.with_extension("json.tmp").exists());
    }
}

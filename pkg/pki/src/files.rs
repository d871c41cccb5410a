//! File-system helpers: private directories, optional reads and atomic writes with fixed modes.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::PkiError;

/// Mode for private keys and kubeconfigs.
pub(crate) const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode for certificates, which are public.
pub(crate) const PUBLIC_FILE_MODE: u32 = 0o644;
/// Mode for the PKI directory itself.
pub(crate) const PRIVATE_DIR_MODE: u32 = 0o700;

pub(crate) fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> PkiError {
    PkiError::Io { action, path: path.to_path_buf(), source }
}

/// Creates `dir` (and missing parents) and forces it to mode 0700 even if it already existed,
/// so a directory created by hand with a loose umask still ends up private.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), PkiError> {
    DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(dir)
        .map_err(|e| io_error("creating directory", dir, e))?;
    fs::set_permissions(dir, Permissions::from_mode(PRIVATE_DIR_MODE))
        .map_err(|e| io_error("setting permissions of", dir, e))
}

/// Reads a UTF-8 file, returning `None` when it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("reading", path, e)),
    }
}

/// Distinguishes temp files of concurrent writers within one process.
static TEMP_FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `contents` to `path` with exactly `mode`, via a temp file in the same directory and a
/// rename, so readers never see a half-written key or kubeconfig.
pub(crate) fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io_error("writing", path, std::io::Error::new(ErrorKind::InvalidInput, "path has no file name")))?;
    let temp_path = parent.join(format!(
        ".{}.{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        TEMP_FILE_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));

    let result = write_new_file(&temp_path, contents, mode).and_then(|()| {
        fs::rename(&temp_path, path).map_err(|e| io_error("renaming temp file onto", path, e))
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp_path);
        return result;
    }
    // Persist the rename itself; failure here only weakens crash safety, so it is not fatal.
    if let Ok(dir) = fs::File::open(&parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io_error("creating", path, e))?;
    // The open mode is filtered through the umask; set it explicitly so 0644 stays 0644.
    file.set_permissions(Permissions::from_mode(mode)).map_err(|e| io_error("setting permissions of", path, e))?;
    file.write_all(contents).map_err(|e| io_error("writing", path, e))?;
    file.sync_all().map_err(|e| io_error("syncing", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn atomic_write_sets_mode_and_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        write_atomically(&path, b"one", PRIVATE_FILE_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(mode_of(&path), 0o600);

        write_atomically(&path, b"two", PUBLIC_FILE_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(mode_of(&path), 0o644);

        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("file")]);
    }

    #[test]
    fn private_dir_is_tightened_when_it_already_exists() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        fs::create_dir(&pki).unwrap();
        fs::set_permissions(&pki, Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&pki).unwrap();
        assert_eq!(mode_of(&pki), 0o700);
    }

    #[test]
    fn missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_if_exists(&dir.path().join("absent")).unwrap().is_none());
    }
}

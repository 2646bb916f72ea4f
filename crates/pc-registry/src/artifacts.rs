//! Content-addressed artifact store: uploads are streamed to a temporary file while hashed, checked
//! against a size cap, fsynced and renamed to `artifacts/<sha256[..2]>/<sha256>` (files 0600,
//! folders 0700: see [`crate::private_fs`]; temporary files: [`crate::upload_tmp`]).

use std::path::{Path, PathBuf};

use crate::bundle::{BundleLimits, UploadKind, check_archive, sniff_file};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::{RegistryError, Store, unix_now};

/// Longest accepted artifact file name, in bytes.
pub const MAX_ARTIFACT_NAME_LEN: usize = 255;
/// Longest accepted media type.
pub const MAX_MEDIA_TYPE_LEN: usize = 127;
/// Read buffer for uploads.
const CHUNK: usize = 64 * 1024;

/// A stored artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredArtifact {
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Path relative to the artifact folder.
    pub path: String,
    /// Media type as given at first upload.
    pub media_type: String,
    /// True when the content was already present (deduplicated).
    pub existed: bool,
    /// Symbolic and hard links in an uploaded archive: recorded when it was checked, never
    /// extracted (0 for other files).
    pub links_skipped: u64,
}

/// Checks an artifact's file name: a single flat component, no traversal, no separators, no
/// control characters, not hidden. Names never become paths (storage is by hash), but they are
/// shown and exported, so hostile ones are refused at the door.
pub fn validate_artifact_name(name: &str) -> Result<(), RegistryError> {
    let bad = |why| RegistryError::Invalid {
        field: "artifact name",
        why,
    };
    if name.is_empty() || name.len() > MAX_ARTIFACT_NAME_LEN {
        return Err(bad("empty or too long"));
    }
    if name.contains(['/', '\\', ':']) {
        return Err(bad("contains a path separator"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("contains control characters"));
    }
    if name.starts_with('.') || name.trim() != name {
        return Err(bad("starts with a dot or has surrounding whitespace"));
    }
    Ok(())
}

fn check_media_type(media_type: &str) -> Result<(), RegistryError> {
    let ok = !media_type.is_empty()
        && media_type.len() <= MAX_MEDIA_TYPE_LEN
        && media_type
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    if ok {
        Ok(())
    } else {
        Err(RegistryError::Invalid {
            field: "media type",
            why: "empty, too long or not printable ASCII",
        })
    }
}

impl Store {
    /// The artifact folder.
    pub fn artifact_dir(&self) -> PathBuf {
        self.data_dir.join("artifacts")
    }

    /// Absolute path of a stored artifact, if `sha256` is a well-formed hash.
    pub fn artifact_path(&self, sha256: &str) -> Option<PathBuf> {
        let ok = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let prefix = sha256.get(..2)?;
        ok.then(|| self.artifact_dir().join(prefix).join(sha256))
    }

    /// Streams `reader` into the artifact store and records it; content already present is
    /// deduplicated. On any error (including the size limit) no temporary file is left behind.
    pub async fn store_artifact_stream<R: AsyncRead + Unpin>(
        &self,
        media_type: &str,
        reader: R,
    ) -> Result<StoredArtifact, RegistryError> {
        check_media_type(media_type)?;
        let tmp = self.new_upload_tmp().await?;
        let written = copy_hashing(reader, &tmp, self.limits.max_size).await;
        let (sha256, size) = match written {
            Ok(v) => v,
            Err(e) => {
                // Best effort: the original error is the one worth reporting.
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let result = self.commit_artifact(&tmp, &sha256, size, media_type).await;
        // After a successful rename this fails with NotFound, which is expected.
        let _ = tokio::fs::remove_file(&tmp).await;
        result
    }

    async fn commit_artifact(
        &self,
        tmp: &std::path::Path,
        sha256: &str,
        size: u64,
        media_type: &str,
    ) -> Result<StoredArtifact, RegistryError> {
        let dest = self
            .artifact_path(sha256)
            .ok_or(RegistryError::Corrupt { column: "sha256" })?;
        let rel = format!("{}/{}", sha256.get(..2).unwrap_or("00"), sha256);
        let existed_on_disk = tokio::fs::try_exists(&dest)
            .await
            .map_err(RegistryError::io("checking for an existing artifact"))?;
        if !existed_on_disk {
            let parent = dest
                .parent()
                .ok_or(RegistryError::Corrupt { column: "path" })?;
            crate::private_fs::create_dir_all_async(parent)
                .await
                .map_err(RegistryError::io("creating the artifact folder"))?;
            tokio::fs::rename(tmp, &dest)
                .await
                .map_err(RegistryError::io("moving the artifact into place"))?;
            // Make the rename itself durable.
            let dir = tokio::fs::File::open(parent)
                .await
                .map_err(RegistryError::io("opening the artifact folder"))?;
            dir.sync_all()
                .await
                .map_err(RegistryError::io("syncing the artifact folder"))?;
        }
        let inserted = sqlx::query(
            "INSERT INTO artifacts (sha256, size, path, media_type, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256.to_owned())
        .bind(i64::try_from(size).map_err(|_| RegistryError::TooLarge {
            limit: self.limits.max_size,
            at: size,
        })?)
        .bind(rel.clone())
        .bind(media_type.to_owned())
        .bind(unix_now())
        .execute(&self.pool)
        .await?
        .rows_affected();
        let stored_type: String =
            sqlx::query_scalar("SELECT media_type FROM artifacts WHERE sha256 = $1")
                .bind(sha256.to_owned())
                .fetch_one(&self.pool)
                .await?;
        Ok(StoredArtifact {
            sha256: sha256.to_owned(),
            size,
            path: rel,
            media_type: stored_type,
            existed: inserted == 0,
            links_skipped: 0,
        })
    }

    /// Validates `name`, stores the stream and attaches it to a submission under that name
    /// (replacing an earlier file of that name). Nothing is checked beyond the name and size:
    /// see [`Store::add_submission_upload`] for uploads from outside.
    pub async fn add_submission_artifact<R: AsyncRead + Unpin>(
        &self,
        submission_id: &str,
        name: &str,
        media_type: &str,
        reader: R,
    ) -> Result<StoredArtifact, RegistryError> {
        validate_artifact_name(name)?;
        let art = self.store_artifact_stream(media_type, reader).await?;
        self.attach(submission_id, name, &art.sha256).await?;
        Ok(art)
    }

    /// Bytes of the files a submission holds, but for the one named `except` (being replaced).
    async fn submission_bytes(
        &self,
        submission_id: &str,
        except: &str,
    ) -> Result<u64, RegistryError> {
        let used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(a.size), 0) AS BIGINT) FROM submission_artifacts sa \
             JOIN artifacts a ON a.sha256 = sa.artifact_sha256 \
             WHERE sa.submission_id = $1 AND sa.name <> $2",
        )
        .bind(submission_id.to_owned())
        .bind(except.to_owned())
        .fetch_one(&self.pool)
        .await?;
        u64::try_from(used).map_err(|_| RegistryError::Corrupt {
            column: "artifacts.size",
        })
    }

    async fn attach(
        &self,
        submission_id: &str,
        name: &str,
        sha256: &str,
    ) -> Result<(), RegistryError> {
        sqlx::query(
            "INSERT INTO submission_artifacts (submission_id, name, artifact_sha256, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (submission_id, name) \
             DO UPDATE SET artifact_sha256 = excluded.artifact_sha256, created_at = excluded.created_at",
        )
        .bind(submission_id.to_owned())
        .bind(name.to_owned())
        .bind(sha256.to_owned())
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An upload from outside: streamed to a temporary file (hashed, size-capped), then its
    /// type is decided from name and content, archives are read through against `limits`
    /// (bombs, escaping paths, special files; links are counted, as they will not be
    /// extracted), and only then is it stored and attached. The upload is acknowledged
    /// (returns) only once file and database rows are durable.
    pub async fn add_submission_upload<R: AsyncRead + Unpin>(
        &self,
        submission_id: &str,
        name: &str,
        reader: R,
        limits: &BundleLimits,
    ) -> Result<StoredArtifact, RegistryError> {
        validate_artifact_name(name)?;
        let tmp = self.new_upload_tmp().await?;
        let result = async {
            // Checked before and while streaming; two uploads at once may each pass (a soft
            // quota), but neither beyond max_size.
            let used = self.submission_bytes(submission_id, name).await?;
            let limit = self.limits.max_submission_total;
            let full = || RegistryError::SubmissionFull { used, limit };
            let room = limit
                .checked_sub(used)
                .filter(|&r| r > 0)
                .ok_or_else(full)?;
            let (sha256, size) =
                match copy_hashing(reader, &tmp, self.limits.max_size.min(room)).await {
                    Err(RegistryError::TooLarge { .. }) if room < self.limits.max_size => {
                        return Err(full());
                    }
                    r => r?,
                };
            let (media_type, links_skipped) = {
                let tmp = tmp.clone();
                let name = name.to_owned();
                let limits = limits.clone();
                tokio::task::spawn_blocking(move || check_upload(&tmp, &name, &limits))
                    .await
                    .map_err(|_| RegistryError::Join)??
            };
            let art = self
                .commit_artifact(&tmp, &sha256, size, media_type)
                .await?;
            self.attach(submission_id, name, &art.sha256).await?;
            Ok(StoredArtifact {
                links_skipped,
                ..art
            })
        }
        .await;
        // After a successful rename this fails with NotFound, which is expected.
        let _ = tokio::fs::remove_file(&tmp).await;
        result
    }
}

/// Decides an upload's type from its name and first bytes and reads archives through; returns
/// the media type and the number of links (recorded, never extracted).
fn check_upload(
    path: &Path,
    name: &str,
    limits: &BundleLimits,
) -> Result<(&'static str, u64), RegistryError> {
    let refused = |source| RegistryError::Upload {
        name: name.to_owned(),
        source,
    };
    let kind = sniff_file(name, path).map_err(refused)?;
    // Every kind is read through: archives against the bomb and path rules, case.toml and
    // key logs for their syntax, gzip captures for what they expand to.
    let listing = check_archive(path, kind, limits).map_err(refused)?;
    Ok((media_type_of(kind), listing.links_skipped))
}

/// The media type recorded for an upload of this kind.
pub fn media_type_of(kind: UploadKind) -> &'static str {
    match kind {
        UploadKind::Pcap => "application/vnd.tcpdump.pcap",
        UploadKind::Pcapng => "application/x-pcapng",
        UploadKind::Har => "application/json",
        UploadKind::CaseToml => "application/toml",
        UploadKind::KeyLog => "text/plain",
        UploadKind::Apk => "application/vnd.android.package-archive",
        UploadKind::Zip => "application/zip",
        UploadKind::Tar => "application/x-tar",
        UploadKind::TarGz | UploadKind::Gzip => "application/gzip",
    }
}

/// Copies into a new file at `tmp`, hashing on the way, refusing more than `limit` bytes.
async fn copy_hashing<R: AsyncRead + Unpin>(
    mut reader: R,
    tmp: &std::path::Path,
    limit: u64,
) -> Result<(String, u64), RegistryError> {
    let mut file = crate::private_fs::create_new_async(tmp)
        .await
        .map_err(RegistryError::io("creating the artifact temp file"))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size: u64 = 0;
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .map_err(RegistryError::BodyRead)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        size = size.saturating_add(n as u64);
        if size > limit {
            return Err(RegistryError::TooLarge { limit, at: size });
        }
        hasher.update(chunk);
        file.write_all(chunk)
            .await
            .map_err(RegistryError::io("writing the artifact temp file"))?;
    }
    file.sync_all()
        .await
        .map_err(RegistryError::io("syncing the artifact temp file"))?;
    Ok((hex::encode(hasher.finalize()), size))
}

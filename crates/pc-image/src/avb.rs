//! Android Verified Boot 2.0 (`libavb`): the vbmeta structure of a `vbmeta.img` or of an AVB
//! footer, its algorithm, public key, flags, rollback index and descriptors. Big-endian,
//! fixed 256-byte header (AOSP `external/avb/libavb/avb_vbmeta_image.h`), then an
//! authentication block (hash, signature) and an auxiliary block (descriptors, public key).
//!
//! What is checked here: structure and bounds, and that each hash descriptor's digest matches
//! its partition's bytes ([`Vbmeta::check_hash`]). The signature itself is not verified: the
//! facts a lab needs are which key signed (its digest, compared to AOSP's public test keys)
//! and whether verification is switched off.

use sha2::{Digest, Sha256, Sha512};

use crate::error::{ImageError, Result};
use crate::source::{ReadAt, be};

const HEADER: usize = 256;
const FOOTER: usize = 64;
/// Largest vbmeta structure read (avbtool's limit is 64 KiB; chained ones are small).
pub const MAX_VBMETA: u64 = 1 << 20;

/// Flag: hashtree (dm-verity) disabled.
pub const FLAG_HASHTREE_DISABLED: u32 = 1;
/// Flag: verification disabled.
pub const FLAG_VERIFICATION_DISABLED: u32 = 2;

/// A hash descriptor: the digest a partition's bytes must have.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashDescriptor {
    /// Partition name.
    pub partition: String,
    /// Bytes of the image covered.
    pub image_size: u64,
    /// `sha256` or `sha512`.
    pub algorithm: String,
    /// Salt (hex).
    pub salt: String,
    /// Expected digest (hex).
    pub digest: String,
}

/// A chain descriptor: a partition verified with its own key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainDescriptor {
    /// Partition name.
    pub partition: String,
    /// Rollback index location.
    pub rollback_index_location: u32,
    /// SHA-256 of the public key blob it must be signed with.
    pub public_key_sha256: String,
}

/// A parsed vbmeta structure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vbmeta {
    /// Required libavb version `major.minor`.
    pub version: (u32, u32),
    /// Algorithm name (`NONE`, `SHA256_RSA2048`, ...).
    pub algorithm: String,
    /// SHA-256 of the public key blob (AVB's own key format), as `avbtool info_image` and
    /// bootloaders' key pinning use it; none when unsigned.
    pub public_key_sha256: Option<String>,
    /// SHA-1 of the same blob (what `avbtool info_image` prints as "Public key (sha1)").
    pub public_key_sha1: Option<String>,
    /// Flags (1 hashtree disabled, 2 verification disabled).
    pub flags: u32,
    /// Rollback index.
    pub rollback_index: u64,
    /// Release string (`avbtool 1.3.0`).
    pub release: String,
    /// Hash descriptors.
    pub hashes: Vec<HashDescriptor>,
    /// Partitions with a hashtree descriptor (dm-verity).
    pub hashtrees: Vec<String>,
    /// Chain descriptors.
    pub chains: Vec<ChainDescriptor>,
    /// Property descriptors (`com.android.build.system.fingerprint`, ...).
    pub properties: Vec<(String, String)>,
}

fn algorithm(t: u32) -> String {
    match t {
        0 => "NONE",
        1 => "SHA256_RSA2048",
        2 => "SHA256_RSA4096",
        3 => "SHA256_RSA8192",
        4 => "SHA512_RSA2048",
        5 => "SHA512_RSA4096",
        6 => "SHA512_RSA8192",
        _ => return format!("unknown ({t})"),
    }
    .to_string()
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The vbmeta structure an AVB footer (last 64 bytes, magic `AVBf`) points to, if any.
pub fn footer_vbmeta(src: &dyn ReadAt) -> Option<Vec<u8>> {
    let size = src.size();
    let f = src
        .read_vec(size.checked_sub(FOOTER as u64)?, FOOTER)
        .ok()?;
    if &f[..4] != b"AVBf" {
        return None;
    }
    let off = be::u64(&f, 20)?;
    let len = be::u64(&f, 28)?;
    if len > MAX_VBMETA || off.checked_add(len)? > size {
        return None;
    }
    src.read_vec(off, len as usize).ok()
}

impl Vbmeta {
    /// Parses a vbmeta structure (`name` is used in errors).
    pub fn parse(b: &[u8], name: &str) -> Result<Vbmeta> {
        let err = |at: usize, w: String| ImageError::new(name, at as u64, w);
        if b.len() < HEADER || &b[..4] != b"AVB0" {
            return Err(err(0, "not a vbmeta structure (no AVB0 header)".into()));
        }
        let u32f = |o| be::u32(b, o).unwrap_or(0);
        let u64f = |o| be::u64(b, o).unwrap_or(0);
        let auth = u64f(12);
        let aux = u64f(20);
        let aux_start = (HEADER as u64).checked_add(auth);
        let aux_end = aux_start.and_then(|s| s.checked_add(aux));
        let (Some(aux_start), Some(aux_end)) = (aux_start, aux_end) else {
            return Err(err(12, "block sizes overflow".into()));
        };
        if aux_end > b.len() as u64 {
            return Err(err(
                20,
                format!("blocks end at {aux_end}, past the {} bytes given", b.len()),
            ));
        }
        let aux_b = &b[aux_start as usize..aux_end as usize];
        let in_aux = |off: u64, len: u64, what: &str| -> Result<&[u8]> {
            off.checked_add(len)
                .filter(|e| *e <= aux)
                .map(|e| &aux_b[off as usize..e as usize])
                .ok_or_else(|| {
                    err(
                        aux_start as usize,
                        format!("{what} lies outside the auxiliary block"),
                    )
                })
        };
        let key = in_aux(u64f(64), u64f(72), "public key")?;
        let desc = in_aux(u64f(96), u64f(104), "descriptors")?;
        let mut v = Vbmeta {
            version: (u32f(4), u32f(8)),
            algorithm: algorithm(u32f(28)),
            public_key_sha256: (!key.is_empty()).then(|| hex::encode(Sha256::digest(key))),
            public_key_sha1: (!key.is_empty()).then(|| hex::encode(sha1::Sha1::digest(key))),
            rollback_index: u64f(112),
            flags: u32f(120),
            release: cstr(&b[128..176]),
            hashes: Vec::new(),
            hashtrees: Vec::new(),
            chains: Vec::new(),
            properties: Vec::new(),
        };
        let mut pos = 0usize;
        let mut count = 0;
        while pos + 16 <= desc.len() {
            count += 1;
            if count > 4096 {
                return Err(err(
                    aux_start as usize + pos,
                    "more than 4096 descriptors".into(),
                ));
            }
            let tag = be::u64(desc, pos).unwrap_or(0);
            let n = be::u64(desc, pos + 8).unwrap_or(0);
            let body_end = (pos as u64 + 16)
                .checked_add(n)
                .filter(|e| *e <= desc.len() as u64)
                .ok_or_else(|| {
                    err(
                        aux_start as usize + pos,
                        format!("descriptor of {n} bytes runs past the block"),
                    )
                })?;
            let d = &desc[pos + 16..body_end as usize];
            let at = aux_start as usize + pos;
            let field = |o: usize, l: usize| -> Result<&[u8]> {
                o.checked_add(l)
                    .and_then(|e| d.get(o..e))
                    .ok_or_else(|| err(at, format!("descriptor (tag {tag}) cut short")))
            };
            match tag {
                0 => {
                    let kl = be::u64(d, 0).unwrap_or(0) as usize;
                    let vl = be::u64(d, 8).unwrap_or(0) as usize;
                    let k = field(16, kl)?;
                    let val = field(16 + kl + 1, vl)?;
                    v.properties.push((cstr(k), cstr(val)));
                }
                1 => {
                    // hashtree: dm-verity version, sizes and offsets, algorithm, three lengths,
                    // flags, 60 reserved bytes: the name starts at 164
                    let nl = be::u32(d, 88).unwrap_or(0) as usize;
                    v.hashtrees.push(cstr(field(164, nl)?));
                }
                2 => {
                    let nl = be::u32(d, 40).unwrap_or(0) as usize;
                    let sl = be::u32(d, 44).unwrap_or(0) as usize;
                    let dl = be::u32(d, 48).unwrap_or(0) as usize;
                    let name_o = 116;
                    v.hashes.push(HashDescriptor {
                        image_size: be::u64(d, 0).unwrap_or(0),
                        algorithm: cstr(field(8, 32)?),
                        partition: cstr(field(name_o, nl)?),
                        salt: hex::encode(field(name_o + nl, sl)?),
                        digest: hex::encode(field(name_o + nl + sl, dl)?),
                    });
                }
                4 => {
                    let loc = be::u32(d, 0).unwrap_or(0);
                    let nl = be::u32(d, 4).unwrap_or(0) as usize;
                    let kl = be::u32(d, 8).unwrap_or(0) as usize;
                    let name_o = 76;
                    v.chains.push(ChainDescriptor {
                        rollback_index_location: loc,
                        partition: cstr(field(name_o, nl)?),
                        public_key_sha256: hex::encode(Sha256::digest(field(name_o + nl, kl)?)),
                    });
                }
                _ => {}
            }
            pos = body_end as usize;
        }
        Ok(v)
    }

    /// Whether the bootloader is told not to verify (flag 2) or not to use dm-verity (flag 1).
    pub fn verification_disabled(&self) -> bool {
        self.flags & (FLAG_VERIFICATION_DISABLED | FLAG_HASHTREE_DISABLED) != 0
    }
}

impl HashDescriptor {
    /// Checks the digest against `src` (the partition image): `salt || image[..image_size]`.
    pub fn check(&self, src: &dyn ReadAt) -> Result<bool> {
        if self.image_size > src.size() {
            return Ok(false);
        }
        let salt = hex::decode(&self.salt).unwrap_or_default();
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0u64;
        macro_rules! run {
            ($h:expr) => {{
                let mut h = $h;
                h.update(&salt);
                while off < self.image_size {
                    let k = ((self.image_size - off) as usize).min(buf.len());
                    src.read_at(off, &mut buf[..k])?;
                    h.update(&buf[..k]);
                    off += k as u64;
                }
                hex::encode(h.finalize())
            }};
        }
        let got = match self.algorithm.as_str() {
            "sha256" => run!(Sha256::new()),
            "sha512" => run!(Sha512::new()),
            other => {
                return Err(ImageError::new(
                    src.name(),
                    0,
                    format!("hash algorithm {other} not known"),
                ));
            }
        };
        Ok(got == self.digest)
    }
}

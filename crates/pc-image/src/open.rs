//! Firmware as a lab receives it: folders, loose images, factory packages (`.tgz`, `.tar`,
//! `.zip`), OTA zips and Samsung `.tar.md5`, sniffed by content (never by name) and opened
//! layer by layer — sparse, super, filesystem — into one [`Mounts`] tree of partitions.
//!
//! Nothing is unpacked: images stored in a tar or an uncompressed zip entry are windows of the
//! package. What cannot be read in place — a gzip stream, an lz4 frame, a deflated zip entry —
//! is spooled once into an anonymous temporary file (deleted when the [`Firmware`] is
//! dropped), bounded by [`OpenOptions::max_spool`]. One bad image or partition is an error in
//! [`Firmware::errors`]; the others are still read.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{ImageError, Result};
use crate::ext4::{Ext4Fs, is_ext4};
use crate::mounts::Mounts;
use crate::source::{Cursor, FileSource, MemSource, ReadAt, Slice, Source};
use crate::sparse::{Sparse, is_sparse};
use crate::tree::Tree;
use crate::{dir::DirTree, erofs::Erofs, lp, tar};

/// Limits of [`open`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Most bytes spooled to temporary files in all.
    pub max_spool: u64,
    /// Deepest nesting of containers (zip in tar in gzip...).
    pub max_depth: usize,
    /// Compute the SHA-256 of every input file (for the certificate).
    pub digests: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_spool: 64 << 30,
            max_depth: 6,
            digests: true,
        }
    }
}

/// One input as given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputInfo {
    /// Path as given.
    pub path: String,
    /// What it is (`folder`, `sparse`, `super`, `zip`, ...).
    pub format: String,
    /// Size in bytes (0 for a folder).
    pub size: u64,
    /// SHA-256 of the file (none for a folder).
    pub sha256: Option<String>,
}

/// One partition found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionInfo {
    /// Partition name (as the image or super metadata names it, slot suffix kept).
    pub name: String,
    /// Where it came from: the input and each container, `pkg.zip > super.img > sparse > super`.
    pub source: String,
    /// `erofs`, `ext4`, `folder`, `vbmeta`, `boot`, ...
    pub filesystem: String,
    /// Size of the partition image in bytes.
    pub size: u64,
}

/// Formats recognised from the first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Sparse,
    Super,
    Erofs,
    Ext4,
    F2fs,
    Vbmeta,
    Boot,
    VendorBoot,
    Payload,
    Zip,
    Tar,
    Gzip,
    Lz4,
    Ozip,
}

impl Format {
    fn label(self) -> &'static str {
        match self {
            Format::Sparse => "sparse",
            Format::Super => "super",
            Format::Erofs => "erofs",
            Format::Ext4 => "ext4",
            Format::F2fs => "f2fs",
            Format::Vbmeta => "vbmeta",
            Format::Boot => "boot",
            Format::VendorBoot => "vendor_boot",
            Format::Payload => "payload",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Gzip => "gzip",
            Format::Lz4 => "lz4",
            Format::Ozip => "ozip",
        }
    }
}

fn sniff(src: &dyn ReadAt) -> Option<Format> {
    let n = src.size().min(4096 + 8) as usize;
    let h = src.read_vec(0, n).ok()?;
    let at = |o: usize, m: &[u8]| h.get(o..o + m.len()) == Some(m);
    Some(if is_sparse(&h) {
        Format::Sparse
    } else if at(1024, &0xE0F5_E1E2u32.to_le_bytes()) {
        Format::Erofs
    } else if is_ext4(&h) {
        Format::Ext4
    } else if at(1024, &0xF2F5_2010u32.to_le_bytes()) {
        Format::F2fs
    } else if lp::is_super(src) {
        Format::Super
    } else if at(0, b"AVB0") {
        Format::Vbmeta
    } else if at(0, b"ANDROID!") {
        Format::Boot
    } else if at(0, b"VNDRBOOT") {
        Format::VendorBoot
    } else if at(0, b"CrAU") {
        Format::Payload
    } else if at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06") {
        Format::Zip
    } else if at(0, &[0x1f, 0x8b]) {
        Format::Gzip
    } else if at(0, &[0x04, 0x22, 0x4d, 0x18]) {
        Format::Lz4
    } else if at(0, b"OPPOENCRYPT!") {
        Format::Ozip
    } else if tar::is_tar(&h) {
        Format::Tar
    } else {
        return None;
    })
}

/// Vendor containers that are encrypted: refused by name, with what the lab must do.
fn encrypted_container(name: &str) -> Option<&'static str> {
    let l = name.to_ascii_lowercase();
    if l.ends_with(".ozip") {
        Some(
            "an OPPO/realme .ozip is encrypted with a per-model key: ask the manufacturer for the decrypted factory images, or decrypt it with the vendor's tool and give the images",
        )
    } else if l.ends_with(".ofp") {
        Some(
            "an OPPO/realme .ofp is an encrypted flash package: ask the manufacturer for the decrypted images, or decrypt it with the vendor's tool and give the images",
        )
    } else if l.ends_with(".ops") {
        Some(
            "a OnePlus .ops is an encrypted flash package: ask the manufacturer for the decrypted images, or decrypt it with the vendor's tool and give the images",
        )
    } else {
        None
    }
}

/// Partition name suggested by a file name: `system_a.img.lz4` → `system_a`.
fn hint_of(name: &str) -> String {
    let file = name.rsplit('/').next().unwrap_or(name);
    let mut s = file;
    for ext in [
        ".lz4", ".br", ".img", ".new.dat", ".simg", ".raw", ".ext4", ".erofs", ".bin",
    ] {
        if let Some(t) = s.strip_suffix(ext) {
            s = t;
        }
    }
    s.to_string()
}

/// The opened firmware: partitions mounted side by side, with what was found and met.
pub struct Firmware {
    /// Every filesystem partition, mounted under its name.
    pub mounts: Mounts,
    /// Inputs as given.
    pub inputs: Vec<InputInfo>,
    /// Every partition found (filesystems and others: vbmeta, boot), sorted by name.
    pub partitions: Vec<PartitionInfo>,
    /// vbmeta structures: partition name and the bytes (a vbmeta image, or the one in an
    /// image's AVB footer).
    pub vbmeta: Vec<(String, Vec<u8>)>,
    /// Raw sources of partitions (to check AVB hash descriptors, and to unpack).
    pub sources: Vec<(String, Source)>,
    /// Problems met; each names image, partition and offset.
    pub errors: Vec<ImageError>,
    /// An extracted folder given instead of images.
    folder: Option<DirTree>,
    spooled: u64,
    opts: OpenOptions,
}

/// Opens every input. Never fails as a whole: problems are in [`Firmware::errors`].
pub fn open(paths: &[PathBuf], opts: &OpenOptions) -> Firmware {
    let mut fw = Firmware {
        mounts: Mounts::new(),
        inputs: Vec::new(),
        partitions: Vec::new(),
        vbmeta: Vec::new(),
        sources: Vec::new(),
        errors: Vec::new(),
        folder: None,
        spooled: 0,
        opts: opts.clone(),
    };
    for p in paths {
        fw.open_path(p);
    }
    fw.partitions
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.source.cmp(&b.source)));
    fw.sources.sort_by(|a, b| a.0.cmp(&b.0));
    fw
}

fn file_digest(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf)? {
            0 => break,
            n => h.update(&buf[..n]),
        }
    }
    Ok(hex::encode(h.finalize()))
}

impl Firmware {
    fn open_path(&mut self, p: &Path) {
        let shown = p.display().to_string();
        if p.is_dir() {
            return self.open_folder(p, &shown);
        }
        let src: Source = match FileSource::open(p, &shown) {
            Ok(s) => Arc::new(s),
            Err(e) => return self.errors.push(e),
        };
        let fmt = sniff(src.as_ref());
        let sha256 = if self.opts.digests {
            match file_digest(p) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.errors
                        .push(ImageError::new(&shown, 0, format!("read: {e}")));
                    None
                }
            }
        } else {
            None
        };
        self.inputs.push(InputInfo {
            path: shown.clone(),
            format: fmt.map_or("unknown", Format::label).into(),
            size: src.size(),
            sha256,
        });
        self.process(src, &hint_of(&shown), &shown, 0, true);
    }

    /// A folder is an unzipped package when its first level holds images, else an extracted
    /// tree whose first level is the partitions (read as it is, through [`DirTree`]).
    fn open_folder(&mut self, p: &Path, shown: &str) {
        let mut images: Vec<PathBuf> = match std::fs::read_dir(p) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.is_file())
                .filter(|f| {
                    FileSource::open(f, &f.display().to_string()).is_ok_and(|s| sniff(&s).is_some())
                })
                .collect(),
            Err(e) => return self.errors.push(ImageError::new(shown, 0, e.to_string())),
        };
        if !images.is_empty() {
            images.sort();
            for f in images {
                self.open_path(&f);
            }
            return;
        }
        match DirTree::open(p) {
            Ok(t) if self.folder.is_none() => {
                self.inputs.push(InputInfo {
                    path: shown.to_string(),
                    format: "folder".into(),
                    size: 0,
                    sha256: None,
                });
                self.partitions.push(PartitionInfo {
                    name: String::new(),
                    source: shown.to_string(),
                    filesystem: "folder".into(),
                    size: 0,
                });
                self.folder = Some(t);
            }
            Ok(_) => self.errors.push(ImageError::new(
                shown,
                0,
                "a second extracted folder: give one folder, or images",
            )),
            Err(e) => self.errors.push(e),
        }
    }

    /// The tree to analyse: the extracted folder, or the partitions of the images.
    pub fn tree(&self) -> &dyn Tree {
        match &self.folder {
            Some(f) => f,
            None => &self.mounts,
        }
    }

    /// Whether an extracted folder was mixed with images (only the folder is read).
    pub fn mixed(&self) -> bool {
        self.folder.is_some() && !self.mounts.is_empty()
    }

    fn spool(&mut self, r: &mut dyn Read, name: &str, limit: u64) -> Result<Source> {
        let room = self.opts.max_spool.saturating_sub(self.spooled).min(limit);
        let mut f = tempfile::tempfile()
            .map_err(|e| ImageError::new(name, 0, format!("temporary file: {e}")))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = r
                .read(&mut buf)
                .map_err(|e| ImageError::new(name, total, format!("decompress: {e}")))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > room {
                return Err(ImageError::new(
                    name,
                    total,
                    format!("decompresses to more than {room} bytes (the spool limit)"),
                ));
            }
            f.write_all(&buf[..n])
                .map_err(|e| ImageError::new(name, total, format!("temporary file: {e}")))?;
        }
        self.spooled += total;
        Ok(Arc::new(FileSource::from_file(f, name)?))
    }

    fn record(&mut self, name: &str, source: &str, fs: &str, size: u64) {
        self.partitions.push(PartitionInfo {
            name: name.to_string(),
            source: source.to_string(),
            filesystem: fs.to_string(),
            size,
        });
    }

    fn mount(&mut self, name: &str, chain: &str, tree: Box<dyn Tree>, fs: &str, src: &Source) {
        if self.mounts.add(name, tree) {
            self.record(name, chain, fs, src.size());
            self.sources.push((name.to_string(), src.clone()));
            self.footer(name, src);
        } else {
            self.errors.push(ImageError::new(
                chain,
                0,
                format!("partition {name} is given twice: only the first is read"),
            ));
        }
    }

    /// An AVB footer at the end of a partition image points at its vbmeta.
    fn footer(&mut self, name: &str, src: &Source) {
        if let Some(v) = crate::avb::footer_vbmeta(src.as_ref()) {
            self.vbmeta.push((name.to_string(), v));
        }
    }

    /// Opens one layer. `top`: the user named this file (an unknown format is an error there;
    /// inside a package, files that are not images are passed over).
    fn process(&mut self, src: Source, hint: &str, chain: &str, depth: usize, top: bool) {
        if depth > self.opts.max_depth {
            return self
                .errors
                .push(ImageError::new(chain, 0, "containers nested too deep"));
        }
        if let Some(why) = encrypted_container(hint_name(chain)) {
            return self
                .errors
                .push(ImageError::new(chain, 0, format!("not read: {why}")));
        }
        let Some(fmt) = sniff(src.as_ref()) else {
            if top {
                self.errors.push(ImageError::new(
                    chain,
                    0,
                    "not a firmware image or package this tool reads (sparse, super, EROFS, ext4, vbmeta, payload.bin, zip, tar, gzip, lz4)",
                ));
            }
            return;
        };
        let here = |f: Format| format!("{chain} > {}", f.label());
        let r: Result<()> = (|| {
            match fmt {
                Format::Sparse => {
                    let s = Sparse::open(src.clone())?;
                    self.process(Arc::new(s), hint, &here(fmt), depth + 1, top);
                }
                Format::Super => {
                    let sup = lp::Super::open(src.as_ref())?;
                    let parts = sup.named("_a");
                    for p in &parts {
                        // Slot B of the same firmware: recorded, not analysed twice.
                        if let Some(base) = p.name.strip_suffix("_b")
                            && parts
                                .iter()
                                .any(|q| q.name.strip_suffix("_a") == Some(base))
                        {
                            let c = format!("{} > {}", here(fmt), p.name);
                            self.record(&p.name, &c, "slot b (not analysed: slot a is)", p.size);
                            continue;
                        }
                        // `system_a` is mounted as `system`: the tree reads as the extracted
                        // folder of the same firmware does.
                        let mount = p.name.strip_suffix("_a").unwrap_or(&p.name).to_string();
                        match lp::PartitionSource::new(src.clone(), p) {
                            Ok(ps) => {
                                let c = format!("{} > {}", here(fmt), p.name);
                                self.process(Arc::new(ps), &mount, &c, depth + 1, true);
                            }
                            Err(e) => self.errors.push(e.in_part(&p.name)),
                        }
                    }
                }
                Format::Erofs => {
                    let fs = Erofs::open(src.clone()).map_err(|e| e.in_part(hint))?;
                    self.mount(hint, chain, Box::new(fs), "erofs", &src);
                }
                Format::Ext4 => {
                    let fs = Ext4Fs::open(src.clone()).map_err(|e| e.in_part(hint))?;
                    self.mount(hint, chain, Box::new(fs), "ext4", &src);
                }
                Format::F2fs => {
                    return Err(ImageError::new(
                        chain,
                        1024,
                        "F2FS filesystem: not read by this tool; mount it on Linux (mount -o ro,loop) and give the folder",
                    )
                    .in_part(hint));
                }
                Format::Vbmeta => {
                    let n = src.size().min(1 << 20) as usize;
                    let v = src.read_vec(0, n)?;
                    self.record(hint, chain, "vbmeta", src.size());
                    self.vbmeta.push((hint.to_string(), v));
                }
                Format::Boot | Format::VendorBoot => {
                    self.record(hint, chain, fmt.label(), src.size());
                    self.sources.push((hint.to_string(), src.clone()));
                    self.footer(hint, &src);
                }
                Format::Payload => self.payload(src.clone(), &here(fmt), depth)?,
                Format::Zip => self.zip(src.clone(), chain, depth)?,
                Format::Tar => {
                    for m in tar::members(src.as_ref())? {
                        let s = Slice::new(src.clone(), m.offset, m.size, &m.name)?;
                        let c = format!("{chain} > {}", m.name);
                        self.process(Arc::new(s), &hint_of(&m.name), &c, depth + 1, false);
                    }
                }
                Format::Gzip => {
                    let mut r = flate2::read::MultiGzDecoder::new(Cursor::new(src.as_ref()));
                    let s = self.spool(&mut r, chain, u64::MAX)?;
                    self.process(s, hint, &here(fmt), depth + 1, top);
                }
                Format::Lz4 => {
                    let mut r = lz4_flex::frame::FrameDecoder::new(Cursor::new(src.as_ref()));
                    let s = self.spool(&mut r, chain, u64::MAX)?;
                    self.process(s, hint, &here(fmt), depth + 1, top);
                }
                Format::Ozip => {
                    return Err(ImageError::new(
                        chain,
                        0,
                        format!(
                            "not read: {}",
                            encrypted_container("x.ozip").unwrap_or_default()
                        ),
                    ));
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            self.errors.push(e);
        }
    }

    fn zip(&mut self, src: Source, chain: &str, depth: usize) -> Result<()> {
        use pc_apk::zip::{Archive, METHOD_STORED, Tail};
        let zerr = |e: pc_apk::zip::ZipError| ImageError::new(chain, 0, format!("zip: {e}"));
        let mut cur = Cursor::new(src.as_ref());
        let tail = Tail::read(&mut cur, 64 << 20).map_err(zerr)?;
        let ar =
            Archive::parse_file(&tail, &mut cur, pc_apk::zip::Limits::default()).map_err(zerr)?;
        let mut transfer: Vec<String> = Vec::new();
        for e in ar.entries() {
            if e.is_dir() || e.uncompressed_size == 0 {
                continue;
            }
            if e.name.ends_with(".transfer.list") {
                transfer.push(e.name.clone());
                continue;
            }
            // Block OTA data means nothing without its transfer list (read with it below).
            if [".new.dat", ".new.dat.br", ".patch.dat"]
                .iter()
                .any(|x| e.name.ends_with(x))
            {
                continue;
            }
            let c = format!("{chain} > {}", e.name);
            let s: Source = if e.method == METHOD_STORED {
                let (at, len) = ar.data_range(e).map_err(zerr)?;
                Arc::new(Slice::new(src.clone(), at, len, &e.name)?)
            } else {
                // Small entries (properties, metadata) in memory; images spooled.
                let mut cur = Cursor::new(src.as_ref());
                let mut r = ar.open(&mut cur, e, self.opts.max_spool).map_err(zerr)?;
                if e.uncompressed_size <= 1 << 20 {
                    let mut v = Vec::new();
                    if let Err(x) = r.read_to_end(&mut v) {
                        self.errors.push(ImageError::new(
                            &c,
                            e.local_header_offset,
                            format!("inflate: {x}"),
                        ));
                        continue;
                    }
                    Arc::new(MemSource::new(&e.name, v))
                } else {
                    match self.spool(&mut r, &c, e.uncompressed_size) {
                        Ok(s) => s,
                        Err(x) => {
                            self.errors.push(x);
                            continue;
                        }
                    }
                }
            };
            self.process(s, &hint_of(&e.name), &c, depth + 1, false);
        }
        for list in transfer {
            if let Err(e) = self.transfer(&ar, src.clone(), &list, chain, depth) {
                self.errors.push(e);
            }
        }
        Ok(())
    }
}

fn hint_name(chain: &str) -> &str {
    chain.rsplit(" > ").next().unwrap_or(chain)
}

impl Firmware {
    /// A full A/B OTA payload: each partition rebuilt lazily from its operations.
    fn payload(&mut self, src: Source, chain: &str, depth: usize) -> Result<()> {
        let p = crate::payload::Payload::open(src)?;
        for part in p.partitions() {
            let c = format!("{chain} > {}", part.name);
            match p.partition(&part.name) {
                Ok(s) => self.process(s, &part.name, &c, depth + 1, true),
                Err(e) => self.errors.push(e.in_part(&part.name)),
            }
        }
        Ok(())
    }

    /// A block-based (non-A/B) OTA: `X.transfer.list` with `X.new.dat` or `X.new.dat.br`.
    fn transfer(
        &mut self,
        ar: &pc_apk::zip::Archive<'_>,
        src: Source,
        list: &str,
        chain: &str,
        depth: usize,
    ) -> Result<()> {
        use crate::transfer::{TransferImage, TransferList, spool_brotli};
        let zerr = |e: pc_apk::zip::ZipError| ImageError::new(chain, 0, format!("zip: {e}"));
        let stem = list.strip_suffix(".transfer.list").unwrap_or(list);
        let entry = |name: &str| ar.entries().iter().find(|e| e.name == name);
        let le = entry(list).ok_or_else(|| ImageError::new(chain, 0, format!("{list}: gone")))?;
        let text = ar
            .read_from(&mut Cursor::new(src.as_ref()), le, 64 << 20)
            .map_err(zerr)?;
        let tl = TransferList::parse(&format!("{chain} > {list}"), &text)?;
        let read_entry = |me: &mut Self, name: &str| -> Result<Option<Source>> {
            let Some(e) = entry(name) else {
                return Ok(None);
            };
            if e.method == pc_apk::zip::METHOD_STORED {
                let (at, len) = ar.data_range(e).map_err(zerr)?;
                return Ok(Some(Arc::new(Slice::new(src.clone(), at, len, name)?)));
            }
            let mut cur = Cursor::new(src.as_ref());
            let mut r = ar.open(&mut cur, e, me.opts.max_spool).map_err(zerr)?;
            me.spool(&mut r, &format!("{chain} > {name}"), e.uncompressed_size)
                .map(Some)
        };
        let dat = match read_entry(self, &format!("{stem}.new.dat"))? {
            Some(d) => d,
            None => match read_entry(self, &format!("{stem}.new.dat.br"))? {
                Some(br) => spool_brotli(br, tl.new_blocks() * 4096)?,
                None => {
                    return Err(ImageError::new(
                        chain,
                        0,
                        format!("{list}: no {stem}.new.dat or {stem}.new.dat.br beside it"),
                    ));
                }
            },
        };
        let name = hint_of(stem);
        let img = TransferImage::new(&tl, dat, &name)?;
        let c = format!("{chain} > {list}");
        self.process(Arc::new(img), &name, &c, depth + 1, true);
        Ok(())
    }
}

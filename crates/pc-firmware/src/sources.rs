//! Firmware from what the lab received: images, packages or an extracted folder, opened by
//! `pc_image::open` (by content, layer by layer) and analysed through the tree of their
//! partitions, exactly as a folder is. The report then also lists the inputs with their
//! digests, the partitions found, and the verified-boot facts of the vbmeta structures.

use std::path::PathBuf;

use pc_image::open::{OpenOptions, open};

use crate::facts::{CodeAnalyzer, SignatureVerifier};
use crate::firmware::{FirmwareProgress, FirmwareReport, Options, analyze_tree};
use crate::trackers::TrackerDb;

/// Analyses firmware given as `paths` (a folder, images, packages; see `pc_image::open`).
pub fn analyze_inputs(
    paths: &[PathBuf],
    opts: &Options,
    open_opts: &OpenOptions,
    db: &TrackerDb,
    code: &dyn CodeAnalyzer,
    sig: &dyn SignatureVerifier,
    progress: &(dyn Fn(FirmwareProgress) + Sync),
) -> FirmwareReport {
    let fw = open(paths, open_opts);
    let mut report = analyze_tree(fw.tree(), opts, db, code, sig, progress);
    let mut errors: Vec<String> = fw.errors.iter().map(|e| e.to_string()).collect();
    if fw.mixed() {
        errors
            .push("an extracted folder was given with images: only the folder was analysed".into());
    }
    errors.append(&mut report.errors);
    report.errors = errors;
    report.build.avb = crate::buildinfo::avb_facts(&fw.vbmeta, &fw.sources);
    report.inputs = fw.inputs;
    report.partitions = fw.partitions;
    report
}

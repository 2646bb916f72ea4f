//! A firmware analysed from its images gives exactly what the same tree analysed as a folder
//! gives: the apps, their partitions, privilege, digests and pre-granted permissions, and the
//! build's properties; the images add the inputs' digests and verified-boot facts.
//! Fixtures: tests/data/images/firmware (scripts/make-firmware-images.sh builds them from
//! examples/acme-a1/firmware).

use std::path::{Path, PathBuf};

use pc_firmware::{ApkSig, DexCode, FirmwareReport, TrackerDb, analyze_firmware, analyze_inputs};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn from_images(paths: &[PathBuf]) -> FirmwareReport {
    analyze_inputs(
        paths,
        &Default::default(),
        &Default::default(),
        TrackerDb::embedded(),
        &DexCode::new(),
        &ApkSig,
        &|_| {},
    )
}

type AppView = (
    String,
    String,
    String,
    bool,
    Option<String>,
    Vec<String>,
    String,
    String,
);

fn view(r: &FirmwareReport) -> Vec<AppView> {
    r.apps
        .iter()
        .map(|a| {
            (
                a.path.clone(),
                a.package.clone(),
                a.partition.clone(),
                a.privileged,
                a.sha256.clone(),
                a.granted_at_boot.to_vec(),
                format!("{:?}", a.default_granted),
                format!("{:?}", a.privileged_granted),
            )
        })
        .collect()
}

#[test]
fn images_analyse_as_the_extracted_folder() {
    let folder = analyze_firmware(
        &root().join("examples/acme-a1/firmware"),
        &DexCode::new(),
        &ApkSig,
        &|_| {},
    );
    let img = root().join("tests/data/images/firmware");
    let images = from_images(&[img.join("super.simg"), img.join("vbmeta.img")]);
    assert_eq!(folder.apps.len(), 4);
    assert_eq!(view(&images), view(&folder));
    assert_eq!(images.permission_config, folder.permission_config);
    assert_eq!(images.build.prop_files, folder.build.prop_files);
    assert_eq!(images.risk.uraniborg, folder.risk.uraniborg);
    // What only the images carry.
    let inputs: Vec<_> = images
        .inputs
        .iter()
        .map(|i| (i.format.as_str(), i.sha256.is_some()))
        .collect();
    assert_eq!(inputs, [("sparse", true), ("vbmeta", true)]);
    let parts: Vec<_> = images
        .partitions
        .iter()
        .map(|p| (p.name.as_str(), p.filesystem.as_str()))
        .collect();
    // The empty _b slots of the factory super image hold nothing: not listed.
    assert_eq!(
        parts,
        [
            ("product", "erofs"),
            ("system", "erofs"),
            ("vbmeta", "vbmeta"),
            ("vendor", "ext4"),
        ]
    );
    let avb = &images.build.avb[0];
    assert_eq!(avb.test_key.as_deref(), Some("AOSP testkey_rsa4096"));
    assert!(avb.verification_disabled);
    let checks: Vec<_> = avb
        .hashes
        .iter()
        .map(|h| (h.partition.as_str(), h.matches))
        .collect();
    assert_eq!(checks, [("vendor", Some(true)), ("product", Some(false))]);
    // A folder analysed directly carries no image facts.
    assert!(folder.build.avb.is_empty() && folder.inputs.is_empty());
}

#[test]
fn one_bad_partition_does_not_stop_the_others() {
    // Corrupt the system partition's EROFS superblock inside an expanded super image: the
    // vendor and product apps are still found, and the error names the partition and offset.
    use pc_image::ReadAt;
    let img = root().join("tests/data/images/firmware/super.simg");
    let src = std::sync::Arc::new(pc_image::FileSource::open(&img, "super.simg").unwrap());
    let sparse = pc_image::sparse::Sparse::open(src).unwrap();
    let mut raw = sparse.read_vec(0, sparse.size() as usize).unwrap();
    let sup = pc_image::lp::Super::open(&sparse).unwrap();
    let sys = sup
        .partitions
        .iter()
        .find(|p| p.name == "system_a")
        .unwrap();
    let pc_image::lp::Target::Linear(at) = sys.extents[0].target else {
        panic!()
    };
    raw[at as usize + 1024] ^= 0xff;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("super.img");
    std::fs::write(&bad, raw).unwrap();
    let r = from_images(&[bad]);
    let paths: Vec<_> = r.apps.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "product/app/AcmeHelper/AcmeHelper.apk",
            "vendor/app/AcmeClock/AcmeClock.apk"
        ]
    );
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("system_a") && e.contains("offset")),
        "{:?}",
        r.errors
    );
}

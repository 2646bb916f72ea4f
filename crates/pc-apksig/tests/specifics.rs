//! Must-pass cases, explained disagreements with the oracle, key flags, malformed input.

mod common;

use pc_apksig::*;
use std::path::Path;

const APK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/apk");

fn run(rel: &str, min_sdk: u32, target_sdk: Option<u32>) -> Report {
    common::verify_file(&Path::new(APK).join(rel), min_sdk, target_sdk)
}

const RSA_2048: &str = "fb5dbd3c669af9fc236c6991e6387b7f11ff0590997f22d0f5c74ff40e04fca8";
const EC_P256: &str = "6a8b96e278e58f62cfe3584022cec1d0527fcb85a9e5d2e1694eb0405be5b599";

#[test]
fn v2_bad_signature_does_not_verify() {
    let r = run(
        "apksig/v2-only-with-rsa-pkcs1-sha256-2048-sig-does-not-verify.apk",
        24,
        None,
    );
    assert!(!r.verified);
    assert!(!r.scheme(Scheme::V2).verified);
    assert!(
        r.errors
            .iter()
            .any(|e| e
                .contains("RSA_PKCS1_V1_5_WITH_SHA256 signature over signed-data did not verify")),
        "{:?}",
        r.errors
    );
    assert!(r.signers.is_empty());
}

#[test]
fn partial_signature_verifies_with_warning() {
    let r = run("androguard/partialsignature.apk", 15, None);
    assert!(r.verified, "{:?}", r.errors);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("Partial JAR signature. Found: META-INF/CERT.RSA"))
    );
    assert_eq!(
        r.signers[0].sha256,
        "1e3bf46f964d494c9094cbf1a7ebec99b63d4acf6ae7519287d94faf5ea6871b"
    );
}

#[test]
fn v1_only_dsa() {
    let r = run(
        "apksig/v1-only-with-dsa-sha256-1.2.840.10040.4.1-2048.apk",
        23,
        None,
    );
    assert!(r.verified, "{:?}", r.errors);
    let c = &r.scheme(Scheme::V1).certificates[0];
    assert_eq!((c.key_algorithm.as_str(), c.key_bits), ("DSA", Some(2048)));
    // The same APK fails the targetSdk >= 30 rule (v1 alone is not enough), as apksig says.
    let r = run(
        "apksig/v1-only-with-dsa-sha256-1.2.840.10040.4.1-2048.apk",
        23,
        Some(30),
    );
    assert!(!r.verified);
    assert!(
        r.errors[0].contains("Target SDK version 30 requires a minimum of signature scheme v2")
    );
}

#[test]
fn v3_ecdsa_p256() {
    let r = run("apksig/v3-only-with-ecdsa-sha256-p256.apk", 24, None);
    assert!(
        r.verified && r.scheme(Scheme::V3).verified,
        "{:?}",
        r.errors
    );
    assert_eq!(r.signers[0].sha256, EC_P256);
    assert_eq!(r.signers[0].key_bits, Some(256));
    // minSdk 23 requires v1, which this APK lacks.
    let r = run("apksig/v3-only-with-ecdsa-sha256-p256.apk", 23, None);
    assert_eq!(r.errors, vec!["Missing META-INF/MANIFEST.MF".to_string()]);
}

#[test]
fn lineage_of_three() {
    let r = run(
        "apksig/v1v2v3-with-rsa-2048-lineage-3-signers.apk",
        23,
        None,
    );
    assert!(r.verified, "{:?}", r.errors);
    let v3 = r.scheme(Scheme::V3);
    let l: Vec<&str> = v3.lineage.iter().map(|c| &c.sha256[..12]).collect();
    assert_eq!(l, ["fb5dbd3c669a", "681b0e56a796", "bb77a72efc60"]);
    assert_eq!(r.signers[0].sha256[..12], *"bb77a72efc60");
    // v1 and v2 still carry the oldest key, which must be the lineage root.
    assert_eq!(r.scheme(Scheme::V1).certificates[0].sha256, RSA_2048);
    assert_eq!(r.scheme(Scheme::V2).certificates[0].sha256, RSA_2048);
}

#[test]
fn two_signers() {
    let r = run("apksig/two-signers.apk", 23, None);
    assert!(r.verified, "{:?}", r.errors);
    let s: Vec<&str> = r.signers.iter().map(|c| c.sha256.as_str()).collect();
    assert_eq!(s, [RSA_2048, EC_P256]);
    assert_eq!(r.scheme(Scheme::V1).certificates.len(), 2);
}

/// Oracle disagreement 1: the oracle's JVM had no RSA-PSS provider and apksigner crashed
/// (NoSuchAlgorithmException). AOSP apksig's own test suite expects this APK to verify (v2,
/// RSA-PSS-SHA256), and androguard reports the same certificate: we are right to verify it.
#[test]
fn disagreement_pss_verifies() {
    let r = run("apksig/v2-only-with-rsa-pss-sha256-2048.apk", 24, None);
    assert!(r.verified, "{:?}", r.errors);
    assert_eq!(r.signers[0].sha256, RSA_2048);
}

/// Oracle disagreement 2: the oracle is apksigner 31.0.2, which predates v3.1 (it warns
/// "Unknown additional attribute 0x559f8b02" and then ignores the v3 signer covering SDK 24..32).
/// Current apksig (verify31_minSdkVersionTTargetSdk30_resultSuccessfullyVerified) and devices
/// verify it: v3 signer for SDK 24..32, rotated v3.1 signer from SDK 32 (dev release of 33),
/// rotation-min-sdk attribute consistent. So verified, effective signer = v3.1 key.
#[test]
fn disagreement_v31_rotation_verifies() {
    let rel = "apksig/v31-ec-p256-2-tgt-33-1-tgt-28-targetSdk-30.apk";
    for min in [24, 29, 33] {
        let r = run(rel, min, Some(30));
        assert!(r.verified, "min {min}: {:?}", r.errors);
        assert!(r.scheme(Scheme::V31).verified);
        assert_eq!(&r.signers[0].sha256[..12], "d78405f761ff");
        let lineage: Vec<&str> = r
            .scheme(Scheme::V31)
            .lineage
            .iter()
            .map(|c| &c.sha256[..12])
            .collect();
        assert_eq!(lineage, ["6a8b96e278e5", "d78405f761ff"]);
    }
    // Devices before Android 13 only see the v3 block, whose signer is the original key.
    let data = std::fs::read(format!("{APK}/{rel}")).unwrap();
    let e = common::ZipEntries::new(&data);
    let r = verify(
        &data,
        &e,
        &VerifyOptions {
            min_sdk: 29,
            max_sdk: 32,
            target_sdk: Some(30),
            ..Default::default()
        },
    );
    assert!(r.verified, "{:?}", r.errors);
    assert!(!r.scheme(Scheme::V31).checked);
    assert_eq!(r.signers[0].sha256, EC_P256);
}

/// Oracle disagreement 3: apksigner aborted on "Missing AndroidManifest.xml" before checking
/// signatures (it needs minSdk from the manifest; our caller passes it). CertChain.apk's .SF says
/// `X-Android-APK-Signed: 2` but has no v2 block: apksig's stripping protection rejects that on
/// every platform that knows v2, and multidex.apk has no signature at all.
#[test]
fn disagreement_no_manifest_apks() {
    let r = run("androguard/CertChain.apk", 1, None);
    assert!(!r.verified);
    assert!(
        r.errors[0].contains("Signature stripped?"),
        "{:?}",
        r.errors
    );
    let r = run("androguard/multidex.apk", 1, None);
    assert!(!r.verified);
    assert_eq!(r.errors, vec!["No JAR signatures".to_string()]);
}

#[test]
fn flags_aosp_test_key_and_debug_cert() {
    let r = run(
        "appium/appium-uiautomator2-server-debug-androidTest.apk",
        26,
        None,
    );
    assert!(r.verified);
    assert_eq!(r.signers[0].test_key.as_deref(), Some("testkey"));
    assert!(!r.signers[0].debug);
    let r = run("appium/settings_apk-debug.apk", 26, None);
    assert!(r.verified);
    assert!(r.signers[0].debug);
    assert_eq!(r.signers[0].test_key, None);
    let names: Vec<&str> = aosp_test_keys().iter().map(|k| k.name.as_str()).collect();
    assert_eq!(
        names,
        ["testkey", "platform", "shared", "media", "networkstack"]
    );
}

#[test]
fn unsigned_apk_is_not_verified() {
    let r = run("apksig/golden-unaligned-in.apk", 23, None);
    assert!(!r.verified);
    assert_eq!(r.errors, vec!["No JAR signatures".to_string()]);
}

/// Flipping one byte of signed content must break v2/v3 (content digest) and v1 (entry digest).
#[test]
fn tampered_content_fails() {
    let mut data = std::fs::read(format!("{APK}/fdroid/v1.v2.sig_1020.apk")).unwrap();
    data[100] ^= 1;
    let e = common::ZipEntries::new(&data);
    let r = verify(
        &data,
        &e,
        &VerifyOptions {
            min_sdk: 21,
            ..Default::default()
        },
    );
    assert!(!r.verified);
    assert!(
        r.errors
            .iter()
            .any(|x| x.contains("integrity check failed")),
        "{:?}",
        r.errors
    );
}

struct NoEntries;
impl ApkEntries for NoEntries {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
    fn read(&self, _: &str, _: u64) -> Option<Vec<u8>> {
        None
    }
}

/// Builds a minimal ZIP: [prefix][signing block?][CD (empty)][EOCD].
fn synthetic(pairs: &[(u32, Vec<u8>)], size_override: Option<u64>) -> Vec<u8> {
    let mut apk = b"not really a local file".to_vec();
    if !pairs.is_empty() || size_override.is_some() {
        let mut body = Vec::new();
        for (id, v) in pairs {
            body.extend_from_slice(&((v.len() + 4) as u64).to_le_bytes());
            body.extend_from_slice(&id.to_le_bytes());
            body.extend_from_slice(v);
        }
        let size = size_override.unwrap_or((body.len() + 24) as u64);
        apk.extend_from_slice(&size.to_le_bytes());
        apk.extend_from_slice(&body);
        apk.extend_from_slice(&size.to_le_bytes());
        apk.extend_from_slice(b"APK Sig Block 42");
    }
    let cd = apk.len() as u32;
    apk.extend_from_slice(&[0x50, 0x4b, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    apk.extend_from_slice(&cd.to_le_bytes());
    apk.extend_from_slice(&[0, 0]);
    apk
}

#[test]
fn synthetic_signing_block_parses() {
    let apk = synthetic(
        &[(V2_BLOCK_ID, vec![1, 2, 3]), (PADDING_BLOCK_ID, vec![0; 8])],
        None,
    );
    let offs = find_zip_offsets(&apk).unwrap();
    let sb = find_signing_block(&apk, &offs).unwrap().unwrap();
    assert_eq!(sb.offset, 23);
    assert_eq!(
        sb.pairs,
        vec![
            (V2_BLOCK_ID, &[1u8, 2, 3][..]),
            (PADDING_BLOCK_ID, &[0u8; 8][..])
        ]
    );
    // A v2 block with garbage inside is an error in the report, never a panic.
    let r = verify(
        &apk,
        &NoEntries,
        &VerifyOptions {
            min_sdk: 24,
            ..Default::default()
        },
    );
    assert!(!r.verified);
    assert!(r.errors[0].contains("malformed block"), "{:?}", r.errors);
    // No signing block at all: no signature, not verified.
    let apk = synthetic(&[], None);
    assert_eq!(
        find_signing_block(&apk, &find_zip_offsets(&apk).unwrap()).unwrap(),
        None
    );
    assert!(!verify(&apk, &NoEntries, &VerifyOptions::default()).verified);
}

#[test]
fn huge_lengths_are_errors() {
    let apk = synthetic(&[(V3_BLOCK_ID, vec![0; 16])], Some(u64::MAX));
    let offs = find_zip_offsets(&apk).unwrap();
    assert!(find_signing_block(&apk, &offs).is_err());
    let mut apk = synthetic(&[(V3_BLOCK_ID, vec![0; 16])], None);
    // Pair length field claims more than the block holds.
    apk[31..39].copy_from_slice(&u64::MAX.to_le_bytes());
    let offs = find_zip_offsets(&apk).unwrap();
    assert!(find_signing_block(&apk, &offs).is_err());
    // Length-prefixed fields inside a v3 block claiming 4 GiB.
    let limits = Limits::default();
    assert!(parse_v3_block(&[0xff; 64], &limits).is_err());
    let mut nested = 40u32.to_le_bytes().to_vec();
    nested.extend_from_slice(&36u32.to_le_bytes());
    nested.extend_from_slice(&u32::MAX.to_le_bytes());
    nested.extend_from_slice(&[0; 32]);
    assert!(parse_v3_block(&nested, &limits).is_err());
    assert!(parse_v2_block(&nested, &limits).is_err());
}

/// Real signed APKs truncated at many lengths, and with garbage certificates: no panic.
#[test]
fn truncated_and_garbage_never_panic() {
    for rel in [
        "apksig/v1v2v3-with-rsa-2048-lineage-3-signers.apk",
        "apksig/two-signers.apk",
    ] {
        let data = std::fs::read(format!("{APK}/{rel}")).unwrap();
        let offs = find_zip_offsets(&data).unwrap();
        let sb = find_signing_block(&data, &offs).unwrap().unwrap();
        let end = offs.central_directory_offset as usize;
        let start = sb.offset as usize;
        // Truncate the file at every length through the signing block and CD (step keeps it quick).
        let mut n = 0;
        while n <= data.len() {
            let cut = &data[..n];
            let _ = parse_signing_structures(cut);
            let _ = verify(cut, &NoEntries, &VerifyOptions::default());
            n += if (start..end + 64).contains(&n) {
                1
            } else {
                97
            };
        }
        // Corrupt every 7th byte of the v2 and v3 block values in turn (lengths, certificates,
        // signatures, lineage): never a panic, never verified.
        let base = data.as_ptr() as usize;
        let protected: Vec<(usize, usize)> = sb
            .pairs
            .iter()
            .filter(|(id, _)| *id == V2_BLOCK_ID || *id == V3_BLOCK_ID)
            .map(|(_, v)| {
                (
                    v.as_ptr() as usize - base,
                    v.as_ptr() as usize - base + v.len(),
                )
            })
            .collect();
        assert!(!protected.is_empty());
        for (a, b) in protected {
            let mut i = a;
            while i < b {
                let mut bad = data.clone();
                bad[i] ^= 0xa5;
                let e = common::ZipEntries::new(&bad);
                let r = verify(
                    &bad,
                    &e,
                    &VerifyOptions {
                        min_sdk: 24,
                        ..Default::default()
                    },
                );
                assert!(!r.verified, "corrupt byte {i} still verified");
                i += 7;
            }
        }
    }
    for len in 0..300usize {
        let garbage: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        let _ = parse_signing_structures(&garbage);
        let _ = cert_info(&garbage);
        let _ = verify(&garbage, &NoEntries, &VerifyOptions::default());
    }
}

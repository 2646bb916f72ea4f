#![no_main]
use libfuzzer_sys::fuzz_target;
use pc_detect::{Identifier, IdentifierKind, Matcher, ScanOptions};
use std::sync::OnceLock;
// System logs searched line by line: arbitrary bytes, long lines, no newline at the end.
fuzz_target!(|data: &[u8]| {
    static M: OnceLock<Matcher> = OnceLock::new();
    let m = M.get_or_init(|| {
        Matcher::new(&[
            Identifier::text(IdentifierKind::Imei, "imei", "356938035643809"),
            Identifier::text(IdentifierKind::Imsi, "imsi", "208150123456789"),
            Identifier::text(IdentifierKind::Email, "email", "lab.unit7@example.org"),
        ])
    });
    let _ = pc_detect::lines::scan_lines(data, m, &ScanOptions::default(), false, 16);
});

//! Body helpers: bounded decompression, forms, multipart.

use pc_proto::body::{self, decompress, form_fields, multipart_parts};
use std::io::Write;

#[test]
fn decompress_each_coding_and_limits() {
    let text = b"imei=356938035643809&imsi=208150123456789".repeat(50);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    let gz = gz.finish().unwrap();
    assert_eq!(decompress("gzip", &gz, 1 << 20).unwrap(), text);
    assert_eq!(decompress("X-GZIP", &gz, 1 << 20).unwrap(), text);
    // Two gzip members back to back.
    let two = [gz.clone(), gz.clone()].concat();
    assert_eq!(
        decompress("gzip", &two, 1 << 20).unwrap(),
        [text.clone(), text.clone()].concat()
    );
    // Exactly at the limit is fine, one byte less is not.
    assert!(decompress("gzip", &gz, text.len()).is_ok());
    assert!(matches!(
        decompress("gzip", &gz, text.len() - 1),
        Err(pc_proto::ProtoError::TooLarge { .. })
    ));
    let partial = body::decompress_partial("gzip", &gz, 10);
    assert_eq!(partial.data, &text[..10]);
    assert!(partial.truncated);
    // Unknown and corrupt.
    assert!(matches!(
        decompress("compress", &gz, 100),
        Err(pc_proto::ProtoError::Decompress { .. })
    ));
    for enc in ["gzip", "deflate", "br", "zstd"] {
        assert!(
            decompress(enc, b"definitely not compressed data", 1000).is_err(),
            "{enc}"
        );
        for n in 0..gz.len() {
            let _ = decompress(enc, &gz[..n], 1000);
        }
    }
    assert!(
        decompress("identity", b"abc", 2)
            .unwrap_err()
            .to_string()
            .contains("limit")
    );
}

#[test]
fn zstd_huge_window_refused() {
    // A frame declaring a 32 MiB window (no content size): refused rather than allocated.
    let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    e.window_log(25).unwrap();
    e.include_contentsize(false).unwrap();
    e.set_pledged_src_size(None).unwrap();
    e.write_all(&[7u8; 100]).unwrap();
    let frame = e.finish().unwrap();
    assert!(decompress("zstd", &frame, 1 << 20).is_err());
    // The same data with a small window decodes.
    let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    e.window_log(20).unwrap();
    e.include_contentsize(false).unwrap();
    e.write_all(&[7u8; 100]).unwrap();
    assert_eq!(
        decompress("zstd", &e.finish().unwrap(), 1 << 20).unwrap(),
        vec![7u8; 100]
    );
}

#[test]
fn forms() {
    let f = form_fields(b"a=1&b=%2B33+6&&c&=x&d=");
    assert_eq!(
        f,
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"%2B33+6".to_vec()),
            (b"c".to_vec(), b"".to_vec()),
            (b"".to_vec(), b"x".to_vec()),
            (b"d".to_vec(), b"".to_vec()),
        ]
    );
    assert!(form_fields(b"").is_empty());
}

#[test]
fn multipart() {
    let ct = "multipart/form-data; charset=utf-8; boundary=\"----XyZ\"";
    let body = b"preamble\r\n------XyZ\r\nContent-Disposition: form-data; name=\"imei\"\r\n\r\n356938035643809\r\n\
------XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".json\"\r\nContent-Type: application/json\r\n\r\n{\"x\":1}\r\n\
------XyZ--\r\nepilogue";
    let parts = multipart_parts(ct, body);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].name.as_deref(), Some("imei"));
    assert_eq!(parts[0].data, b"356938035643809");
    assert_eq!(parts[1].filename.as_deref(), Some("a \"b\".json"));
    assert_eq!(parts[1].content_type.as_deref(), Some("application/json"));
    assert_eq!(parts[1].data, b"{\"x\":1}");
    // Unterminated: the last part runs to the end.
    let parts = multipart_parts("multipart/mixed; boundary=b", b"--b\nX: y\n\nabc");
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].data, b"abc");
    // No boundary, garbage, truncation at every length.
    assert!(multipart_parts("multipart/form-data", body).is_empty());
    for n in 0..body.len() {
        let _ = multipart_parts(ct, &body[..n]);
    }
    assert_eq!(
        body::header_param("form-data; name=plain; x=\"y\"", "NAME").as_deref(),
        Some("plain")
    );
    assert_eq!(
        body::header_param("form-data; name=\"unterminated", "name").as_deref(),
        Some("unterminated")
    );
}

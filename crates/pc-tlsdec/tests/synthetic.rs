//! Connections built in the test (handshakes plus records encrypted here), for what the real
//! captures do not show: resumption, HelloRetryRequest, KeyUpdate, encrypt-then-MAC, gaps,
//! unsupported suites, corrupt and truncated records, garbage key logs.

use std::sync::Arc;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use hmac::Mac;
use pc_tlsdec::crypto::{PrfHash, hkdf_expand_label, key_expansion, prf};
use pc_tlsdec::keylog::{KeyLog, Limits as KeyLogLimits};
use pc_tlsdec::{Outcome, Plain, ResumptionCache, Session};

const CH: u8 = 1;
const SH: u8 = 2;

fn msg(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn exts(list: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut e = Vec::new();
    for (t, d) in list {
        e.extend_from_slice(&t.to_be_bytes());
        e.extend_from_slice(&(d.len() as u16).to_be_bytes());
        e.extend_from_slice(d);
    }
    let mut out = (e.len() as u16).to_be_bytes().to_vec();
    out.extend(e);
    out
}

fn client_hello(random: [u8; 32], sid: &[u8], ext: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&random);
    b.push(sid.len() as u8);
    b.extend_from_slice(sid);
    b.extend_from_slice(&[0, 4, 0xc0, 0x2f, 0x13, 0x01, 1, 0]);
    b.extend(exts(ext));
    msg(CH, &b)
}

fn server_hello(random: [u8; 32], sid: &[u8], suite: u16, ext: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&random);
    b.push(sid.len() as u8);
    b.extend_from_slice(sid);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    b.extend(exts(ext));
    msg(SH, &b)
}

fn alpn_ext(p: &str) -> (u16, Vec<u8>) {
    let mut d = ((p.len() + 1) as u16).to_be_bytes().to_vec();
    d.push(p.len() as u8);
    d.extend_from_slice(p.as_bytes());
    (16, d)
}

/// Sender-side TLS ≤ 1.2 record protection.
enum Enc12 {
    Gcm {
        key: Vec<u8>,
        iv: Vec<u8>,
    },
    Cbc {
        key: [u8; 16],
        mac: Vec<u8>,
        etm: bool,
    },
}

struct Writer {
    enc: Enc12,
    seq: u64,
}

impl Writer {
    fn seal(&mut self, ty: u8, pt: &[u8]) -> Vec<u8> {
        let seq = self.seq.to_be_bytes();
        self.seq += 1;
        match &self.enc {
            Enc12::Gcm { key, iv } => {
                let explicit = seq;
                let mut nonce = iv.clone();
                nonce.extend_from_slice(&explicit);
                let mut aad = seq.to_vec();
                aad.extend_from_slice(&[ty, 3, 3]);
                aad.extend_from_slice(&(pt.len() as u16).to_be_bytes());
                let mut buf = pt.to_vec();
                let tag = aes_gcm::Aes128Gcm::new_from_slice(key)
                    .unwrap()
                    .encrypt_in_place_detached(aes_gcm::Nonce::from_slice(&nonce), &aad, &mut buf)
                    .unwrap();
                let mut out = explicit.to_vec();
                out.extend(buf);
                out.extend_from_slice(&tag);
                out
            }
            Enc12::Cbc { key, mac, etm } => {
                let iv = [0x5a ^ seq[7]; 16];
                let mut hdr = seq.to_vec();
                hdr.extend_from_slice(&[ty, 3, 3]);
                let hmac = |data: &[&[u8]]| {
                    let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(mac).unwrap();
                    for d in data {
                        m.update(d);
                    }
                    m.finalize().into_bytes().to_vec()
                };
                let mut body = pt.to_vec();
                if !etm {
                    let mut h = hdr.clone();
                    h.extend_from_slice(&(pt.len() as u16).to_be_bytes());
                    body.extend(hmac(&[&h, pt]));
                }
                let pad = 15 - body.len() % 16;
                body.extend(std::iter::repeat_n(pad as u8, pad + 1));
                let n = body.len();
                cbc::Encryptor::<aes::Aes128>::new(key.into(), &iv.into())
                    .encrypt_padded_mut::<NoPadding>(&mut body, n)
                    .unwrap();
                let mut out = iv.to_vec();
                out.extend(body);
                if *etm {
                    let mut h = hdr.clone();
                    h.extend_from_slice(&(out.len() as u16).to_be_bytes());
                    let m = hmac(&[&h, &out]);
                    out.extend(m);
                }
                out
            }
        }
    }
}

/// Client and server writers for a TLS 1.2 connection.
fn writers12(
    suite: u16,
    master: &[u8; 48],
    cr: &[u8; 32],
    sr: &[u8; 32],
    etm: bool,
) -> [Writer; 2] {
    let (mac, key, iv) = if matches!(suite, 0xc02f | 0x009c) {
        (0, 16, 4)
    } else {
        (32, 16, 16)
    };
    let mut kb = vec![0u8; 2 * (mac + key + iv)];
    key_expansion(true, PrfHash::Sha256, master, cr, sr, &mut kb);
    let part = |i: usize| {
        let (cm, rest) = kb.split_at(mac);
        let (sm, rest) = rest.split_at(mac);
        let (ck, rest) = rest.split_at(key);
        let (sk, rest) = rest.split_at(key);
        let (ci, si) = rest.split_at(iv);
        if i == 0 {
            (cm.to_vec(), ck.to_vec(), ci.to_vec())
        } else {
            (sm.to_vec(), sk.to_vec(), si.to_vec())
        }
    };
    [0, 1].map(|i| {
        let (m, k, v) = part(i);
        Writer {
            enc: if matches!(suite, 0xc02f | 0x009c) {
                Enc12::Gcm { key: k, iv: v }
            } else {
                Enc12::Cbc {
                    key: k.try_into().unwrap(),
                    mac: m,
                    etm,
                }
            },
            seq: 0,
        }
    })
}

fn hexs(b: &[u8]) -> String {
    hex::encode(b)
}

/// A whole TLS 1.2 connection: (to_server, type, payload) records.
struct Conn12 {
    records: Vec<(bool, u8, Vec<u8>)>,
}

/// What varies between the TLS 1.2 connections of these tests, besides suite, secret and
/// randoms.
#[derive(Default)]
struct Spec12<'a> {
    ch_sid: &'a [u8],
    sh_sid: &'a [u8],
    ch_ext: &'a [(u16, Vec<u8>)],
    sh_ext: &'a [(u16, Vec<u8>)],
    /// A NewSessionTicket the server sends.
    ticket_out: Option<&'a [u8]>,
    etm: bool,
}

fn conn12(suite: u16, master: &[u8; 48], cr: [u8; 32], sr: [u8; 32], spec: Spec12<'_>) -> Conn12 {
    let Spec12 {
        ch_sid,
        sh_sid,
        ch_ext,
        sh_ext,
        ticket_out,
        etm,
    } = spec;
    let mut w = writers12(suite, master, &cr, &sr, etm);
    let mut r = vec![(true, 22, client_hello(cr, ch_sid, ch_ext))];
    r.push((false, 22, server_hello(sr, sh_sid, suite, sh_ext)));
    if let Some(t) = ticket_out {
        let mut b = vec![0, 0, 1, 0];
        b.extend_from_slice(&(t.len() as u16).to_be_bytes());
        b.extend_from_slice(t);
        r.push((false, 22, msg(4, &b)));
    }
    r.push((true, 20, vec![1]));
    r.push((true, 22, w[0].seal(22, &msg(20, &[7; 12]))));
    r.push((false, 20, vec![1]));
    r.push((false, 22, w[1].seal(22, &msg(20, &[8; 12]))));
    r.push((
        true,
        23,
        w[0].seal(23, b"GET /imei?v=356938035643809 HTTP/1.1\r\n\r\n"),
    ));
    r.push((false, 23, w[1].seal(23, b"HTTP/1.1 200 OK\r\n\r\n")));
    r.push((true, 23, w[0].seal(23, b"second request")));
    Conn12 { records: r }
}

fn feed(s: &mut Session, recs: &[(bool, u8, Vec<u8>)]) -> Vec<Plain> {
    let mut out = Vec::new();
    for (to_server, ty, p) in recs {
        s.record(*to_server, *ty, 0x0303, p, &mut out);
    }
    out
}

fn text(out: &[Plain], to_server: bool) -> Vec<u8> {
    out.iter()
        .filter(|p| p.to_server == to_server)
        .flat_map(|p| p.data.clone())
        .collect()
}

const MASTER: [u8; 48] = [0x42; 48];

fn keylog_for(cr: &[u8; 32]) -> Arc<KeyLog> {
    Arc::new(KeyLog::parse(
        format!("CLIENT_RANDOM {} {}\n", hexs(cr), hexs(&MASTER)).as_bytes(),
    ))
}

#[test]
fn tls12_gcm_and_cbc_sha256_with_and_without_encrypt_then_mac() {
    for (suite, etm) in [
        (0xc02f, false),
        (0x003c, false),
        (0x003c, true),
        (0xc027, true),
    ] {
        let cr = [1; 32];
        let ext = if etm { vec![(22, vec![])] } else { vec![] };
        let c = conn12(
            suite,
            &MASTER,
            cr,
            [2; 32],
            Spec12 {
                sh_sid: &[9; 32],
                ch_ext: &ext,
                sh_ext: &ext,
                etm,
                ..Spec12::default()
            },
        );
        let mut s = Session::new(keylog_for(&cr));
        let out = feed(&mut s, &c.records);
        assert_eq!(s.outcome(), Outcome::Decrypted, "{suite:04x} etm={etm}");
        assert_eq!(
            text(&out, true),
            b"GET /imei?v=356938035643809 HTTP/1.1\r\n\r\nsecond request"
        );
        assert_eq!(text(&out, false), b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(s.stats().finished_decrypted, 2);
        assert_eq!(s.encrypted_bytes(), s.decrypted_bytes());
    }
}

#[test]
fn tls12_resumption_by_session_id_and_ticket() {
    let cache = ResumptionCache::shared();
    let cr_a = [0xa1; 32];
    let keys = keylog_for(&cr_a);
    // Full handshake: session id S, and a ticket T.
    let sid = [0x55; 32];
    let ticket = b"opaque-ticket-bytes".to_vec();
    let a = conn12(
        0xc02f,
        &MASTER,
        cr_a,
        [0xa2; 32],
        Spec12 {
            sh_sid: &sid,
            ch_ext: &[(35, vec![])],
            sh_ext: &[(35, vec![])],
            ticket_out: Some(&ticket),
            ..Spec12::default()
        },
    );
    let mut s = Session::new_with(keys.clone(), cache.clone());
    feed(&mut s, &a.records);
    assert_eq!(s.outcome(), Outcome::Decrypted);
    assert_eq!(cache.lock().unwrap().len(), 2);

    // Resumed by session id: the key log has nothing for this client random.
    let b = conn12(
        0xc02f,
        &MASTER,
        [0xb1; 32],
        [0xb2; 32],
        Spec12 {
            ch_sid: &sid,
            sh_sid: &sid,
            ..Spec12::default()
        },
    );
    let mut s = Session::new_with(keys.clone(), cache.clone());
    let out = feed(&mut s, &b.records);
    assert_eq!(s.outcome(), Outcome::Decrypted);
    assert!(text(&out, true).starts_with(b"GET /imei"));
    // Without the shared cache there is no key.
    let mut s = Session::new(keys.clone());
    feed(&mut s, &b.records);
    assert_eq!(s.outcome(), Outcome::NoKey);

    // Resumed by ticket (the client sends a fresh session id, the server echoes it).
    let fresh = [0x77; 32];
    let c = conn12(
        0xc02f,
        &MASTER,
        [0xc1; 32],
        [0xc2; 32],
        Spec12 {
            ch_sid: &fresh,
            sh_sid: &fresh,
            ch_ext: &[(35, ticket.clone())],
            ..Spec12::default()
        },
    );
    let mut s = Session::new_with(keys.clone(), cache.clone());
    let out = feed(&mut s, &c.records);
    assert_eq!(s.outcome(), Outcome::Decrypted);
    assert!(text(&out, true).starts_with(b"GET /imei"));
    // An unknown ticket: no key.
    let d = conn12(
        0xc02f,
        &MASTER,
        [0xd1; 32],
        [0xd2; 32],
        Spec12 {
            ch_sid: &[3; 32],
            sh_sid: &[3; 32],
            ch_ext: &[(35, b"other".to_vec())],
            ..Spec12::default()
        },
    );
    let mut s = Session::new_with(keys, cache);
    feed(&mut s, &d.records);
    assert_eq!(s.outcome(), Outcome::NoKey);
}

#[test]
fn resumption_cache_is_bounded() {
    let mut c = ResumptionCache::new(3);
    for i in 0..10u8 {
        c.insert_session_id(&[i; 8], [i; 48]);
        c.insert_ticket(&[i; 100], [i; 48]);
    }
    assert_eq!(c.len(), 3);
    assert_eq!(c.by_ticket(&[9; 100]), Some([9; 48]));
    assert_eq!(c.by_session_id(&[0; 8]), None);
    c.insert_session_id(&[], [0; 48]);
    c.insert_session_id(&[1; 33], [0; 48]);
    assert_eq!(c.len(), 3);
}

#[test]
fn gap_then_resync_on_sequence_number() {
    let cr = [1; 32];
    let c = conn12(0xc02f, &MASTER, cr, [2; 32], Spec12::default());
    let mut s = Session::new(keylog_for(&cr));
    let mut out = Vec::new();
    // Drop the first client application record (lost in a gap).
    for (i, (to_server, ty, p)) in c.records.iter().enumerate() {
        if i == 6 {
            s.gap(true);
            continue;
        }
        s.record(*to_server, *ty, 0x0303, p, &mut out);
    }
    assert_eq!(text(&out, true), b"second request");
    assert_eq!(s.stats().records_failed, [0, 0]);
}

#[test]
fn corrupt_record_is_reported_and_later_records_still_decrypt() {
    let cr = [1; 32];
    let mut c = conn12(0xc02f, &MASTER, cr, [2; 32], Spec12::default());
    // Record 6 is the client's first application data record.
    let last = c.records[6].2.len() - 1;
    c.records[6].2[last] ^= 1;
    let mut s = Session::new(keylog_for(&cr));
    let out = feed(&mut s, &c.records);
    assert_eq!(s.outcome(), Outcome::Decrypted);
    assert_eq!(s.stats().records_failed, [1, 0]);
    assert_eq!(text(&out, true), b"second request");
    assert!(s.decrypted_bytes()[0] < s.encrypted_bytes()[0]);
}

#[test]
fn truncated_records_and_hellos_do_not_panic() {
    let cr = [1; 32];
    let c = conn12(0x003c, &MASTER, cr, [2; 32], Spec12::default());
    for (i, (to_server, ty, p)) in c.records.iter().enumerate() {
        for cut in 0..p.len() {
            let mut s = Session::new(keylog_for(&cr));
            let mut out = Vec::new();
            for (to_s, t, q) in &c.records[..i] {
                s.record(*to_s, *t, 0x0303, q, &mut out);
            }
            let before = out.len();
            s.record(*to_server, *ty, 0x0303, &p[..cut], &mut out);
            let _ = s.outcome();
            assert_eq!(out.len(), before, "a truncated record gave no plaintext");
        }
    }
}

#[test]
fn unsupported_suites() {
    for (suite, ext) in [
        (0x000a, vec![]),
        (0x1304, vec![(43, vec![3, 4])]),
        (0xc02f, vec![(43, vec![3, 4])]),
    ] {
        let cr = [1; 32];
        let mut s = Session::new(keylog_for(&cr));
        let recs = vec![
            (true, 22, client_hello(cr, &[], &[])),
            (false, 22, server_hello([2; 32], &[], suite, &ext)),
            (true, 20, vec![1]),
            (true, 22, vec![0; 40]),
        ];
        feed(&mut s, &recs);
        assert_eq!(s.outcome(), Outcome::UnsupportedSuite(suite));
    }
}

#[test]
fn outcome_before_handshake() {
    let mut s = Session::new(Arc::new(KeyLog::default()));
    assert_eq!(s.outcome(), Outcome::Failed("no ClientHello seen"));
    feed(&mut s, &[(true, 23, vec![0; 100])]);
    assert_eq!(s.outcome(), Outcome::Failed("no ClientHello seen"));
    feed(&mut s, &[(true, 22, client_hello([1; 32], &[], &[]))]);
    assert_eq!(s.outcome(), Outcome::Failed("no ServerHello seen"));
}

/// TLS 1.3 sender.
struct Writer13 {
    key: Vec<u8>,
    iv: Vec<u8>,
    seq: u64,
}

impl Writer13 {
    fn new(secret: &[u8]) -> Self {
        let mut key = vec![0; 32];
        let mut iv = vec![0; 12];
        hkdf_expand_label(PrfHash::Sha256, secret, b"key", &mut key).unwrap();
        hkdf_expand_label(PrfHash::Sha256, secret, b"iv", &mut iv).unwrap();
        Writer13 { key, iv, seq: 0 }
    }
    fn seal(&mut self, ty: u8, pt: &[u8]) -> Vec<u8> {
        let mut nonce = self.iv.clone();
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        let mut buf = pt.to_vec();
        buf.push(ty);
        buf.extend_from_slice(&[0, 0, 0]); // padding
        let len = (buf.len() + 16) as u16;
        let aad = [23, 3, 3, (len >> 8) as u8, len as u8];
        let tag = chacha20poly1305::ChaCha20Poly1305::new_from_slice(&self.key)
            .unwrap()
            .encrypt_in_place_detached(chacha20poly1305::Nonce::from_slice(&nonce), &aad, &mut buf)
            .unwrap();
        buf.extend_from_slice(&tag);
        buf
    }
}

#[test]
fn tls13_hello_retry_alpn_and_key_update() {
    let cr = [0x31; 32];
    let sec = |b: u8| vec![b; 32];
    let log = format!(
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n\
         CLIENT_TRAFFIC_SECRET_0 {r} {}\nSERVER_TRAFFIC_SECRET_0 {r} {}\n",
        hexs(&sec(1)),
        hexs(&sec(2)),
        hexs(&sec(3)),
        hexs(&sec(4)),
        r = hexs(&cr)
    );
    let keys = Arc::new(KeyLog::parse(log.as_bytes()));
    let hrr_random: [u8; 32] =
        hex::decode("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
            .unwrap()
            .try_into()
            .unwrap();
    let v13 = (43, vec![3, 4]);
    let (mut ch, mut sh) = (Writer13::new(&sec(1)), Writer13::new(&sec(2)));
    let (mut ca, mut sa) = (Writer13::new(&sec(3)), Writer13::new(&sec(4)));
    let mut next = vec![0; 32];
    hkdf_expand_label(PrfHash::Sha256, &sec(3), b"traffic upd", &mut next).unwrap();
    let mut cu = Writer13::new(&next);
    let ee = msg(8, &exts(&[alpn_ext("h2")]));
    let recs = vec![
        (true, 22, client_hello(cr, &[], &[(42, vec![])])),
        (
            false,
            22,
            server_hello(hrr_random, &[], 0x1303, std::slice::from_ref(&v13)),
        ),
        (true, 20, vec![1]),
        (true, 22, client_hello(cr, &[], &[])),
        (false, 22, server_hello([0x32; 32], &[], 0x1303, &[v13])),
        (false, 20, vec![1]),
        (false, 23, sh.seal(22, &[ee, msg(20, &[0; 32])].concat())),
        (true, 23, ch.seal(22, &msg(20, &[0; 32]))),
        (true, 23, ca.seal(23, b"before update")),
        (true, 23, ca.seal(22, &msg(24, &[0]))),
        (true, 23, cu.seal(23, b" after update")),
        (false, 23, sa.seal(23, b"ok")),
        (false, 23, sa.seal(21, &[1, 0])),
    ];
    let mut s = Session::new(keys);
    let out = feed(&mut s, &recs);
    assert_eq!(s.outcome(), Outcome::Decrypted);
    assert_eq!(s.alpn(), Some("h2"));
    assert_eq!(s.version(), 0x0304);
    assert_eq!(text(&out, true), b"before update after update");
    assert_eq!(text(&out, false), b"ok");
    assert_eq!(s.stats().key_updates, 1);
    assert_eq!(s.stats().records_failed, [0, 0]);
    assert_eq!(s.early_data_accepted(), Some(false));
}

#[test]
fn fragments_are_reassembled() {
    let cr = [1; 32];
    let c = conn12(0xc02f, &MASTER, cr, [2; 32], Spec12::default());
    let mut stream = Vec::new();
    // Each direction as a byte stream, pushed 3 bytes at a time through RecordStream.
    let mut s = Session::new(keylog_for(&cr));
    let mut out = Vec::new();
    let mut rs = [
        pc_proto::tls::RecordStream::new(),
        pc_proto::tls::RecordStream::new(),
    ];
    for (to_server, ty, p) in &c.records {
        stream.clear();
        stream.push(*ty);
        stream.extend_from_slice(&[3, 3]);
        stream.extend_from_slice(&(p.len() as u16).to_be_bytes());
        stream.extend_from_slice(p);
        let d = usize::from(!to_server);
        for b in stream.chunks(3) {
            let mut ev = Vec::new();
            rs[d]
                .push_with(b, &mut ev, |f| s.fragment(*to_server, f, &mut out))
                .unwrap();
        }
    }
    assert_eq!(s.outcome(), Outcome::Decrypted);
    assert!(text(&out, true).starts_with(b"GET /imei"));
}

#[test]
fn garbage_records_do_not_panic() {
    let cr = [1; 32];
    let c = conn12(0xc02f, &MASTER, cr, [2; 32], Spec12::default());
    let mut x: u32 = 12345;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for round in 0..200 {
        let mut s = Session::new(keylog_for(&cr));
        let mut out = Vec::new();
        let keep = round % c.records.len();
        for (to_s, t, p) in &c.records[..keep] {
            s.record(*to_s, *t, 0x0303, p, &mut out);
        }
        for _ in 0..20 {
            let len = (rnd() % 300) as usize;
            let mut p: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            if len > 4 && rnd() % 2 == 0 {
                // Plausible handshake header with a huge length.
                p[0] = (rnd() % 25) as u8;
                p[1] = 0xff;
            }
            let ty = 20 + (rnd() % 5) as u8;
            s.record(rnd() % 2 == 0, ty, 0x0303, &p, &mut out);
        }
        // Oversized record.
        s.record(true, 23, 0x0303, &vec![0; 40_000], &mut out);
        let _ = s.outcome();
    }
}

#[test]
fn keylog_garbage_is_counted_and_bounded() {
    let r = "00".repeat(32);
    let m = "11".repeat(48);
    let t = "22".repeat(32);
    let mut text = format!(
        "# comment\n\n   \nCLIENT_RANDOM {r} {m}\r\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {t}\n\
         CLIENT_RANDOM {r} zz\nCLIENT_RANDOM {r}\nCLIENT_RANDOM short {m}\nUNKNOWN_LABEL {r} {t}\n\
         CLIENT_RANDOM {r} {t}\nSERVER_TRAFFIC_SECRET_0 {r} 1234\nRSA Session-ID:zz Master-Key:{m}\n\
         RSA 0102030405060708 {m}\nRSA 0102 {m}\n"
    )
    .into_bytes();
    text.extend_from_slice(&[0xff, 0xfe, b'\n']);
    text.extend(std::iter::repeat_n(b'A', 5000));
    text.push(b'\n');
    let k = KeyLog::parse(&text);
    let st = k.stats();
    assert_eq!(st.comment_lines, 1);
    assert_eq!(st.blank_lines, 3); // empty, spaces, and the final empty line
    assert_eq!(st.secret_lines, 3);
    assert_eq!(st.ignored_lines, 10);
    let s = k.lookup(&[0; 32]).unwrap();
    assert_eq!(s.master_secret, Some([0x11; 48]));
    assert_eq!(s.client_handshake.as_deref(), Some(&[0x22; 32][..]));
    assert_eq!(
        k.rsa_premaster(&[1, 2, 3, 4, 5, 6, 7, 8]).map(<[u8]>::len),
        Some(48)
    );
    assert_eq!(k.len(), 2);

    // Pure binary garbage.
    let mut x: u64 = 7;
    let junk: Vec<u8> = (0..100_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            (x >> 33) as u8
        })
        .collect();
    let k = KeyLog::parse(&junk);
    assert!(k.is_empty());

    // Limits: lines, bytes and entries.
    let many: String = (0..100u32)
        .map(|i| format!("CLIENT_RANDOM {:064x} {m}\n", i))
        .collect();
    let lim = KeyLogLimits {
        max_lines: 10,
        ..KeyLogLimits::default()
    };
    let k = KeyLog::parse_with(many.as_bytes(), lim);
    assert_eq!(k.len(), 10);
    assert!(k.stats().truncated);
    let lim = KeyLogLimits {
        max_entries: 5,
        ..KeyLogLimits::default()
    };
    let k = KeyLog::parse_with(many.as_bytes(), lim);
    assert_eq!(k.len(), 5);
    assert_eq!(k.stats().dropped_entries, 95);
    let lim = KeyLogLimits {
        max_bytes: 300,
        ..KeyLogLimits::default()
    };
    let k = KeyLog::parse_with(many.as_bytes(), lim);
    assert!(k.stats().truncated);
    assert!(k.len() <= 2);

    // merge: other's entries win, counters add up.
    let mut a = KeyLog::parse(format!("CLIENT_RANDOM {r} {m}\n").as_bytes());
    let b = KeyLog::parse(format!("CLIENT_RANDOM {r} {}\n", "33".repeat(48)).as_bytes());
    a.merge(b);
    assert_eq!(a.lookup(&[0; 32]).unwrap().master_secret, Some([0x33; 48]));
    assert_eq!(a.stats().secret_lines, 2);
}

#[test]
fn truncated_keylog_lines_never_panic() {
    let text = std::fs::read(format!(
        "{}/../../tests/data/pcap/wireshark/tls13-rfc8446.keys",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for cut in 0..text.len().min(600) {
        let _ = KeyLog::parse(&text[..cut]);
    }
}

#[test]
fn fuzz_entry_point_smoke() {
    let mut x: u32 = 99;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    // Random inputs, and a real handshake for the fuzz key log's client random.
    let c = conn12(0xc02f, &[0x01; 48], [0; 32], [2; 32], Spec12::default());
    let mut framed = Vec::new();
    for (to_server, ty, p) in &c.records {
        framed.push(if *to_server { 0x80 } else { 0 } | (ty - 20));
        framed.extend_from_slice(&(p.len() as u16).to_be_bytes());
        framed.extend_from_slice(p);
    }
    assert_eq!(pc_tlsdec::fuzz_records(&framed), Outcome::Decrypted);
    for cut in 0..framed.len() {
        let _ = pc_tlsdec::fuzz_records(&framed[..cut]);
    }
    for _ in 0..300 {
        let len = (rnd() % 2000) as usize;
        let d: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        let _ = pc_tlsdec::fuzz_records(&d);
    }
}

#[test]
fn rsa_premaster_secret_with_and_without_extended_master_secret() {
    use sha2::Digest;
    let (cr, sr) = ([0x11; 32], [0x22; 32]);
    let pms = [0x03; 48];
    let enc_pms: Vec<u8> = (0..=255u8).collect();
    let log = format!("RSA {} {}\n", hexs(&enc_pms[..8]), hexs(&pms));
    let keys = Arc::new(KeyLog::parse(log.as_bytes()));
    for ems in [false, true] {
        let ext = if ems { vec![(23, vec![])] } else { vec![] };
        let chm = client_hello(cr, &[], &ext);
        let shm = server_hello(sr, &[], 0x009c, &ext);
        let mut cke_body = (enc_pms.len() as u16).to_be_bytes().to_vec();
        cke_body.extend_from_slice(&enc_pms);
        let cke = msg(16, &cke_body);
        let mut master = [0u8; 48];
        if ems {
            let hash = sha2::Sha256::digest([&chm[..], &shm, &cke].concat());
            prf(
                true,
                PrfHash::Sha256,
                &pms,
                b"extended master secret",
                &[&hash],
                &mut master,
            );
        } else {
            prf(
                true,
                PrfHash::Sha256,
                &pms,
                b"master secret",
                &[&cr, &sr],
                &mut master,
            );
        }
        let mut w = writers12(0x009c, &master, &cr, &sr, false);
        let recs = vec![
            (true, 22, chm),
            (false, 22, shm),
            (true, 22, cke),
            (true, 20, vec![1]),
            (true, 22, w[0].seal(22, &msg(20, &[7; 12]))),
            (false, 20, vec![1]),
            (false, 22, w[1].seal(22, &msg(20, &[8; 12]))),
            (true, 23, w[0].seal(23, b"imsi=310150123456789")),
        ];
        let mut s = Session::new(keys.clone());
        let out = feed(&mut s, &recs);
        assert_eq!(s.outcome(), Outcome::Decrypted, "ems={ems}");
        assert_eq!(text(&out, true), b"imsi=310150123456789");
    }
}

/// Wireshark's quic_follow_multistream secrets block ends every line with a backslash.
#[test]
fn keylog_lines_with_a_trailing_backslash_are_read() {
    let r = "ab".repeat(32);
    let s = "cd".repeat(32);
    let text = format!("CLIENT_TRAFFIC_SECRET_0 {r} {s}\\\nSERVER_TRAFFIC_SECRET_0 {r} {s} \\\r\n");
    let log = KeyLog::parse(text.as_bytes());
    assert_eq!(log.stats().secret_lines, 2, "{:?}", log.stats());
    let random: [u8; 32] = [0xab; 32];
    let sec = log.lookup(&random).expect("secrets");
    assert_eq!(sec.client_traffic_0.as_deref(), Some(&[0xcd; 32][..]));
    assert_eq!(sec.server_traffic_0.as_deref(), Some(&[0xcd; 32][..]));
}

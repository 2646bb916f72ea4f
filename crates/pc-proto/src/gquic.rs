//! Google QUIC (Q0xx versions before Q050): the client's CHLO handshake message travels in
//! clear, so its SNI and user-agent tags can be read without keys. Older Android apps and
//! Chrome builds still speak it (tshark's "gquic").

use memchr::memmem;

/// Facts from a gQUIC client hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Version tag, e.g. `Q035`.
    pub version: String,
    pub sni: Option<String>,
    /// The `UAID` tag: the client's user agent.
    pub user_agent: Option<String>,
}

/// CHLO messages carry at most this many tags; real ones have about 20.
const MAX_TAGS: usize = 128;
/// Only the first bytes of a datagram are searched for the CHLO.
const MAX_SEARCH: usize = 1500;

/// The version tag of a gQUIC client packet (`Q0xx`), from either header form: the old public
/// header (flags with the version bit, optional 8-byte connection id, then the version) or the
/// Q046 long header (IETF invariants with a `Q0` version).
pub fn version(datagram: &[u8]) -> Option<&str> {
    let flags = *datagram.first()?;
    let at = if flags & 0x80 != 0 {
        1
    } else if flags & 0x01 != 0 {
        if flags & 0x08 != 0 { 9 } else { 1 }
    } else {
        return None;
    };
    let v = datagram.get(at..at + 4)?;
    (v[0] == b'Q' && v[1..].iter().all(u8::is_ascii_digit)).then(|| std::str::from_utf8(v).ok())?
}

/// Parse the CHLO of a client datagram, if it has one in clear.
pub fn parse_client_hello(datagram: &[u8]) -> Option<ClientHello> {
    let version = version(datagram)?.to_string();
    let window = &datagram[..datagram.len().min(MAX_SEARCH)];
    let start = memmem::find(window, b"CHLO")?;
    let msg = &datagram[start..];
    let n = usize::from(u16::from_le_bytes(msg.get(4..6)?.try_into().ok()?));
    if n == 0 || n > MAX_TAGS {
        return None;
    }
    let index = msg.get(8..8 + n * 8)?;
    let values = &msg[8 + n * 8..];
    let mut prev = 0usize;
    let mut hello = ClientHello {
        version,
        sni: None,
        user_agent: None,
    };
    for entry in index.chunks_exact(8) {
        let tag = &entry[..4];
        let end = u32::from_le_bytes(entry[4..8].try_into().ok()?) as usize;
        // End offsets must increase and stay inside the message; a datagram cut short keeps
        // the tags read so far.
        if end < prev {
            return None;
        }
        let Some(value) = values.get(prev..end) else {
            break;
        };
        let text = || std::str::from_utf8(value).ok().map(str::to_string);
        match tag {
            b"SNI\0" => hello.sni = text(),
            b"UAID" => hello.user_agent = text(),
            _ => {}
        }
        prev = end;
    }
    Some(hello)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chlo(tags: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut d = vec![0x09];
        d.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        d.extend_from_slice(b"Q035");
        d.push(1); // packet number
        d.extend_from_slice(&[0u8; 12]); // message authentication hash
        d.extend_from_slice(&[0xa0, 0x01, 0x01]); // stream frame header (approximate)
        d.extend_from_slice(b"CHLO");
        d.extend_from_slice(&(tags.len() as u16).to_le_bytes());
        d.extend_from_slice(&[0, 0]);
        let mut end = 0u32;
        for (t, v) in tags {
            end += v.len() as u32;
            d.extend_from_slice(*t);
            d.extend_from_slice(&end.to_le_bytes());
        }
        for (_, v) in tags {
            d.extend_from_slice(v);
        }
        d
    }

    #[test]
    fn reads_sni_and_user_agent() {
        let d = chlo(&[
            (b"PAD\0", &[0; 10]),
            (b"SNI\0", b"yt3.ggpht.com"),
            (b"UAID", b"Chrome/61"),
        ]);
        let h = parse_client_hello(&d).unwrap();
        assert_eq!(h.version, "Q035");
        assert_eq!(h.sni.as_deref(), Some("yt3.ggpht.com"));
        assert_eq!(h.user_agent.as_deref(), Some("Chrome/61"));
    }

    #[test]
    fn rejects_non_gquic_and_survives_truncation() {
        assert!(version(&[0x40, 0, 0, 0, 1]).is_none());
        assert!(
            parse_client_hello(b"\x09\x01\x02\x03\x04\x05\x06\x07\x08Q035 no hello here").is_none()
        );
        let d = chlo(&[(b"SNI\0", b"example.org"), (b"UAID", b"x")]);
        for cut in 0..d.len() {
            let _ = parse_client_hello(&d[..cut]);
        }
        // Decreasing end offsets are refused.
        let mut bad = d.clone();
        let at = memmem::find(&bad, b"UAID").unwrap() + 4;
        bad[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
        assert!(parse_client_hello(&bad).is_none());
    }
}

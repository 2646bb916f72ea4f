//! A minimal pcap writer for TCP conversations made inside tests (Ethernet, IPv4, TCP; checksums
//! left zero, which capture readers accept as "not computed"). Shared by the pc-traffic and
//! phonecert tests (`#[path]`), so that each hostile capture is built where it is asserted on.

#![allow(dead_code)]

pub const CLIENT: [u8; 4] = [10, 0, 0, 2];
pub const SERVER: [u8; 4] = [203, 0, 113, 9];

/// TCP flags.
pub const SYN: u8 = 0x02;
pub const SYN_ACK: u8 = 0x12;
pub const ACK: u8 = 0x10;
pub const PSH_ACK: u8 = 0x18;
pub const FIN_ACK: u8 = 0x11;

/// Largest payload per segment: a large body goes out as many segments, as on a real link.
const MSS: usize = 60_000;

pub struct Pcap {
    pub out: Vec<u8>,
    t: u32,
}

/// One TCP connection: its client port and both sequence numbers.
pub struct Conn {
    pub sport: u16,
    pub dport: u16,
    seq: [u32; 2],
}

impl Default for Pcap {
    fn default() -> Self {
        Self::new()
    }
}

impl Pcap {
    pub fn new() -> Self {
        let mut out = Vec::new();
        out.extend(0xa1b2c3d4u32.to_le_bytes());
        out.extend(2u16.to_le_bytes());
        out.extend(4u16.to_le_bytes());
        out.extend([0u8; 8]);
        out.extend(262_144u32.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        Pcap { out, t: 0 }
    }

    /// Opens a connection from client port `sport` to the server's `dport` (three-way handshake).
    pub fn connect(&mut self, sport: u16, dport: u16) -> Conn {
        let mut c = Conn {
            sport,
            dport,
            seq: [1000, 5000],
        };
        self.segment(&mut c, true, SYN, b"");
        self.segment(&mut c, false, SYN_ACK, b"");
        self.segment(&mut c, true, ACK, b"");
        c
    }

    /// Sends `data` one way, split into segments of at most MSS bytes.
    pub fn send(&mut self, c: &mut Conn, from_client: bool, data: &[u8]) {
        for chunk in data.chunks(MSS) {
            self.segment(c, from_client, PSH_ACK, chunk);
        }
    }

    /// Closes the connection from both sides.
    pub fn close(&mut self, c: &mut Conn) {
        self.segment(c, true, FIN_ACK, b"");
        self.segment(c, false, FIN_ACK, b"");
        self.segment(c, true, ACK, b"");
    }

    /// Skips `n` bytes of the client's sequence space: the capture lost them.
    pub fn lose(&mut self, c: &mut Conn, n: u32) {
        c.seq[0] = c.seq[0].wrapping_add(n);
    }

    pub fn segment(&mut self, c: &mut Conn, from_client: bool, flags: u8, payload: &[u8]) {
        let (src, dst, sport, dport) = if from_client {
            (CLIENT, SERVER, c.sport, c.dport)
        } else {
            (SERVER, CLIENT, c.dport, c.sport)
        };
        let d = usize::from(!from_client);
        let ack = c.seq[1 - d];
        let mut tcp = Vec::with_capacity(20 + payload.len());
        tcp.extend(sport.to_be_bytes());
        tcp.extend(dport.to_be_bytes());
        tcp.extend(c.seq[d].to_be_bytes());
        tcp.extend(ack.to_be_bytes());
        tcp.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        tcp.extend(payload);
        c.seq[d] = c.seq[d].wrapping_add(payload.len() as u32 + u32::from(flags & 0x03 != 0));
        self.ip_frame(src, dst, 6, &tcp);
    }

    /// One UDP datagram from the client's `sport` to the server's `dport`.
    pub fn udp(&mut self, sport: u16, dport: u16, payload: &[u8]) {
        let mut udp = Vec::with_capacity(8 + payload.len());
        udp.extend(sport.to_be_bytes());
        udp.extend(dport.to_be_bytes());
        udp.extend(((8 + payload.len()) as u16).to_be_bytes());
        udp.extend([0, 0]);
        udp.extend(payload);
        self.ip_frame(CLIENT, SERVER, 17, &udp);
    }

    fn ip_frame(&mut self, src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) {
        let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        frame.extend([0x45, 0]);
        frame.extend(((20 + l4.len()) as u16).to_be_bytes());
        frame.extend([0, 1, 0x40, 0, 64, proto, 0, 0]);
        frame.extend(src);
        frame.extend(dst);
        frame.extend(l4);
        self.t += 1;
        self.out.extend(1_782_000_000u32.to_le_bytes());
        self.out.extend(self.t.to_le_bytes());
        self.out.extend((frame.len() as u32).to_le_bytes());
        self.out.extend((frame.len() as u32).to_le_bytes());
        self.out.extend(frame);
    }

    /// Appends a record header whose captured length no reader accepts: the capture is broken
    /// from here on. Returns the offset of the bad record.
    pub fn break_here(&mut self) -> usize {
        let at = self.out.len();
        self.out.extend(1_782_000_001u32.to_le_bytes());
        self.out.extend(0u32.to_le_bytes());
        self.out.extend(0xfff0_0000u32.to_le_bytes());
        self.out.extend(0xfff0_0000u32.to_le_bytes());
        self.out.extend([0u8; 64]);
        at
    }
}

/// A capture of one connection carrying `req`, answered 204.
pub fn one_request(req: &[u8]) -> Pcap {
    let mut p = Pcap::new();
    let mut c = p.connect(40000, 80);
    p.send(&mut c, true, req);
    p.send(&mut c, false, b"HTTP/1.1 204 No Content\r\n\r\n");
    p.close(&mut c);
    p
}

/// A DNS query for an A record of `name`.
pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend(id.to_be_bytes());
    q.extend([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend(label.as_bytes());
    }
    q.extend([0, 0, 1, 0, 1]);
    q
}

/// An HTTP/1.1 POST with the given extra headers and body (Content-Length added).
pub fn post(host: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST /v1/register HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend(body);
    r
}

/// gzip of `data` (flate2, the same DEFLATE a phone's HTTP stack produces).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

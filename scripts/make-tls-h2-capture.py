#!/usr/bin/env python3
"""Generate a synthetic TLS 1.3 + HTTP/2 + gRPC capture and its NSS key log.

A phone app talks TLS 1.3 (TLS_AES_128_GCM_SHA256, ALPN h2) to api.acme-telemetry.example:443.
Inside the encryption it POSTs a JSON registration body carrying the IMEI and the phone number
(stream 1), then makes a gRPC call (stream 3) whose protobuf message carries the Android ID
(field 1, string), the IMEI as an integer (field 2, varint only) and the ICCID (field 3.1,
nested message). The capture is Ethernet/IPv4/TCP with valid checksums, a TCP handshake and
real sequence numbers; some TLS records straddle TCP segments.

Nothing here does real key exchange: the four traffic secrets are fixed 32-byte values written
to the key log, which is all a decryptor (tshark, pc-tlsdec) uses. Record protection follows
RFC 8446 sections 5.2-5.3 and 7.3 exactly, so tshark decrypts the capture with the key log.

Usage: python3 scripts/make-tls-h2-capture.py [out-dir]   (default tests/data/synthetic)
Writes tls13-h2-grpc.pcapng and tls13-h2-grpc.keys. Needs Python 3 and the `cryptography`
package (AES-GCM, and a self-signed certificate). The output is deterministic.
"""
import datetime
import hashlib
import hmac
import io
import json
import os
import struct
import sys

import pcapgen
from pcapgen import IPv4, dns_name, ip4

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

PHONE_MAC = bytes.fromhex("02005e100001")
GW_MAC = bytes.fromhex("02005e1000fe")
PHONE_IP = "192.168.49.23"
RESOLVER_IP = "8.8.8.8"
HOST = "api.acme-telemetry.example"
SERVER_IP = "198.51.100.27"  # TEST-NET-2 (RFC 5737)

IMEI = "356938035643809"
MSISDN = "+33612345678"
ICCID = "8933150319009875432"
ANDROID_ID = "9774d56d682e549c"

CLIENT_RANDOM = hashlib.sha256(b"phonecert tls13-h2-grpc client random").digest()
SECRETS = {
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET": "99fa0f017651c868d0375656a833561af7fdc1d43e41ae9b78baa13e89a8dc35",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET": "56af21a8ec238624af2b8a74d5a0e79fc80e2ba62214eff1a38925a58e5eeb6c",
    "CLIENT_TRAFFIC_SECRET_0": "4d7e14333aa49df62ebfa45dea121c2ded306b82b844370b537a72cae3ba18e7",
    "SERVER_TRAFFIC_SECRET_0": "7e51a2f4fd2d6f3850a7f3b881f651833af9293e4b4c427cedaa058d0acf0d2d",
}

T0 = 1_782_003_600  # 2026-06-21T01:00:00Z, seconds
packets = []  # (timestamp_ns, bytes)
clock = [T0 * 1_000_000_000]


def tick(ms=3):
    clock[0] += ms * 1_000_000
    return clock[0]


# ---------------------------------------------------------------- link, IP, UDP, TCP (pcapgen.py)
_ip = IPv4(0x2000)
udp, tcp_segment = _ip.udp, _ip.tcp_segment

def emit(from_phone, ip_packet):
    if from_phone:
        frame = GW_MAC + PHONE_MAC + b"\x08\x00" + ip_packet
    else:
        frame = PHONE_MAC + GW_MAC + b"\x08\x00" + ip_packet
    packets.append((tick(), frame))


def dns_exchange(name, ip, txid, sport):
    pcapgen.dns_exchange(emit, _ip, PHONE_IP, RESOLVER_IP, name, ip, txid, sport)


def Conn(server, sport, dport):  # noqa: N802 (kept the name its callers use)
    return pcapgen.TcpConn(emit, _ip, PHONE_IP, server, sport, dport)



# ---------------------------------------------------------------- TLS 1.3

def hkdf_expand_label(secret, label, context, length):
    """RFC 8446 section 7.1, with SHA-256 (TLS_AES_128_GCM_SHA256)."""
    full = b"tls13 " + label
    info = struct.pack("!H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(secret, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


class Protector:
    """Record protection of one direction under one traffic secret (RFC 8446 section 5.2-5.3)."""

    def __init__(self, secret_hex):
        secret = bytes.fromhex(secret_hex)
        self.aead = AESGCM(hkdf_expand_label(secret, b"key", b"", 16))
        self.iv = hkdf_expand_label(secret, b"iv", b"", 12)
        self.seq = 0

    def record(self, content_type, content):
        inner = content + bytes([content_type])
        header = b"\x17\x03\x03" + struct.pack("!H", len(inner) + 16)
        nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))
        self.seq += 1
        return header + self.aead.encrypt(nonce, inner, header)


def handshake_msg(msg_type, body):
    return bytes([msg_type]) + struct.pack("!I", len(body))[1:] + body


def ext(ext_type, data):
    return struct.pack("!HH", ext_type, len(data)) + data


def alpn_ext(protos):
    lst = b"".join(bytes([len(p)]) + p for p in protos)
    return ext(0x0010, struct.pack("!H", len(lst)) + lst)


def client_hello():
    name = HOST.encode()
    exts = ext(0x0000, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    exts += ext(0x000A, struct.pack("!HHH", 4, 0x001D, 0x0017))  # supported_groups
    exts += alpn_ext([b"h2", b"http/1.1"])
    exts += ext(0x002B, bytes([4]) + struct.pack("!HH", 0x0304, 0x0303))  # supported_versions
    exts += ext(0x000D, struct.pack("!HHHH", 6, 0x0403, 0x0804, 0x0401))  # signature_algorithms
    exts += ext(0x002D, b"\x01\x01")  # psk_key_exchange_modes: psk_dhe_ke
    key = hashlib.sha256(b"client x25519 public").digest()
    exts += ext(0x0033, struct.pack("!HHH", 36, 0x001D, 32) + key)  # key_share
    suites = struct.pack("!HHHH", 0x1301, 0x1302, 0x1303, 0xC02F)
    body = struct.pack("!H", 0x0303) + CLIENT_RANDOM + bytes([32]) + hashlib.sha256(b"sid").digest()
    body += struct.pack("!H", len(suites)) + suites + b"\x01\x00" + struct.pack("!H", len(exts)) + exts
    hs = handshake_msg(1, body)
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def server_hello():
    exts = ext(0x002B, struct.pack("!H", 0x0304))
    exts += ext(0x0033, struct.pack("!HH", 0x001D, 32) + hashlib.sha256(b"server x25519 public").digest())
    body = struct.pack("!H", 0x0303) + hashlib.sha256(b"server random").digest()
    body += bytes([32]) + hashlib.sha256(b"sid").digest()  # echoes the client's session id
    body += struct.pack("!H", 0x1301) + b"\x00" + struct.pack("!H", len(exts)) + exts
    hs = handshake_msg(2, body)
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs


CCS = b"\x14\x03\x03\x00\x01\x01"  # middlebox-compatibility ChangeCipherSpec


SERVER_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"phonecert server key").digest())


def certificate():
    """A self-signed Ed25519 certificate for HOST, DER (deterministic: Ed25519 signs deterministically)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(SERVER_KEY.public_key())
            .serial_number(0x5EC0DE)
            .not_valid_before(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
            .not_valid_after(datetime.datetime(2027, 1, 1, tzinfo=datetime.timezone.utc))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .sign(SERVER_KEY, None))
    return cert.public_bytes(serialization.Encoding.DER)


def server_handshake_flight(prot):
    ee = handshake_msg(8, struct.pack("!H", len(alpn_ext([b"h2"]))) + alpn_ext([b"h2"]))
    cert_der = certificate()
    entry = struct.pack("!I", len(cert_der))[1:] + cert_der + b"\x00\x00"
    cert = handshake_msg(11, b"\x00" + struct.pack("!I", len(entry))[1:] + entry)
    sig = SERVER_KEY.sign(b"not the real transcript")  # nobody verifies it; Ed25519 is deterministic
    cv = handshake_msg(15, struct.pack("!HH", 0x0807, len(sig)) + sig)
    fin = handshake_msg(20, hashlib.sha256(b"server finished").digest())
    # Two records: EncryptedExtensions + Certificate, then CertificateVerify + Finished.
    return prot.record(22, ee + cert) + prot.record(22, cv + fin)


# ---------------------------------------------------------------- HTTP/2, HPACK, gRPC, protobuf

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload):
    return struct.pack("!I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack("!I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack(headers):
    """Literal header fields without indexing, new names, no Huffman (RFC 7541 section 6.2.2)."""
    out = b""
    for name, value in headers:
        out += b"\x00" + hpack_int(len(name), 7) + name.encode() + hpack_int(len(value), 7) + value.encode()
    return out


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_bytes(field, data):
    return varint(field << 3 | 2) + varint(len(data)) + data


def pb_varint(field, v):
    return varint(field << 3) + varint(v)


def grpc_message(msg):
    return b"\x00" + struct.pack("!I", len(msg)) + msg


SETTINGS, HEADERS, DATA, WINDOW_UPDATE = 4, 1, 0, 8
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    ch_key, sh_key = SECRETS["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], SECRETS["SERVER_HANDSHAKE_TRAFFIC_SECRET"]
    c_app = Protector(SECRETS["CLIENT_TRAFFIC_SECRET_0"])
    s_app = Protector(SECRETS["SERVER_TRAFFIC_SECRET_0"])

    dns_exchange(HOST, SERVER_IP, 0x4B01, 40101)
    c = Conn(SERVER_IP, 41101, 443)
    c.handshake()

    # Cleartext hellos, then the server's encrypted flight.
    c.send(client_hello())
    c.recv(server_hello() + CCS + server_handshake_flight(Protector(sh_key)), mss=512)

    # Client: ChangeCipherSpec, Finished, then HTTP/2 in the same flight (as browsers do).
    client_fin = Protector(ch_key).record(22, handshake_msg(20, hashlib.sha256(b"client finished").digest()))
    h2_open = PREFACE + frame(SETTINGS, 0, 0, struct.pack("!HIHI", 0x2, 0, 0x4, 6291456))
    h2_open += frame(WINDOW_UPDATE, 0, 0, struct.pack("!I", 15663105))
    body = json.dumps({
        "app": "com.acme.telemetry", "ver": "7.1.0",
        "device": {"model": "A1", "imei": IMEI}, "msisdn": MSISDN, "ts": T0,
    }, separators=(",", ":")).encode()
    req1 = frame(HEADERS, END_HEADERS, 1, hpack([
        (":method", "POST"), (":scheme", "https"), (":authority", HOST),
        (":path", "/v1/devices/register"), ("content-type", "application/json"),
        ("content-length", str(len(body))), ("user-agent", "okhttp/4.12.0"),
    ]))
    req1 += frame(DATA, END_STREAM, 1, body)
    c.send(CCS + client_fin + c_app.record(23, h2_open) + c_app.record(23, req1), mss=120)

    # Server: its SETTINGS, the ack of the client's, a session ticket, the answer to stream 1.
    ticket = handshake_msg(4, struct.pack("!II", 172800, 0x1234ABCD) + b"\x08" + b"nonce-01"
                           + struct.pack("!H", 32) + hashlib.sha256(b"ticket").digest() + b"\x00\x00")
    resp1 = frame(SETTINGS, 0, 0, struct.pack("!HIHI", 0x3, 100, 0x4, 1048576))
    resp1 += frame(SETTINGS, ACK, 0, b"")
    resp_body = b'{"status":"registered"}'
    resp1 += frame(HEADERS, END_HEADERS, 1, hpack([(":status", "200"), ("content-type", "application/json")]))
    resp1 += frame(DATA, END_STREAM, 1, resp_body)
    c.recv(s_app.record(22, ticket) + s_app.record(23, resp1))

    # Client: SETTINGS ack, then the gRPC call on stream 3.
    inner = pb_bytes(1, ICCID.encode())
    msg = pb_bytes(1, ANDROID_ID.encode()) + pb_varint(2, int(IMEI)) + pb_bytes(3, inner)
    req3 = frame(SETTINGS, ACK, 0, b"")
    req3 += frame(HEADERS, END_HEADERS, 3, hpack([
        (":method", "POST"), (":scheme", "https"), (":authority", HOST),
        (":path", "/telemetry.v1.Telemetry/Report"), ("content-type", "application/grpc"),
        ("te", "trailers"), ("grpc-accept-encoding", "identity"), ("user-agent", "grpc-java-okhttp/1.62.2"),
    ]))
    req3 += frame(DATA, END_STREAM, 3, grpc_message(msg))
    c.send(c_app.record(23, req3), mss=90)

    resp3 = frame(HEADERS, END_HEADERS, 3, hpack([(":status", "200"), ("content-type", "application/grpc")]))
    resp3 += frame(DATA, 0, 3, grpc_message(b""))
    resp3 += frame(HEADERS, END_HEADERS | END_STREAM, 3, hpack([("grpc-status", "0")]))
    c.recv(s_app.record(23, resp3))

    # Orderly shutdown: GOAWAY and close_notify alerts, then FIN.
    c.send(c_app.record(23, frame(7, 0, 0, struct.pack("!II", 0, 0))) + c_app.record(21, b"\x01\x00"))
    c.recv(s_app.record(21, b"\x01\x00"))
    c.close()

    write_pcapng(os.path.join(out_dir, "tls13-h2-grpc.pcapng"))
    with open(os.path.join(out_dir, "tls13-h2-grpc.keys"), "w") as f:
        f.write("# NSS key log (SSLKEYLOGFILE) for tls13-h2-grpc.pcapng; synthetic, see "
                "scripts/make-tls-h2-capture.py\n")
        for label, secret in SECRETS.items():
            f.write(f"{label} {CLIENT_RANDOM.hex()} {secret}\n")


def write_pcapng(path):
    def block(btype, body):
        pad = (4 - len(body) % 4) % 4
        total = 12 + len(body) + pad
        return struct.pack("<II", btype, total) + body + b"\0" * pad + struct.pack("<I", total)

    def opt(code, value):
        pad = (4 - len(value) % 4) % 4
        return struct.pack("<HH", code, len(value)) + value + b"\0" * pad

    out = io.BytesIO()
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    shb += opt(1, b"phonecert synthetic: TLS 1.3 + HTTP/2 + gRPC carrying identifiers (decrypt with the .keys)")
    shb += opt(4, b"scripts/make-tls-h2-capture.py") + opt(0, b"")
    out.write(block(0x0A0D0D0A, shb))
    idb = struct.pack("<HHI", 1, 0, 262144) + opt(2, b"wlan0") + opt(9, b"\x09") + opt(0, b"")
    out.write(block(0x00000001, idb))
    for ts_ns, fr in packets:
        ts = ts_ns // 1000 * 1000
        epb = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(fr), len(fr)) + fr
        epb += b"\0" * ((4 - len(fr) % 4) % 4)
        out.write(block(0x00000006, epb))
    with open(path, "wb") as f:
        f.write(out.getvalue())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/synthetic")

#!/usr/bin/env python3
"""Generate the synthetic capture of the bundled example case (examples/acme-a1).

The capture reproduces what a built-in app of a fictitious "Acme A1" phone sends at first boot,
before the user agreed to anything: DNS look-ups, a TLS connectivity check, and an HTTP POST to a
registration server abroad whose gzip-compressed JSON body carries the phone number, IMEI and SIM
serial in clear text; an analytics beacon carries the IMEI as a SHA-256 hash inside a URL-encoded
query parameter, and the Android ID inside a base64 blob. Every packet has valid IPv4/TCP/UDP
checksums and realistic sequence numbers, so tshark and Wireshark read it like a real capture.

Usage: python3 scripts/make-example-capture.py examples/acme-a1/captures/first-boot.pcapng
Only the Python standard library is needed. The output is deterministic.
"""
import base64
import gzip
import hashlib
import io
import json
import struct
import sys
import urllib.parse

import pcapgen
from pcapgen import IPv4, dns_name, ip4

PHONE_MAC = bytes.fromhex("02005e100001")
GW_MAC = bytes.fromhex("02005e1000fe")
PHONE_IP = "192.168.49.23"
RESOLVER_IP = "8.8.8.8"

IMEI = "356938035643809"
MSISDN = "+33612345678"
ICCID = "8933150319009875432"
ANDROID_ID = "9774d56d682e549c"

HOSTS = {
    "reg.acme-push.cn": "123.125.114.144",
    "log.acme-analytics.com": "47.88.58.234",
    "connectivitycheck.gstatic.com": "142.250.74.35",
}

T0 = 1_782_000_000  # 2026-06-21T00:00:00Z, seconds
_ip = IPv4(0x1000)
udp, tcp_segment = _ip.udp, _ip.tcp_segment
packets = []  # (timestamp_ns, bytes)
clock = [T0 * 1_000_000_000]


def tick(ms=3):
    clock[0] += ms * 1_000_000
    return clock[0]


def ether(src_mac, dst_mac, payload):
    return dst_mac + src_mac + b"\x08\x00" + payload


def emit(frame_src_is_phone, ip_packet):
    if frame_src_is_phone:
        frame = ether(PHONE_MAC, GW_MAC, ip_packet)
    else:
        frame = ether(GW_MAC, PHONE_MAC, ip_packet)
    packets.append((tick(), frame))


def dns_exchange(name, txid, sport):
    pcapgen.dns_exchange(emit, _ip, PHONE_IP, RESOLVER_IP, name, HOSTS[name], txid, sport)


def Conn(server, sport, dport):  # noqa: N802 (kept the name its callers use)
    return pcapgen.TcpConn(emit, _ip, PHONE_IP, server, sport, dport)



def client_hello(sni):
    ext = b""
    name = sni.encode()
    sni_ext = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    ext += struct.pack("!HH", 0x0000, len(sni_ext)) + sni_ext
    groups = struct.pack("!H", 4) + struct.pack("!HH", 0x001D, 0x0017)
    ext += struct.pack("!HH", 0x000A, len(groups)) + groups
    alpn_list = b"".join(bytes([len(p)]) + p for p in (b"h2", b"http/1.1"))
    alpn = struct.pack("!H", len(alpn_list)) + alpn_list
    ext += struct.pack("!HH", 0x0010, len(alpn)) + alpn
    versions = bytes([4]) + struct.pack("!HH", 0x0304, 0x0303)
    ext += struct.pack("!HH", 0x002B, len(versions)) + versions
    sigalgs = struct.pack("!H", 4) + struct.pack("!HH", 0x0403, 0x0804)
    ext += struct.pack("!HH", 0x000D, len(sigalgs)) + sigalgs
    key = hashlib.sha256(sni.encode()).digest()
    ks = struct.pack("!H", 36) + struct.pack("!HH", 0x001D, 32) + key
    ext += struct.pack("!HH", 0x0033, len(ks)) + ks
    random = hashlib.sha256(b"random" + name).digest()
    suites = struct.pack("!HHHH", 0x1301, 0x1302, 0x1303, 0xC02F)
    body = struct.pack("!H", 0x0303) + random + bytes([32]) + hashlib.sha256(b"sid" + name).digest()
    body += struct.pack("!H", len(suites)) + suites + b"\x01\x00" + struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def server_hello_tls13():
    ext = struct.pack("!HHH", 0x002B, 2, 0x0304)
    ext += struct.pack("!HH", 0x0033, 36) + struct.pack("!HH", 0x001D, 32) + bytes(range(32))
    body = struct.pack("!H", 0x0303) + hashlib.sha256(b"srv").digest() + bytes([32]) + bytes(32)
    body += struct.pack("!H", 0x1301) + b"\x00" + struct.pack("!H", len(ext)) + ext
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    rec = b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs
    rec += b"\x14\x03\x03\x00\x01\x01"
    enc = hashlib.sha512(b"encrypted extensions and certificate").digest() * 20
    return rec + b"\x17\x03\x03" + struct.pack("!H", len(enc)) + enc


def main(out_path):
    # 1. Connectivity check over TLS 1.3 (nothing identifying, encrypted).
    dns_exchange("connectivitycheck.gstatic.com", 0x3A01, 40001)
    c = Conn(HOSTS["connectivitycheck.gstatic.com"], 41001, 443)
    c.handshake()
    c.send(client_hello("connectivitycheck.gstatic.com"))
    c.recv(server_hello_tls13())
    app = hashlib.sha512(b"application data").digest() * 8
    c.send(b"\x14\x03\x03\x00\x01\x01" + b"\x17\x03\x03" + struct.pack("!H", len(app)) + app)
    c.close()

    # 2. The built-in messaging app registers the SIM: phone number, IMEI and ICCID in clear,
    #    in a gzip-compressed JSON body, to a server abroad, before any consent.
    dns_exchange("reg.acme-push.cn", 0x3A02, 40002)
    body = json.dumps({
        "app": "com.acme.messaging", "ver": "4.2.1",
        "device": {"model": "A1", "imei": IMEI, "iccid": ICCID},
        "msisdn": MSISDN, "lang": "fr-FR", "ts": T0,
    }, separators=(",", ":")).encode()
    gz = gzip.compress(body, mtime=0)
    req = (b"POST /v2/device/register HTTP/1.1\r\nHost: reg.acme-push.cn\r\n"
           b"User-Agent: AcmeMessaging/4.2.1 (Linux; Android 14; A1)\r\n"
           b"Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
           b"Content-Length: " + str(len(gz)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + gz)
    c = Conn(HOSTS["reg.acme-push.cn"], 41002, 80)
    c.handshake()
    c.send(req)
    resp_body = b'{"status":"ok","token":"c2Vzc2lvbi0xMjM0"}'
    c.recv(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
           + str(len(resp_body)).encode() + b"\r\n\r\n" + resp_body)
    # Same connection, a second request: a heartbeat carrying nothing identifying.
    c.send(b"GET /v2/ping HTTP/1.1\r\nHost: reg.acme-push.cn\r\n\r\n")
    c.recv(b"HTTP/1.1 204 No Content\r\n\r\n")
    c.close()

    # 3. An analytics beacon: the IMEI hashed (SHA-256, hex) inside a URL-encoded parameter, and
    #    the Android ID inside a base64 blob, in a chunked request.
    dns_exchange("log.acme-analytics.com", 0x3A03, 40003)
    imei_sha = hashlib.sha256(IMEI.encode()).hexdigest()
    ctx = base64.b64encode(json.dumps({"aid": ANDROID_ID, "boot": 1}).encode()).decode()
    q = urllib.parse.urlencode({"ev": "first_boot", "uid": "h=" + imei_sha, "ctx": ctx})
    form = urllib.parse.urlencode({"events": json.dumps([{"n": "boot", "d": imei_sha[:8]}])}).encode()
    chunked = b"%x\r\n" % len(form[:40]) + form[:40] + b"\r\n" + b"%x\r\n" % len(form[40:]) + form[40:] + b"\r\n0\r\n\r\n"
    req = (b"POST /collect?" + q.encode() + b" HTTP/1.1\r\nHost: log.acme-analytics.com\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    c = Conn(HOSTS["log.acme-analytics.com"], 41003, 80)
    c.handshake()
    c.send(req, mss=200)
    c.recv(b"HTTP/1.1 204 No Content\r\n\r\n")
    c.close()

    write_pcapng(out_path)


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
    shb += opt(1, b"phonecert example: Acme A1 first boot, before consent (synthetic)")
    shb += opt(4, b"scripts/make-example-capture.py") + opt(0, b"")
    out.write(block(0x0A0D0D0A, shb))
    idb = struct.pack("<HHI", 1, 0, 262144) + opt(2, b"wlan0") + opt(9, b"\x09") + opt(0, b"")
    out.write(block(0x00000001, idb))
    for ts_ns, frame in packets:
        ts = ts_ns // 1000 * 1000  # microsecond-realistic, stored in ns resolution
        epb = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame
        pad = (4 - len(frame) % 4) % 4
        epb += b"\0" * pad
        out.write(block(0x00000006, epb))
    with open(path, "wb") as f:
        f.write(out.getvalue())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples/acme-a1/captures/first-boot.pcapng")

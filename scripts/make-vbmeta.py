#!/usr/bin/env python3
"""Writes a vbmeta image (Android Verified Boot 2.0) from the format definition
(AOSP external/avb/libavb/avb_vbmeta_image.h, avb_hash_descriptor.h, avb_hashtree_descriptor.h,
avb_property_descriptor.h): a hash descriptor per --hash partition image (SHA-256 of salt +
image), a hashtree descriptor naming each --hashtree partition, properties, and the public key
given (an AVB public key blob). The signature block is zeros: no test key's private half is
kept in this repository, and the readers under test look at the key and the descriptors, not
at the signature. Deterministic.

    make-vbmeta.py OUT --key K.avbpubkey --algorithm 2 --flags 0 --rollback 7 \
        --hash vendor=vendor.img --hashtree system --prop com.android.build.system.fingerprint=...
"""
import argparse, hashlib, struct


def pad8(b):
    return b + b"\0" * (-len(b) % 8)


def descriptor(tag, body):
    body = pad8(body)
    return struct.pack(">QQ", tag, len(body)) + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--key")
    ap.add_argument("--algorithm", type=int, default=2)  # SHA256_RSA4096
    ap.add_argument("--flags", type=int, default=0)
    ap.add_argument("--rollback", type=int, default=0)
    ap.add_argument("--hash", action="append", default=[])
    ap.add_argument("--hashtree", action="append", default=[])
    ap.add_argument("--prop", action="append", default=[])
    a = ap.parse_args()
    descs = b""
    for p in a.prop:
        k, v = p.split("=", 1)
        descs += descriptor(0, struct.pack(">QQ", len(k), len(v)) + k.encode() + b"\0" + v.encode() + b"\0")
    for h in a.hash:
        name, path = h.split("=", 1)
        data = open(path, "rb").read()
        salt = hashlib.sha256(name.encode()).digest()
        digest = hashlib.sha256(salt + data).digest()
        body = struct.pack(">Q32sIIII60s", len(data), b"sha256", len(name), len(salt), len(digest), 0, b"")
        descs += descriptor(2, body + name.encode() + salt + digest)
    for name in a.hashtree:
        salt = hashlib.sha256(name.encode()).digest()
        root = hashlib.sha256(b"root:" + name.encode()).digest()
        body = struct.pack(">IQQQIIIQQ32sIIII60s", 1, 0, 0, 0, 4096, 4096, 2, 0, 0, b"sha1",
                           len(name), len(salt), len(root), 0, b"")
        descs += descriptor(1, body + name.encode() + salt + root)
    key = open(a.key, "rb").read() if a.key else b""
    hash_size, sig_size = (32, 512) if a.algorithm else (0, 0)
    auth = pad64 = b"\0" * ((hash_size + sig_size + 63) // 64 * 64)
    aux = descs + key
    aux += b"\0" * (-len(aux) % 64)
    h = b"AVB0" + struct.pack(">IIQQI", 1, 0, len(auth), len(aux), a.algorithm)
    h += struct.pack(">QQQQ", 0, hash_size, hash_size, sig_size)
    h += struct.pack(">QQQQ", len(descs), len(key), len(descs) + len(key), 0)
    h += struct.pack(">QQQII", 0, len(descs), a.rollback, a.flags, 0)
    h += b"avbtool 1.3.0 (phonecert make-vbmeta.py)".ljust(48, b"\0")
    h += b"\0" * 80
    assert len(h) == 256, len(h)
    out = h + auth + aux
    out += b"\0" * (-len(out) % 4096)
    open(a.out, "wb").write(out)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Write a large HAR 1.2 file, as a stream, for the HAR memory and speed benchmark.

Each entry looks like one a browser writes (Chrome's field set: request and response headers,
cookies, a form body in every tenth request, a base64 response body of --body bytes). Entries
differ by their URL, time and server address so nothing downstream can fold them together.
`creator` is written after `entries`, which HAR allows and streaming readers must handle.

Usage: make-big-har.py OUT.har (--entries N | --size 228M) [--body BYTES]
"""
import argparse
import base64
import json
import sys

HEADERS = [
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"),
    ("accept-encoding", "gzip, deflate, br"),
    ("accept-language", "en-US,en;q=0.9"),
    ("cache-control", "max-age=0"),
    ("sec-ch-ua", '"Chromium";v="110", "Not A(Brand";v="24", "Google Chrome";v="110"'),
    ("sec-fetch-dest", "document"),
    ("sec-fetch-mode", "navigate"),
    ("user-agent", "Mozilla/5.0 (Linux; Android 13; A1) AppleWebKit/537.36 Chrome/110.0 Mobile"),
]
RESPONSE_HEADERS = [
    ("content-type", "text/html"),
    ("date", "Thu, 30 Mar 2023 00:00:54 GMT"),
    ("server", "AmazonS3"),
    ("via", "1.1 e758e6512b4c08d28af121962cc722ce.cloudfront.net (CloudFront)"),
]


def size_arg(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s)


def entry(i, body):
    host = f"h{i % 997}.example.com"
    req = {
        "method": "POST" if i % 10 == 0 else "GET",
        "url": f"https://{host}/api/v1/item/{i}?session={i * 7919 % 100003}",
        "httpVersion": "http/2.0",
        "headers": [{"name": n, "value": v} for n, v in HEADERS],
        "queryString": [],
        "cookies": [{"name": "sid", "value": f"{i:016x}"}],
        "headersSize": -1,
        "bodySize": 0,
    }
    if i % 10 == 0:
        req["postData"] = {"mimeType": "application/x-www-form-urlencoded",
                           "text": f"device=A1&seq={i}&imei=356938035643809"}
    return {
        "startedDateTime": f"2023-03-30T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
        "time": 12.5,
        "serverIPAddress": f"192.0.2.{i % 250 + 1}",
        "request": req,
        "response": {
            "status": 200,
            "statusText": "",
            "httpVersion": "http/2.0",
            "headers": [{"name": n, "value": v} for n, v in RESPONSE_HEADERS],
            "cookies": [],
            "content": {"size": len(body), "mimeType": "text/html",
                        "text": base64.b64encode(body).decode(), "encoding": "base64"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 0.1, "wait": 10.0, "receive": 2.4},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--entries", type=int)
    g.add_argument("--size", type=size_arg)
    ap.add_argument("--body", type=int, default=512)
    a = ap.parse_args()
    body = bytes((j * 31 + 7) % 256 for j in range(a.body))
    written = 0
    with open(a.out, "w", encoding="utf-8") as f:
        head = '{"log": {"version": "1.2", "entries": [\n'
        f.write(head)
        written += len(head)
        i = 0
        while (a.entries is not None and i < a.entries) or (a.size is not None and written < a.size):
            text = ("," if i else "") + json.dumps(entry(i, body), separators=(",", ":")) + "\n"
            f.write(text)
            written += len(text)
            i += 1
        f.write('], "creator": {"name": "make-big-har.py", "version": "1"}}}\n')
    print(f"{a.out}: {i} entries", file=sys.stderr)


if __name__ == "__main__":
    main()

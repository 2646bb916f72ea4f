#!/usr/bin/env python3
"""Writes tests/data/oracle/trackers/network.json: for every host tshark saw in the nDPI
captures used by crates/pc-traffic/tests/trackers.rs (TLS SNI, HTTP Host, DNS answers, read
from tshark's oracle JSON beside them), the trackers whose Exodus network signature matches
it, with Python's re.search as exodus-core uses it (signatures longer than 3 characters), in
tracker-id order. Run from the repository root."""
import json
import re

trackers = json.load(open("data/trackers/exodus_trackers.json"))["trackers"]
trackers = sorted(trackers.values(), key=lambda t: t["id"])
out = {}
for name in ["android", "facebook"]:
    o = json.load(open(f"tests/data/oracle/pcap/ndpi/{name}.pcap.json"))
    hosts = set(o["dns"]["answers"])
    for hello in o["tls_client_hello"]:
        hosts |= set(hello["sni"])
    hosts |= {r["host"] for r in o["http_requests"]}
    out[f"pcap/ndpi/{name}.pcap"] = {
        h: [
            t["name"]
            for t in trackers
            if len(t["network_signature"]) > 3 and re.search(t["network_signature"], h)
        ]
        for h in sorted(hosts)
    }
doc = {
    "tool": "python3 re.search (exodus-core's matcher) of every network_signature longer than "
    "3 characters in data/trackers/exodus_trackers.json, tracker id order",
    "hosts": out,
}
with open("tests/data/oracle/trackers/network.json", "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")

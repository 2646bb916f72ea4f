#!/usr/bin/env python3
"""The facts `phonecert apk` extracts, extracted with androguard (the peer tool), for the
benchmark: manifest (package, versions, SDKs, permissions), signing (schemes, certificate
SHA-256) and call sites of the identifier-reading APIs of data/rules/identifier-apis.toml.

Usage: androguard_facts.py APK... > facts.json   (needs `pip install androguard`)
"""
import hashlib
import json
import sys
import tomllib
from pathlib import Path

from androguard.misc import AnalyzeAPK
from loguru import logger

logger.remove()

RULES = tomllib.loads((Path(__file__).resolve().parent.parent / "data/rules/identifier-apis.toml").read_text())


def rule_targets():
    for r in RULES.get("rule", []):
        yield r["class"], r["member"]


def facts(path):
    a, _, dx = AnalyzeAPK(path)
    certs = set()
    for der in a.get_certificates_der_v3() + a.get_certificates_der_v2():
        certs.add(hashlib.sha256(der).hexdigest())
    for c in a.get_certificates():
        certs.add(hashlib.sha256(c.dump()).hexdigest())
    calls = []
    for cls, member in rule_targets():
        for m in dx.find_methods(classname=cls.replace("$", "\\$").replace("/", "\\/").replace(";", ";"), methodname="^" + member + "$"):
            for _, caller, _ in m.get_xref_from():
                calls.append({"api": f"{cls}->{member}", "caller": f"{caller.class_name}->{caller.name}{caller.descriptor}"})
    return {
        "path": path,
        "package": a.get_package(),
        "version_code": a.get_androidversion_code(),
        "version_name": a.get_androidversion_name(),
        "min_sdk": a.get_min_sdk_version(),
        "target_sdk": a.get_target_sdk_version(),
        "permissions": sorted(set(a.get_permissions())),
        "signing": {"v1": a.is_signed_v1(), "v2": a.is_signed_v2(), "v3": a.is_signed_v3(), "certificates": sorted(certs)},
        "identifier_calls": calls,
    }


out = []
for p in sys.argv[1:]:
    try:
        out.append(facts(p))
    except Exception as e:  # noqa: BLE001 - a peer-tool failure is a result too
        out.append({"path": p, "error": str(e)})
json.dump(out, sys.stdout, indent=1)

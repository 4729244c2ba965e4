#!/usr/bin/env bash
# Install the SMART Health IT launcher (smart-on-fhir/smart-launcher-v2, Apache-2.0) that the
# SMART launch tests use as the EHR's authorization server and FHIR proxy. It is copied out of
# the read-only snapshot in ../shared/vendor (or $LDN_SMART_LAUNCHER_SRC) into .tools/ and
# installed from its lock file with `npm ci`; done once (a stamp file records the install).
# Without node/npm or the snapshot it says so and exits 0: the SMART browser tests then skip.
set -euo pipefail
src="${LDN_SMART_LAUNCHER_SRC:-../shared/vendor/smart-launcher-v2}"
dest="${LDN_SMART_LAUNCHER_DIR:-.tools/smart-launcher}"
if [ -f "$dest/.installed" ]; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: the SMART launch tests will skip (install Node.js 20 and npm)" >&2
  exit 0
fi
if [ ! -f "$src/package-lock.json" ]; then
  echo "no SMART launcher snapshot at $src: the SMART launch tests will skip" >&2
  exit 0
fi
echo "installing the SMART launcher from $src into $dest (npm ci, about a minute)"
rm -rf "$dest"
mkdir -p "$dest"
cp -R "$src"/. "$dest"/
# only the backend runs (ts-node); no React build and no dev tools are needed
(cd "$dest" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
touch "$dest/.installed"

#!/usr/bin/env bash
# `make run`: the main job. Until the web app lands this shows the CLI demo.
set -euo pipefail
LDN=.venv/bin/ldn
$LDN --version
$LDN evidence
$LDN drug

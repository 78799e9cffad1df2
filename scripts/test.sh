#!/usr/bin/env bash
# The one command that checks lobby-kiosk on a Debian 12 machine: installs what is missing,
# then runs the format check, the linter and every test (unit, integration, the SIGKILL
# durability test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
if ! command -v cargo >/dev/null 2>&1; then export PATH="$HOME/.cargo/bin:$PATH"; fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked

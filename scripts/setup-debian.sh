#!/usr/bin/env bash
# Makes sure a Debian 12 machine has what lobby-kiosk needs to build and test, installing
# missing Debian packages with apt-get (as root, or through sudo). Rust itself cannot come
# from Debian 12 (its cargo is too old): if cargo is missing or older than 1.85 this script
# says so and stops.
#
#   scripts/setup-debian.sh          packages to build and test
set -euo pipefail

# Debian packages, with what needs them.
packages=(
  gcc            # links Rust programs and builds the bundled SQLite
  pkg-config     # finds system libraries for -sys crates
  ca-certificates
  libclang-dev   # the camera library (nokhwa, video4linux) generates its bindings with clang
  libudev-dev    # serial ports: finding USB serial scanners and printers
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt_get=(apt-get)
  elif command -v sudo >/dev/null 2>&1; then
    apt_get=(sudo apt-get)
  else
    echo "setup: missing Debian packages and no root access; run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing. Install Rust 1.85 or newer with rustup (Debian 12's own" >&2
  echo "       rustc/cargo packages are too old), then run this command again." >&2
  exit 1
fi
version=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n1.85.0\n' "$version" | sort -V | head -n1)" != "1.85.0" ]; then
  echo "setup: rustc $version is too old; lobby-kiosk needs 1.85 or newer (rustup update)." >&2
  exit 1
fi
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
      rustup component add "$component"
    else
      echo "setup: cargo $component is missing; install the $component component." >&2
      exit 1
    fi
  fi
done

#!/usr/bin/env bash
# QR decode benchmark: lobby-kiosk's decode pipeline, plain rqrr (lobby-kiosk --plain),
# zxing-cpp and zbar, in one run on the same images, single-threaded on one CPU core.
#
#   scripts/bench-decode.sh [--repeat N]
#
# 1. Installs what it needs on Debian 12 (as root, or through sudo): the Debian packages
#    libzbar0 (and python3-venv / python3-pip when Python lacks them), and the pinned Python
#    packages below in a virtualenv, target/bench-venv.
# 2. Builds lobby-kiosk and the synth_frames example (release), and writes fresh synthetic
#    invite frames to target/bench-frames.
# 3. Runs scripts/bench_decode.py on the synthetic frames and on the public samples in
#    ../shared/qr-samples/qrcode-{1,2,3,4} (when present), prints Markdown tables and writes
#    them to target/bench-decode.md.
#
# Extra arguments go to scripts/bench_decode.py (see `python3 scripts/bench_decode.py -h`).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

# Python packages, pinned to the versions the benchmark was checked with.
PY_PINS=(zxing-cpp==3.1.1 pyzbar==0.1.9 pillow==13.0.0)

target_dir=${CARGO_TARGET_DIR:-target}
venv="$target_dir/bench-venv"
frames="$target_dir/bench-frames"
report="$target_dir/bench-decode.md"
samples=../shared/qr-samples

step="start"
trap 'echo "bench-decode: error: step \"$step\" failed (exit $?); see the messages above." >&2' ERR

say() { echo "bench-decode: $*" >&2; }
die() {
  trap - ERR
  echo "bench-decode: error: $*" >&2
  exit 1
}

# Single-threaded decoders everywhere, and one core when taskset is there.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMEXPR_NUM_THREADS=1 \
  RAYON_NUM_THREADS=1 TBB_NUM_THREADS=1

# --- 1. What the benchmark needs --------------------------------------------------------------
step="install Debian packages"
command -v python3 >/dev/null 2>&1 || die "python3 is missing: apt-get install -y python3"

debs=()
if ! dpkg-query -W -f='${Status}' libzbar0 2>/dev/null | grep -q "install ok installed"; then
  debs+=(libzbar0)
fi
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m pip --version >/dev/null 2>&1; then debs+=(python3-pip); fi
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then debs+=(python3-venv); fi
fi
if ((${#debs[@]})); then
  say "installing Debian packages: ${debs[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    apt_get=(apt-get)
  elif command -v sudo >/dev/null 2>&1; then
    apt_get=(sudo apt-get)
  else
    die "missing Debian packages and no root access; run as root:
  apt-get update && apt-get install -y --no-install-recommends ${debs[*]}"
  fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq --no-install-recommends "${debs[@]}"
fi

step="set up the Python virtualenv $venv"
pins="${PY_PINS[*]}"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.bench-pins" 2>/dev/null)" != "$pins" ]; then
  if [ ! -x "$venv/bin/python" ]; then
    rm -rf "$venv"
    say "creating $venv"
    python3 -m venv "$venv" || die "python3 -m venv failed; on Debian: apt-get install -y python3-venv"
  fi
  say "installing ${PY_PINS[*]} into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PINS[@]}" \
    || die "pip install ${PY_PINS[*]} failed (see above)"
  printf '%s' "$pins" >"$venv/.bench-pins"
fi
"$venv/bin/python" -c 'import zxingcpp, PIL; from pyzbar import pyzbar' \
  || die "the benchmark's Python packages do not load; remove $venv and run again"

# --- 2. Build, and the synthetic frames ----------------------------------------------------------
step="build lobby-kiosk and synth_frames"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo is missing; run scripts/setup-debian.sh first"
cargo build --release --bin lobby-kiosk --example synth_frames \
  || die "cargo build --release --bin lobby-kiosk --example synth_frames failed"
kiosk="$target_dir/release/lobby-kiosk"
[ -x "$kiosk" ] || die "$kiosk was not built"

step="generate synthetic frames"
rm -rf "$frames"
mkdir -p "$frames"
cargo run --release --quiet --example synth_frames -- "$frames" >&2 \
  || die "cargo run --release --example synth_frames -- $frames failed"
n_frames=$(find "$frames" -maxdepth 1 -type f \( -name '*.png' -o -name '*.jpg' -o -name '*.webp' \) | wc -l)
((n_frames > 0)) || die "synth_frames wrote no images to $frames"
say "$n_frames synthetic frames in $frames"

# --- 3. The benchmark ---------------------------------------------------------------------------
step="run the benchmark"
sets=("synthetic invite frames=$frames")
have=()
lacking=()
for i in 1 2 3 4; do
  if [ -d "$samples/qrcode-$i" ]; then have+=("qrcode-$i"); else lacking+=("qrcode-$i"); fi
done
if ((${#have[@]} == 0)); then
  say "NOTE: public samples not found ($samples/qrcode-{1,2,3,4} relative to $(pwd));" \
    "benchmarking the synthetic frames only"
else
  ((${#lacking[@]} == 0)) || say "NOTE: $samples lacks ${lacking[*]}; benchmarking ${have[*]}"
  sets+=("public samples=$samples")
fi

pin=()
if command -v taskset >/dev/null 2>&1; then pin=(taskset -c 0); fi

"${pin[@]}" "$venv/bin/python" scripts/bench_decode.py \
  --kiosk "$kiosk" \
  --sets "${sets[@]}" \
  --matrix "synthetic invite frames" \
  --out "$report" \
  "$@" || die "scripts/bench_decode.py failed (see above)"
say "report written to $report"

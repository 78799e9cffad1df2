#!/usr/bin/env bash
# Rebuilds the fonts in assets/fonts/ that badge printing rasterises text with, byte for byte:
#
#   NotoSansCJKsc-Regular.subset.otf     Noto Sans CJK SC Regular, subset (see below)
#   NotoSansCJKsc-Bold.subset.otf        Noto Sans CJK SC Bold, same characters
#   NotoSansMonoCJKsc-Regular.latin.otf  Noto Sans Mono CJK SC Regular, ASCII and Latin-1
#                                        only: the half-width (12x24) cells of the printer
#                                        preview
#   NotoSans-Regular.latin-ext.ttf       Noto Sans Regular and Bold, Latin Extended-A and
#   NotoSans-Bold.latin-ext.ttf          General Punctuation: the fallback for what Noto Sans
#                                        CJK lacks (Ą ć č ł ő ř ş ž ...)
#   LICENSE                              the fonts' copyright notices and the SIL OFL 1.1
#
# Characters kept: ASCII, Latin-1 Supplement, Latin Extended-A, General Punctuation, CJK
# Symbols and Punctuation, Halfwidth and Fullwidth Forms, U+25A1 WHITE SQUARE (drawn for
# characters the font lacks), every character of GB2312 (hanzi and symbols, listed by decoding
# each GB2312 code point with Python's codec) and the 8,105 characters of the Table of General
# Standard Chinese Characters (通用规范汉字表, 2013; Unihan's kTGH field), whose third level
# holds the name and place-name characters beyond GB2312 (喆 堃 犇 昇 珺 玥 璟 祎 ...).
#
# Inputs, installed when missing: Debian packages fonts-noto-cjk, fonts-noto-core and
# unicode-data (Unihan),
# and fontTools from PyPI in a throw-away virtual environment. Needs root (or sudo) for
# apt-get, python3 with venv, and network access to the Debian and PyPI mirrors.
#
#   scripts/make-font-subset.sh          rebuild assets/fonts/
set -euo pipefail
cd "$(dirname "$0")/.."

NOTO_CJK_VERSION="1:20220127+repack1-1"   # Debian 12 (bookworm)
NOTO_CORE_VERSION="20201225-1"           # Debian 12 (bookworm)
UNICODE_DATA_VERSION="15.0.0-1"           # Debian 12 (bookworm)
FONTTOOLS_VERSION="4.68.0"

SANS_REGULAR=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
SANS_BOLD=/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc
LATIN_REGULAR=/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf
LATIN_BOLD=/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf
UNIHAN_MAPPINGS=/usr/share/unicode/Unihan_OtherMappings.txt.bz2
COPYRIGHT=/usr/share/doc/fonts-noto-cjk/copyright
# Face numbers inside the collections: 2 = Noto Sans CJK SC, 7 = Noto Sans Mono CJK SC.
SC_FACE=2
MONO_SC_FACE=7
OUT=assets/fonts

installed_version() {
  dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'
}

missing=()
for spec in "fonts-noto-cjk=$NOTO_CJK_VERSION" "fonts-noto-core=$NOTO_CORE_VERSION" \
  "unicode-data=$UNICODE_DATA_VERSION"; do
  package=${spec%%=*}
  version=${spec#*=}
  have=$(installed_version "$package")
  if [ "$have" != "$version" ]; then
    missing+=("$spec")
  fi
done
if ((${#missing[@]})); then
  echo "make-font-subset: installing ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt_get=(apt-get)
  elif command -v sudo >/dev/null 2>&1; then
    apt_get=(sudo apt-get)
  else
    echo "make-font-subset: run as root (apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq --no-install-recommends \
    --allow-downgrades "${missing[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "fonttools==$FONTTOOLS_VERSION"
python="$work/venv/bin/python"
pyftsubset="$work/venv/bin/pyftsubset"

# The code points to keep, one U+XXXX a line.
"$python" - "$UNIHAN_MAPPINGS" >"$work/unicodes.txt" <<'PY'
import bz2
import sys

keep = set()
for first, last in [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 Supplement
    (0x0100, 0x017F),  # Latin Extended-A
    (0x2000, 0x206F),  # General Punctuation
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
]:
    keep.update(range(first, last + 1))
keep.add(0x25A1)  # WHITE SQUARE, drawn for missing characters

# GB2312: rows 0xA1-0xF7, cells 0xA1-0xFE; undefined code points fail to decode.
for row in range(0xA1, 0xF8):
    for cell in range(0xA1, 0xFF):
        try:
            keep.add(ord(bytes([row, cell]).decode("gb2312")))
        except UnicodeDecodeError:
            pass

# Table of General Standard Chinese Characters (2013): Unihan's kTGH field.
with bz2.open(sys.argv[1], "rt", encoding="utf-8") as mappings:
    for line in mappings:
        fields = line.rstrip("\n").split("\t")
        if len(fields) == 3 and fields[1] == "kTGH":
            keep.add(int(fields[0][2:], 16))

for code_point in sorted(keep):
    print(f"U+{code_point:04X}")
PY

common=(
  --layout-features=''
  --no-hinting
  --drop-tables+=BASE,GPOS,GSUB,VORG,vhea,vmtx
  --name-IDs=0,1,2,3,4,5,6,7,11,12,13,14
)
"$pyftsubset" "$SANS_REGULAR" --font-number=$SC_FACE "${common[@]}" \
  --unicodes-file="$work/unicodes.txt" --output-file="$OUT/NotoSansCJKsc-Regular.subset.otf"
"$pyftsubset" "$SANS_BOLD" --font-number=$SC_FACE "${common[@]}" \
  --unicodes-file="$work/unicodes.txt" --output-file="$OUT/NotoSansCJKsc-Bold.subset.otf"
"$pyftsubset" "$SANS_REGULAR" --font-number=$MONO_SC_FACE "${common[@]}" \
  --unicodes=U+0020-007E,U+00A0-00FF,U+25A1 \
  --output-file="$OUT/NotoSansMonoCJKsc-Regular.latin.otf"
for weight in Regular Bold; do
  source_font=$LATIN_REGULAR
  [ "$weight" = Bold ] && source_font=$LATIN_BOLD
  "$pyftsubset" "$source_font" "${common[@]}" --drop-tables+=GDEF \
    --unicodes=U+0100-017F,U+2000-206F --output-file="$OUT/NotoSans-$weight.latin-ext.ttf"
done

# LICENSE: the copyright notice the fonts carry (name ID 0) and the OFL text from the
# package's copyright file (its "License: SIL-1.1" paragraph, unindented).
{
  "$python" - "$OUT/NotoSansCJKsc-Regular.subset.otf" "$OUT/NotoSans-Regular.latin-ext.ttf" <<'PY'
import sys
from fontTools.ttLib import TTFont

for title, path in [
    ("Noto Sans CJK SC and Noto Sans Mono CJK SC (*.otf in this folder)", sys.argv[1]),
    ("Noto Sans (*.ttf in this folder)", sys.argv[2]),
]:
    name = TTFont(path)["name"]
    print(title)
    print(name.getDebugName(0))
    print(name.getDebugName(7))
    print()
PY
  # The first "License: SIL-1.1" line only names the licence of "Files: *"; the text follows
  # the stand-alone one, as indented lines.
  awk '
    /^License: SIL-1.1$/ { inside = 1; next }
    inside && /^ / { sub(/^ /, ""); if ($0 == ".") $0 = ""; print; printed = 1; next }
    printed { exit }
    { inside = 0 }
  ' "$COPYRIGHT"
} >"$OUT/LICENSE"

echo "make-font-subset: $(grep -c . "$work/unicodes.txt") code points requested" >&2
(cd "$OUT" && sha256sum NotoSansCJKsc-Regular.subset.otf NotoSansCJKsc-Bold.subset.otf \
  NotoSansMonoCJKsc-Regular.latin.otf NotoSans-Regular.latin-ext.ttf NotoSans-Bold.latin-ext.ttf \
  LICENSE)

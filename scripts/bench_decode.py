#!/usr/bin/env python3
"""Decode benchmark: lobby-kiosk's pipeline, plain rqrr, zxing-cpp and zbar on the same images.

Each image set is a folder of NAME.png|jpg|jpeg|webp images, each with NAME.txt holding the
exact text its code encodes (no trailing newline; NAME.result.txt files are ignored), or a
folder of such folders (for example the qrcode-1..4 folders of the public samples), which
then counts as one set with a per-folder breakdown.

A decode is correct when any text the decoder returned equals the expected text exactly.
Times are decode time only, image loading excluded: lobby-kiosk reports its own decode time
per image (`decode --json`), and zxing-cpp and zbar are timed around the library call on an
8-bit grayscale image prepared beforehand with Pillow. Each image is decoded --repeat times
per decoder and its median time is kept; the table's mean, median and p95 are over those
per-image medians, failed decodes included (a failed frame costs time too).

Usage:
    python3 scripts/bench_decode.py --kiosk target/release/lobby-kiosk \\
        --sets synthetic=target/bench-frames ../shared/qr-samples --matrix synthetic

Needs Pillow, and zxing-cpp and pyzbar (with the zbar shared library) for those decoders;
--decoders picks which decoders run (default: all four).
"""

from __future__ import annotations

import os

# Single-threaded measurements: set before any decoder library is loaded.
for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "TBB_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse
import datetime as dt
import json
import math
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")
ALL_DECODERS = ("kiosk", "rqrr", "zxing-cpp", "zbar")
LABELS = {
    "kiosk": "lobby-kiosk",
    "rqrr": "rqrr (lobby-kiosk --plain)",
    "zxing-cpp": "zxing-cpp",
    "zbar": "zbar",
}
# Images per lobby-kiosk invocation, to keep command lines short.
KIOSK_BATCH = 200
KIOSK_TIMEOUT_S = 1800


class BenchError(Exception):
    """A failure that stops the benchmark, with a message for the user."""


@dataclass
class Sample:
    path: Path
    name: str  # shown in the per-frame matrix
    group: str  # sub-folder for a set of folders, else ""
    expected: str


@dataclass
class Result:
    correct: bool = False
    wrong: bool = False  # returned text, none of it the expected text
    quirk: bool = False  # zbar: correct only after undoing its Latin-1 reading of UTF-8
    flaky: bool = False  # repeats disagreed on correctness
    times_ms: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    pass_name: str | None = None

    @property
    def ms(self) -> float:
        return statistics.median(self.times_ms)


@dataclass
class ImageSet:
    label: str
    root: Path
    samples: list[Sample]
    groups: list[str]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Image sets


def read_expected(txt: Path) -> str:
    # Bytes, not text mode: keep \r\n and every other byte exactly as stored.
    return txt.read_bytes().decode("utf-8")


def natural_key(p: Path) -> list:
    """Sorts blur-2 before blur-2.5 and blur-10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def images_in(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS),
        key=natural_key,
    )


def load_set(spec: str) -> ImageSet:
    if "=" in spec and not Path(spec).exists():
        label, _, d = spec.partition("=")
    else:
        label, d = "", spec
    root = Path(d)
    if not root.is_dir():
        raise BenchError(f"image set {root}: no such folder")
    label = label or root.resolve().name

    def collect(folder: Path, group: str) -> list[Sample]:
        out = []
        for img in images_in(folder):
            txt = img.with_suffix(".txt")
            if not txt.is_file():
                log(f"bench: {img}: no {txt.name}, skipped")
                continue
            name = f"{group}/{img.name}" if group else img.stem
            out.append(Sample(img, name, group, read_expected(txt)))
        return out

    samples = collect(root, "")
    groups: list[str] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        found = collect(sub, sub.name)
        if found:
            groups.append(sub.name)
            samples.extend(found)
    if not samples:
        raise BenchError(f"image set {root}: no images with a matching NAME.txt")
    return ImageSet(label, root, samples, groups)


# ---------------------------------------------------------------------------------------------
# Decoders


def judge(res: Result, expected: str, candidates: list[str], quirk_candidates: list[str]) -> bool:
    """Scores one decode; returns whether it was correct. Sets res.texts on the first call."""
    ok = expected in candidates
    quirk = not ok and expected in quirk_candidates
    if not res.times_ms:  # first repeat decides
        res.texts = candidates
        res.correct = ok or quirk
        res.quirk = quirk
        res.wrong = bool(candidates) and not res.correct
    elif (ok or quirk) != res.correct:
        res.flaky = True
    return ok or quirk


def run_kiosk(kiosk: Path, plain: bool, samples: list[Sample], repeat: int) -> list[Result]:
    results = [Result() for _ in samples]
    mode = " --plain" if plain else ""
    for r in range(repeat):
        log(f"bench: lobby-kiosk decode{mode}: {len(samples)} images, run {r + 1}/{repeat}")
        for start in range(0, len(samples), KIOSK_BATCH):
            batch = samples[start : start + KIOSK_BATCH]
            cmd = [str(kiosk), "decode", "--json"] + (["--plain"] if plain else [])
            cmd += [str(s.path) for s in batch]
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, timeout=KIOSK_TIMEOUT_S, check=False
                )
            except FileNotFoundError:
                raise BenchError(f"{kiosk}: not found (build it: cargo build --release)")
            except subprocess.TimeoutExpired:
                raise BenchError(f"lobby-kiosk decode{mode} took over {KIOSK_TIMEOUT_S} s")
            lines = [ln for ln in proc.stdout.decode("utf-8").splitlines() if ln.strip()]
            if len(lines) != len(batch):
                err = proc.stderr.decode("utf-8", "replace").strip()
                raise BenchError(
                    f"lobby-kiosk decode{mode} (exit {proc.returncode}) printed {len(lines)} "
                    f"JSON lines for {len(batch)} images"
                    + (f":\n{err[-2000:]}" if err else "")
                )
            by_path: dict[str, dict] = {}
            records = []
            for ln in lines:
                try:
                    rec = json.loads(ln)
                    texts, ms = rec["texts"], float(rec["ms"])
                    if not isinstance(texts, list):
                        raise TypeError("texts is not a list")
                except (ValueError, KeyError, TypeError) as e:
                    raise BenchError(f"lobby-kiosk decode{mode}: bad output line {ln!r}: {e}")
                records.append(rec)
                by_path[str(rec.get("path"))] = rec
            for i, s in enumerate(batch):
                # Match by path; fall back to order when the paths were rewritten.
                rec = by_path.get(str(s.path), records[i])
                res = results[start + i]
                judge(res, s.expected, [str(t) for t in rec["texts"]], [])
                res.times_ms.append(float(rec["ms"]))
                if res.pass_name is None:
                    res.pass_name = rec.get("pass")
    return results


def load_gray(samples: list[Sample]):
    from PIL import Image

    grays = []
    for s in samples:
        with Image.open(s.path) as im:
            grays.append(im.convert("L"))
    return grays


def utf8_or_none(b: bytes) -> str | None:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def run_zxing(samples: list[Sample], grays, repeat: int) -> list[Result]:
    import zxingcpp

    fmt = zxingcpp.BarcodeFormat.QRCode
    # Plain text mode: the decoded text as stored in the code (character sets converted to
    # UTF-8), without the default HRI mode's rewriting of control characters as <SOH> or of
    # GS1 data as "(01)...". Detection is the same in every text mode.
    mode = zxingcpp.TextMode.Plain
    # A view on the grayscale bytes, made before timing, so that the timed call does no
    # image conversion. The view does not own its pixels: keep them referenced here.
    pixels = [g.tobytes() for g in grays]
    views = [
        zxingcpp.ImageView(p, g.width, g.height, zxingcpp.ImageFormat.Lum)
        for p, g in zip(pixels, grays)
    ]
    if views:
        zxingcpp.read_barcodes(views[0], formats=fmt, text_mode=mode)  # warm-up
    results = [Result() for _ in samples]
    log(f"bench: zxing-cpp: {len(samples)} images x {repeat}")
    for s, v, res in zip(samples, views, results):
        for _ in range(repeat):
            t0 = time.perf_counter_ns()
            found = zxingcpp.read_barcodes(v, formats=fmt, text_mode=mode)
            t1 = time.perf_counter_ns()
            cands: list[str] = []
            for b in found:
                # The raw bytes as UTF-8 (what a kiosk compares), and zxing-cpp's own text,
                # which converts other character sets (ECI, Shift_JIS, GB 2312) to UTF-8.
                raw = utf8_or_none(bytes(b.bytes))
                for t in (raw, b.text):
                    if t is not None and t not in cands:
                        cands.append(t)
            judge(res, s.expected, cands, [])
            res.times_ms.append((t1 - t0) / 1e6)
    return results


def run_zbar(samples: list[Sample], grays, repeat: int) -> list[Result]:
    from pyzbar import pyzbar
    from pyzbar.pyzbar import ZBarSymbol

    symbols = [ZBarSymbol.QRCODE]
    frames = [(g.tobytes(), g.width, g.height) for g in grays]
    if frames:
        pyzbar.decode(frames[0], symbols=symbols)  # warm-up
    results = [Result() for _ in samples]
    log(f"bench: zbar: {len(samples)} images x {repeat}")
    for s, f, res in zip(samples, frames, results):
        for _ in range(repeat):
            t0 = time.perf_counter_ns()
            found = pyzbar.decode(f, symbols=symbols)
            t1 = time.perf_counter_ns()
            cands: list[str] = []
            quirks: list[str] = []
            for d in found:
                t = utf8_or_none(d.data)
                if t is None:
                    continue
                cands.append(t)
                # zbar guesses the character set and can read UTF-8 bytes as Latin-1; undo it.
                try:
                    quirks.append(t.encode("latin-1").decode("utf-8"))
                except (UnicodeEncodeError, UnicodeDecodeError):
                    pass
            judge(res, s.expected, cands, quirks)
            res.times_ms.append((t1 - t0) / 1e6)
    return results


# ---------------------------------------------------------------------------------------------
# Report


def p95(values: list[float]) -> float:
    v = sorted(values)
    return v[max(0, math.ceil(0.95 * len(v)) - 1)]


def fmt_ms(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def summary_table(iset: ImageSet, results: dict[str, list[Result]]) -> list[str]:
    n = len(iset.samples)
    out = [
        "| decoder | read | of | rate | mean ms/frame | median ms | p95 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for dec, res in results.items():
        read = sum(r.correct for r in res)
        ms = [r.ms for r in res]
        out.append(
            f"| {LABELS[dec]} | {read} | {n} | {100 * read / n:.1f}% | "
            f"{fmt_ms(statistics.fmean(ms))} | {fmt_ms(statistics.median(ms))} | "
            f"{fmt_ms(p95(ms))} |"
        )
    return out


def group_table(iset: ImageSet, results: dict[str, list[Result]]) -> list[str]:
    counts = {g: sum(s.group == g for s in iset.samples) for g in iset.groups}
    out = [
        "| decoder | " + " | ".join(f"{g} (of {counts[g]})" for g in iset.groups) + " |",
        "| --- |" + " ---: |" * len(iset.groups),
    ]
    for dec, res in results.items():
        cells = []
        for g in iset.groups:
            read = sum(r.correct for s, r in zip(iset.samples, res) if s.group == g)
            cells.append(str(read))
        out.append(f"| {LABELS[dec]} | " + " | ".join(cells) + " |")
    return out


def matrix_table(iset: ImageSet, results: dict[str, list[Result]]) -> list[str]:
    decs = list(results)
    out = [
        "| frame | " + " | ".join(LABELS[d] for d in decs) + " |",
        "| --- |" + " :---: |" * len(decs),
    ]
    for i, s in enumerate(iset.samples):
        cells = []
        for d in decs:
            r = results[d][i]
            cells.append("✓" if r.correct else ("✗ (wrong text)" if r.wrong else "✗"))
        out.append(f"| {s.name} | " + " | ".join(cells) + " |")
    return out


def notes(iset: ImageSet, results: dict[str, list[Result]]) -> list[str]:
    out = []
    for dec, res in results.items():
        wrong = [s.name for s, r in zip(iset.samples, res) if r.wrong]
        if wrong:
            out.append(
                f"- {LABELS[dec]}: returned other text than expected (misread, other code, or wrong character set) for {len(wrong)} image(s): "
                + ", ".join(wrong[:12])
                + (" …" if len(wrong) > 12 else "")
            )
        flaky = [s.name for s, r in zip(iset.samples, res) if r.flaky]
        if flaky:
            out.append(
                f"- {LABELS[dec]}: result changed between repeats (first repeat counted) for: "
                + ", ".join(flaky[:12])
            )
        quirk = [s.name for s, r in zip(iset.samples, res) if r.quirk]
        if quirk:
            out.append(
                f"- {LABELS[dec]}: {len(quirk)} of its reads count only after undoing zbar's "
                "Latin-1 reading of UTF-8 text (`.encode('latin-1').decode('utf-8')`): "
                + ", ".join(quirk[:12])
            )
    if "kiosk" in results:
        passes: dict[str, int] = {}
        for r in results["kiosk"]:
            if r.correct:
                key = str(r.pass_name) if r.pass_name is not None else "(unnamed)"
                passes[key] = passes.get(key, 0) + 1
        if passes:
            out.append(
                "- lobby-kiosk reads by decode pass: "
                + ", ".join(f"{k} {v}" for k, v in sorted(passes.items(), key=lambda kv: -kv[1]))
            )
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def pkg_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def zbar_lib_version() -> str | None:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "libzbar0"],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() or None
    except OSError:
        return None


def kiosk_version(kiosk: Path | None) -> str | None:
    if kiosk is None:
        return None
    try:
        out = subprocess.run([str(kiosk), "--version"], capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


def machine_line(cpus: set[int] | None, repeat: int) -> str:
    try:
        nproc = subprocess.run(["nproc", "--all"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    pin = f"pinned to CPU {min(cpus)}" if cpus and len(cpus) == 1 else "not pinned"
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Machine: {cpu_model()}, nproc {nproc}, {pin}, single-threaded, "
        f"median of {repeat} decodes per image; {now}."
    )


# ---------------------------------------------------------------------------------------------


def pin_to_one_cpu() -> set[int] | None:
    try:
        cpus = os.sched_getaffinity(0)
        if len(cpus) > 1:
            os.sched_setaffinity(0, {min(cpus)})
        return os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiosk", type=Path, help="the lobby-kiosk binary (release build)")
    ap.add_argument(
        "--sets",
        nargs="+",
        required=True,
        metavar="[LABEL=]DIR",
        help="image sets: a folder of NAME.png|jpg|webp + NAME.txt, or a folder of such folders",
    )
    ap.add_argument(
        "--matrix",
        action="append",
        default=[],
        metavar="LABEL",
        help="print the per-frame matrix for this set ('all' for every set)",
    )
    ap.add_argument(
        "--decoders",
        default=",".join(ALL_DECODERS),
        help=f"comma-separated, from {','.join(ALL_DECODERS)} (default: all)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="decodes per image (median kept)")
    ap.add_argument("--out", type=Path, help="also write the report (Markdown) here")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = ap.parse_args(argv)

    decoders = [d.strip() for d in args.decoders.split(",") if d.strip()]
    unknown = [d for d in decoders if d not in ALL_DECODERS]
    if unknown or not decoders:
        ap.error(f"unknown decoder(s): {', '.join(unknown)}; choose from {', '.join(ALL_DECODERS)}")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if {"kiosk", "rqrr"} & set(decoders):
        if args.kiosk is None:
            ap.error("--kiosk PATH is needed for the lobby-kiosk decoders (or leave them out "
                     "with --decoders zxing-cpp,zbar)")
        if not (args.kiosk.is_file() and os.access(args.kiosk, os.X_OK)):
            raise BenchError(f"{args.kiosk}: no such executable (cargo build --release)")

    cpus = None if args.no_pin else pin_to_one_cpu()
    sets = [load_set(s) for s in args.sets]

    # Fail early, before any long run, when a Python decoder cannot be loaded.
    if "zxing-cpp" in decoders or "zbar" in decoders:
        try:
            import PIL  # noqa: F401
        except ImportError as e:
            raise BenchError(f"Pillow is missing ({e}); pip install pillow")
    if "zxing-cpp" in decoders:
        try:
            import zxingcpp  # noqa: F401
        except ImportError as e:
            raise BenchError(f"zxing-cpp is missing ({e}); pip install zxing-cpp")
    if "zbar" in decoders:
        try:
            from pyzbar import pyzbar  # noqa: F401
        except (ImportError, OSError) as e:
            raise BenchError(
                f"pyzbar or the zbar library is missing ({e}); "
                "apt-get install libzbar0 && pip install pyzbar"
            )

    report: list[str] = ["# QR decode benchmark", ""]
    for iset in sets:
        log(f"bench: set {iset.label}: {len(iset.samples)} images from {iset.root}")
        results: dict[str, list[Result]] = {}
        grays = None
        for dec in decoders:
            if dec == "kiosk":
                results[dec] = run_kiosk(args.kiosk, False, iset.samples, args.repeat)
            elif dec == "rqrr":
                results[dec] = run_kiosk(args.kiosk, True, iset.samples, args.repeat)
            else:
                if grays is None:
                    grays = load_gray(iset.samples)
                fn = run_zxing if dec == "zxing-cpp" else run_zbar
                results[dec] = fn(iset.samples, grays, args.repeat)

        report += [f"## {iset.label} ({len(iset.samples)} images, {iset.root})", ""]
        report += summary_table(iset, results) + [""]
        if iset.groups:
            report += ["Read per folder:", ""] + group_table(iset, results) + [""]
        n = notes(iset, results)
        if n:
            report += n + [""]
        if iset.label in args.matrix or "all" in args.matrix:
            report += [f"Per frame ({iset.label}):", ""] + matrix_table(iset, results) + [""]

    versions = []
    if {"kiosk", "rqrr"} & set(decoders):
        versions.append(kiosk_version(args.kiosk) or "lobby-kiosk")
    for pkg in ("zxing-cpp", "pyzbar", "pillow"):
        if (pkg == "zxing-cpp" and pkg not in decoders) or (pkg == "pyzbar" and "zbar" not in decoders):
            continue
        v = pkg_version(pkg)
        if v:
            versions.append(f"{pkg} {v}")
    if "zbar" in decoders:
        zv = zbar_lib_version()
        if zv:
            versions.append(f"libzbar0 {zv}")
    report += [
        "Correct = a returned text equals NAME.txt exactly. Times are decode only (image "
        "loading and grayscale conversion excluded), per-image medians, failed frames included. "
        "zxing-cpp (text_mode=Plain): its raw bytes as UTF-8 or its text; zbar: its text, or its text after "
        "undoing a Latin-1 reading of UTF-8 (noted above when that was needed).",
        "",
        "Versions: " + ", ".join(versions) + f"; Python {platform.python_version()}.",
        "",
        machine_line(cpus, args.repeat),
    ]
    text = "\n".join(report) + "\n"
    sys.stdout.write(text)
    sys.stdout.flush()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        log(f"bench: report written to {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)

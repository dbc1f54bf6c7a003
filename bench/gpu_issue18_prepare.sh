#!/usr/bin/env bash
# Run HERE, on a machine that reaches PyPI, before calling the device machine for issue 18's
# GPU figures (bench/gpu_issue18.sh). It fills bench/_work/device/ (git-ignored: bench/_work/),
# the one folder the device call carries:
#   wheels/  what the device image lacks, for CPython 3.12 on manylinux x86_64 (the device's
#            python3 is 3.12 with torch 2.11+cu130, transformers, accelerate, peft, pandas,
#            pyarrow, xxhash ... already there; /work/.library/device/KINDS.md):
#              trl, datasets, dill, multiprocess (TRL's side), bitsandbytes (QLoRA's NF4
#              kernels; its manylinux wheel ships libbitsandbytes_cuda130.so for torch cu130),
#              peft (the version curate is tested with), orjson and zstandard (curate imports
#              them). No torch: gpu_issue18.sh installs with --no-deps into /tmp/site, so the
#              device's torch stays.
#   data/    the two data files the benches read from ../shared/data, which does not travel.
# Then it checks the wheels' tags, the CUDA libraries in bitsandbytes' wheel, and that the
# working tree plus this folder stay under the device's 64 MiB transfer limit.
#
#   bash bench/gpu_issue18_prepare.sh            # EXTRA="liger-kernel==0.8.5" adds wheels
#
# Environment: PYTHON (default .venv/bin/python, else python3), WHEELS (replaces the list),
# EXTRA (adds to it), TRY_PY312 (a CPython 3.12 to try the offline install with, e.g.
# `PYENV_VERSION=3.12.1 TRY_PY312=python3.12`; default: python3.12 when it runs).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=bench/_work/device
PY=${PYTHON:-}
if [ -z "$PY" ]; then if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
WHEELS=${WHEELS:-"trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 bitsandbytes==0.50.2 peft==0.21.2 orjson==3.13.0 zstandard==0.25.0"}
WHEELS="$WHEELS ${EXTRA:-}"

mkdir -p "$DEST/wheels" "$DEST/data/instructions" "$DEST/data/preferences"
rm -f "$DEST"/wheels/*.whl  # one version of each: two stop the whole install there
platforms=()
for tag in manylinux_2_35_x86_64 manylinux_2_34_x86_64 manylinux_2_31_x86_64 manylinux_2_28_x86_64 \
    manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$tag")
done
for wheel in $WHEELS; do
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${platforms[@]}" -d "$DEST/wheels" "$wheel" 2>&1 | grep -v "^WARNING: Location" || true
done

# the data (../shared/data beside the checkout, else shared/data inside it)
SHARED=../shared/data
[ -d "$SHARED" ] || SHARED=shared/data
cp -f "$SHARED/instructions/alpaca_5000.json" "$DEST/data/instructions/"
cp -f "$SHARED/preferences/hh_rlhf_harmless_base_test.jsonl.gz" "$DEST/data/preferences/"

"$PY" - "$DEST" "$WHEELS" <<'EOF'
import re, subprocess, sys, zipfile
from pathlib import Path

dest, wanted = Path(sys.argv[1]), sys.argv[2].split()
wheels = sorted((dest / "wheels").glob("*.whl"))
problems = []
names = {re.sub(r"[-_.]+", "-", w.name.split("-")[0]).lower() for w in wheels}
for spec in wanted:
    name = re.sub(r"[-_.]+", "-", re.split(r"[=<>!~ ]", spec)[0]).lower()
    if name not in names:
        problems.append(f"no wheel was downloaded for {spec}")
for wheel in wheels:
    tags = wheel.name[:-4].split("-")[-3:]  # python, abi, platform
    python_ok = any(t in ("py3", "py312", "cp312") for t in tags[0].split("."))
    platform_ok = all(p == "any" or (p.startswith("manylinux") and p.endswith("x86_64")) for p in tags[2].split("."))
    print(f"  {wheel.stat().st_size / 2**20:6.1f} MiB  {wheel.name}" + ("" if python_ok and platform_ok else "  <- NOT for cp312 manylinux x86_64"))
    if not (python_ok and platform_ok):
        problems.append(f"{wheel.name} does not install on CPython 3.12 manylinux x86_64")
    if wheel.name.startswith("bitsandbytes-"):
        libraries = sorted(n.split("/")[-1] for n in zipfile.ZipFile(wheel).namelist() if "libbitsandbytes_cuda" in n)
        print("           CUDA libraries:", ", ".join(libraries))
        if not any("cuda130" in n or "cuda13" in n for n in libraries):
            problems.append("bitsandbytes' wheel has no CUDA 13 library (the device's torch is cu130)")

def tree_bytes() -> int:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.split(b"\0")
    return sum(Path(p.decode()).stat().st_size for p in listed if p and Path(p.decode()).is_file())

carried = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
tree = tree_bytes()
total = (carried + tree) / 2**20
print(f"carried {carried / 2**20:.1f} MiB + working tree {tree / 2**20:.1f} MiB = {total:.1f} MiB (device limit 64 MiB)")
if total > 63:
    problems.append(f"{total:.1f} MiB would travel: over the device's 64 MiB (drop EXTRA wheels)")
for problem in problems:
    print("PROBLEM:", problem)
sys.exit(1 if problems else 0)
EOF

# Try the offline install the device does, with a CPython 3.12 when one runs here.
TRY=${TRY_PY312:-python3.12}
if "$TRY" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
    target=$(mktemp -d)
    if "$TRY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$target" "$DEST"/wheels/*.whl; then
        echo "offline install with $("$TRY" --version 2>&1): ok"
    else
        echo "PROBLEM: the offline install failed with $TRY"; rm -rf "$target"; exit 1
    fi
    rm -rf "$target"
else
    echo "(no CPython 3.12 here to try the offline install with; set TRY_PY312)"
fi
echo "ready: carry bench/_work/device (see bench/gpu_issue18.sh for the run command)"

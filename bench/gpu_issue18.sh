#!/usr/bin/env bash
# Issue 18's GPU figures in one prepared command, for one H100 80GB or H200, in under 10 minutes.
#
# First, HERE (a machine with PyPI): bash bench/gpu_issue18_prepare.sh
#   (wheels + data into bench/_work/device, git-ignored, about 54 MiB with the working tree)
# Then the device tool's `run`, with carry ["bench/_work/device"] and timeout_s 600:
#   bash bench/gpu_issue18.sh
# The carried wheels are installed offline with --no-deps into /tmp/wheels/site-packages, put
# first on PYTHONPATH: the device's torch, transformers and accelerate stay as they are. (A
# folder named site-packages, as installed packages sit: dill, which datasets hashes with,
# pickles modules from other folders by value; a dry run with pyarrow in such a folder broke
# on its types.)
# What comes back, in $OUT (3 files): log.txt (everything printed), results.json (every
# item's record, rewritten after each item) and report.md (the markdown tables for
# docs/BENCHMARKS.md, bench/train_report.py, also rewritten after each item).
#
# Items, in this order, the issue's most important figures first; each runs under `timeout`
# with its own limit, min(its most, what is left of BUDGET less the least of every later
# item), and is recorded as skipped when less than its least is left:
#   probe       device, versions, measured bf16 matmul peak   (train_measure.py --probe)
#   throughput  curate vs TRL, packed SFT then DPO, seq 2048, 20 steps (5 untimed) each:
#               llama1b:sft, qwen0.5b:sft, llama1b:dpo, qwen0.5b:dpo  (train_throughput.py)
#   lean        150k-vocab (Qwen2.5-0.5B shape) seq-4096 step: lean vs full logits peak
#               memory (lean_loss_memory.py)
#   lora        Llama-3.1-8B shape, LoRA on the bf16 base: built on the GPU, saved once to
#               $WORK/llama8b, 10 steps of 2 x 2048 tokens (train_lora8b.py --modes lora)
#   qlora       the same folder reloaded in NF4 (train_lora8b.py --modes qlora)
# then the 8B folder is deleted.
#
# Environment: BUDGET (seconds from the start, default 540 on a GPU), OUT (default
# bench/_work/issue18/out), WORK (scratch: models, runs, item JSONs; default /tmp/issue18),
# PYTHON (default python3, the device's), SMOKE=1 (a CPU dry run: every item with --smoke,
# tiny shapes, no wheels installed, BUDGET 420, OUT/WORK under bench/_work/issue18_smoke).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
START=$(date +%s)
SMOKE=${SMOKE:-0}
PY=${PYTHON:-python3}
CARRY=bench/_work/device
if [ "$SMOKE" = 1 ]; then
    BUDGET=${BUDGET:-420}
    OUT=${OUT:-bench/_work/issue18_smoke/out}
    WORK=${WORK:-bench/_work/issue18_smoke/work}
    FLAG=(--smoke)
    # item: least and most seconds (the least is also what later items hold back)
    LIMITS="probe:5:60 throughput:40:240 lean:8:60 lora:12:90 qlora:5:60"
else
    BUDGET=${BUDGET:-540}
    OUT=${OUT:-bench/_work/issue18/out}
    WORK=${WORK:-/tmp/issue18}
    FLAG=()
    LIMITS="probe:20:60 throughput:200:330 lean:25:60 lora:70:120 qlora:70:120"
fi
DATA=$CARRY/data
[ -d "$DATA" ] || DATA=../shared/data
ITEMS=$WORK/items
LOG=$OUT/log.txt
mkdir -p "$OUT" "$ITEMS"
rm -f "$ITEMS"/*.json
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

# shellcheck source=bench/gpu_common.sh
source bench/gpu_common.sh

record() {  # record FILE KIND ITEM REASON: a JSON record of an item that did not run or failed
    "$PY" - "$@" <<'EOF'
import json, sys
path, kind, item, reason = sys.argv[1:5]
with open(path, "w") as handle:
    json.dump({"kind": kind, "item": item, "reason": reason}, handle, indent=2)
EOF
}

report() {
    "$PY" bench/train_report.py "$ITEMS" --json "$OUT/results.json" --md "$OUT/report.md" --quiet 2>&1 | tee -a "$LOG"
}

say "issue 18 GPU figures: budget ${BUDGET}s, smoke=$SMOKE, out $OUT, work $WORK, data $DATA"
show_gpu

install_carried_wheels "TRL and QLoRA will fail" torch transformers trl peft datasets accelerate bitsandbytes pyarrow orjson zstandard

ENVFILE=$ITEMS/00_env.json
env_arg() { if [ -f "$ENVFILE" ] && ! grep -q '"error"' "$ENVFILE"; then echo "--env $ENVFILE"; fi; }

# ---- the items; T is the item's limit in seconds; each Python script also gets a budget a little under it
item_probe() { "$PY" bench/train_measure.py --probe "${FLAG[@]}" --out "$ENVFILE"; }
item_throughput() {
    # shellcheck disable=SC2046
    "$PY" bench/train_throughput.py "${FLAG[@]}" --plan llama1b:sft,qwen0.5b:sft,llama1b:dpo,qwen0.5b:dpo \
        --steps 20 --warmup 5 --data "$DATA" $(env_arg) --workdir "$WORK/throughput" --out-dir "$ITEMS" \
        --out "$WORK/train_throughput.json" --budget $((T - 8))
}
item_lean() { "$PY" bench/lean_loss_memory.py "${FLAG[@]}" --out "$ITEMS/40_lean_loss.json"; }
item_lora() {
    # shellcheck disable=SC2046
    "$PY" bench/train_lora8b.py "${FLAG[@]}" --modes lora --model-dir "$WORK/llama8b" --data "$DATA" $(env_arg) \
        --workdir "$WORK/lora8b" --out-dir "$ITEMS" --out "$WORK/lora.json" --budget $((T - 8))
}
item_qlora() {
    # shellcheck disable=SC2046
    "$PY" bench/train_lora8b.py "${FLAG[@]}" --modes qlora --model-dir "$WORK/llama8b" --data "$DATA" $(env_arg) \
        --workdir "$WORK/lora8b" --out-dir "$ITEMS" --out "$WORK/qlora.json" --budget $((T - 8))
}

read -r -a SPECS <<<"$LIMITS"
for index in "${!SPECS[@]}"; do
    IFS=: read -r name least most <<<"${SPECS[$index]}"
    held=0  # the least of every later item, held back for them
    for later in "${SPECS[@]:$((index + 1))}"; do held=$((held + $(cut -d: -f2 <<<"$later"))); done
    left=$((BUDGET - ($(date +%s) - START)))
    T=$((left - held < most ? left - held : most))
    status=$ITEMS/90_status_$((index + 1))_$name.json
    if [ "$T" -lt "$least" ]; then
        say "$name: SKIPPED (${left}s left of ${BUDGET}s, ${held}s held for later items; it needs ${least}s)"
        record "$status" skipped "$name" "not started: ${left} s left of the ${BUDGET} s budget, ${held} s held for later items, it needs at least ${least} s"
        report
        continue
    fi
    say "$name: start (limit ${T}s)"
    started=$(date +%s)
    timeout -k 10 "$T" bash -c "$(declare -f "item_$name" env_arg); $(declare -p PY FLAG DATA WORK ITEMS ENVFILE); T=$T; item_$name" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    took=$(($(date +%s) - started))
    if [ "$rc" = 0 ]; then
        say "$name: done in ${took}s"
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        say "$name: TIMED OUT after ${took}s (limit ${T}s)"
        record "$status" failed "$name" "timed out after ${took} s (its limit ${T} s); what it finished before is kept"
    else
        say "$name: exit code $rc after ${took}s"
        record "$status" failed "$name" "exit code ${rc} after ${took} s (see its records and log.txt)"
    fi
    report
done

rm -rf "$WORK/llama8b" "$WORK/throughput" "$WORK/lora8b"
say "finished in $(($(date +%s) - START))s; $OUT: $(cd "$OUT" && printf '%s ' *)"
cat "$OUT/report.md"

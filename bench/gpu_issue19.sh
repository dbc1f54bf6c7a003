#!/usr/bin/env bash
# Issue 19's GPU figures in one prepared command, for one H100 80GB or H200, in under 9 minutes:
# curate's train-grpo against TRL 1.16's GRPOTrainer, and curate's train-ppo alone, on a
# random Qwen2.5-0.5B-shaped model with 256-token rollouts (bench/rl_vs_trl.py).
#
# First, HERE (a machine with PyPI), unless bench/_work/device/wheels already holds them:
#   bash bench/gpu_issue18_prepare.sh      (the same wheels: trl, datasets, dill, multiprocess, ...)
# Then the device tool's `run`, with carry ["bench/_work/device"] and timeout_s 600:
#   bash bench/gpu_issue19.sh
# The carried wheels are installed offline with --no-deps into /tmp/wheels/site-packages, put
# first on PYTHONPATH (as gpu_issue18.sh does): the device's torch, transformers and accelerate
# stay as they are. The prompts are sample_data/ (in the working tree); nothing else is read.
# What comes back, in $OUT (3 files): log.txt (everything printed), results.json (rl_vs_trl.py's
# JSON, rewritten after each run) and report.md (its markdown table, also rewritten after each run).
#
# One item, `rl`: rl_vs_trl.py --shape qwen0.5b (GPU defaults: 4 prompts x G 8, 256 new tokens,
# 8 steps of which 2 untimed; PPO 12 prompts), runs curate_grpo, trl_grpo, curate_ppo in that
# order, each in its own process; it is given what is left of BUDGET as its --budget (a run is
# started only with about 60 s left for it and the later ones) and is killed by `timeout` a
# little after that.
#
# Environment: BUDGET (seconds from the start, default 500 on a GPU), OUT (default
# bench/_work/issue19/out), WORK (scratch: the model and run folders; default /tmp/issue19),
# PYTHON (default python3, the device's), SMOKE=1 (a CPU dry run: --smoke, a 2-layer Qwen2 with
# the real 151936 vocabulary, 3 steps, no wheels installed, BUDGET 300, OUT/WORK under
# bench/_work/issue19_smoke).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
START=$(date +%s)
SMOKE=${SMOKE:-0}
PY=${PYTHON:-python3}
CARRY=bench/_work/device
if [ "$SMOKE" = 1 ]; then
    BUDGET=${BUDGET:-300}
    OUT=${OUT:-bench/_work/issue19_smoke/out}
    WORK=${WORK:-bench/_work/issue19_smoke/work}
    FLAG=(--smoke)
    LEAST=30
else
    BUDGET=${BUDGET:-500}
    OUT=${OUT:-bench/_work/issue19/out}
    WORK=${WORK:-/tmp/issue19}
    FLAG=(--new-tokens 256)
    LEAST=200
fi
LOG=$OUT/log.txt
mkdir -p "$OUT" "$WORK"
rm -f "$OUT/log.txt" "$OUT/results.json" "$OUT/report.md"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

# shellcheck source=bench/gpu_common.sh
source bench/gpu_common.sh

say "issue 19 GPU figures: budget ${BUDGET}s, smoke=$SMOKE, out $OUT, work $WORK"
show_gpu

install_carried_wheels "TRL will fail" torch transformers trl datasets accelerate orjson zstandard

# ---- the one item, under its limit: what is left of BUDGET
left=$((BUDGET - ($(date +%s) - START)))
if [ "$left" -lt "$LEAST" ]; then
    say "rl: SKIPPED (${left}s left of ${BUDGET}s; it needs ${LEAST}s)"
    printf '# issue 19\n\nrl_vs_trl not started: %ss left of the %ss budget\n' "$left" "$BUDGET" >"$OUT/report.md"
    exit 1
fi
say "rl: start (limit ${left}s)"
timeout -k 10 "$left" "$PY" bench/rl_vs_trl.py --shape qwen0.5b "${FLAG[@]}" --budget $((left - 15)) \
    --workdir "$WORK" --out "$OUT/results.json" --md "$OUT/report.md" 2>&1 | tee -a "$LOG"
rc=${PIPESTATUS[0]}
if [ "$rc" = 0 ]; then
    say "rl: done"
elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    say "rl: TIMED OUT (limit ${left}s); results.json and report.md keep the runs it finished"
    printf '\nrl_vs_trl timed out after %ss; the runs above are those it finished.\n' "$left" >>"$OUT/report.md"
else
    say "rl: exit code $rc (a run failed or was skipped: see results.json and log.txt)"
fi

rm -rf "$WORK"/model_* "$WORK"/run_*
say "finished in $(($(date +%s) - START))s; $OUT: $(cd "$OUT" && printf '%s ' *)"
cat "$OUT/report.md" 2>/dev/null
exit "$rc"

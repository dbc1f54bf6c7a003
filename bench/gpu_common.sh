# Sourced by the bench/gpu_issue*.sh scripts: their log line, the device's card, and the
# carried wheels installed offline beside the device's own packages (never its torch).
# Expects START, LOG, SMOKE, PY and CARRY set by the caller.

say() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$LOG"; }

show_gpu() {
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader 2>&1 | tee -a "$LOG"
    fi
}

# install_carried_wheels "what fails without them" MODULE...: then reports each module's version.
install_carried_wheels() {
    local without=$1
    shift
    if [ "$SMOKE" = 1 ]; then
        say "smoke: no wheels installed (this machine's environment is used)"
    elif compgen -G "$CARRY/wheels/*.whl" >/dev/null; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/wheels/site-packages "$CARRY"/wheels/*.whl 2>&1 |
            grep -v "Running pip as the 'root' user" | tee -a "$LOG"
        export PYTHONPATH=/tmp/wheels/site-packages${PYTHONPATH:+:$PYTHONPATH}
        say "wheels installed in /tmp/wheels/site-packages: $(cd "$CARRY/wheels" && printf '%s ' *.whl)"
    else
        say "WARNING: no wheels in $CARRY/wheels (run bench/gpu_issue18_prepare.sh and carry $CARRY): $without"
    fi
    "$PY" - "$@" <<'PYTHON' 2>&1 | tee -a "$LOG"
import importlib, importlib.metadata as md, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        print(f"  import {name} {md.version(name)}: ok")
    except Exception as error:  # noqa: BLE001 - reported, the bench decides
        print(f"  import {name}: FAILED {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
PYTHON
}

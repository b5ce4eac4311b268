# One command each on a fresh machine: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

# CPU machines: install the CPU build of torch 2.13.0 explicitly before the project, so that
# the project's torch range is already satisfied and pip never pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	if command -v nvidia-smi >/dev/null 2>&1; then \
		$(PY) -m pip install -q "torch==2.13.0"; \
	else \
		$(PY) -m pip install -q "torch==2.13.0" || $(PY) -m pip install -q "torch==2.13.0+cpu"; \
	fi
	$(PY) -m pip install -q -e ".[pybullet,dev]"
	touch $(STAMP)

# The main job on the embedded default (simulated robots): each task's reference controller in randomized MuJoCo.
demo: setup
	$(VENV)/bin/robot-rl envs
	for env in ArmReach QuadrotorHover MobileBaseGoal; do \
		$(VENV)/bin/robot-rl baseline robot_rl/$$env-v0 --episodes 32 --backend mujoco --randomize || exit 1; \
	done
	# End to end: train the arm in randomized sim (about a minute), export the ONNX artifact, evaluate it.
	rm -rf runs/demo-arm-reach
	$(VENV)/bin/robot-rl train robot_rl/ArmReach-v0 --algo ppo --steps 300000 --out runs/demo-arm-reach --quiet
	$(VENV)/bin/robot-rl export runs/demo-arm-reach --out runs/demo-arm-reach/policy --episodes 32 --force
	$(VENV)/bin/robot-rl eval runs/demo-arm-reach/policy --episodes 64 --randomize

lint: setup
	$(VENV)/bin/ruff check robot_rl tests bench

test: lint
	$(PY) -m pytest -q -n 2

bench: setup
	$(PY) bench/sim_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache

# One command each on a fresh machine: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Exact versions the suite last passed with (`make lock` refreshes them): a fresh machine installs what CI saw, not
# whatever is newest that day. torch is pinned below by hand (CPU or CUDA build), the project itself is editable.
LOCK := constraints.txt
ROS_LOCK := constraints-ros.txt

# The rclpy interop tests run real ROS 2 (rclpy on Fast DDS, from PyPI wheels) in a separate venv: the wheels install
# a start-up hook that re-executes every Python process of their environment, so they never go into $(VENV).
ROS_PYTHON ?= $(PYTHON)
ROS_VENV := .venv-ros
ROS_STAMP := $(ROS_VENV)/.installed
ROS_UNAVAILABLE := $(ROS_VENV)/UNAVAILABLE
ROS_WHEELS := "ros-jazzy-rclpy[fastrtps]" ros-jazzy-sensor-msgs ros-jazzy-std-msgs ros-jazzy-geometry-msgs \
	ros-jazzy-nav-msgs ros-jazzy-diagnostic-msgs
# What `robot_rl.deploy` needs at run time (no torch): the project itself goes in with --no-deps.
ROS_RUNTIME := numpy pyyaml pydantic onnxruntime mujoco "ruckig>=0.12" gymnasium "cyclonedds>=0.10.5" "rosbags>=0.10"

.PHONY: setup ros-env demo test lint bench clean lock browser

# setup builds .venv-ros too: CI runs `make test` in a network namespace without the package registries.
setup: $(STAMP) $(ROS_STAMP) browser

# Debian's chromium for the tests that look at the HTML reports as a person would (headless screenshots). Only
# where apt-get runs as root; elsewhere those tests skip, saying why.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium (report screenshots in the tests)"; \
		{ apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } \
			> /tmp/robot_rl-chromium.log 2>&1 || echo "chromium did not install (see /tmp/robot_rl-chromium.log): those tests skip"; \
	fi

# CPU machines: install the CPU build of torch 2.13.0 explicitly before the project, so that
# the project's torch range is already satisfied and pip never pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	if command -v nvidia-smi >/dev/null 2>&1; then \
		$(PY) -m pip install -q "torch==2.13.0"; \
	else \
		$(PY) -m pip install -q "torch==2.13.0" || $(PY) -m pip install -q "torch==2.13.0+cpu"; \
	fi
	$(PY) -m pip install -q -c $(LOCK) -e ".[pybullet,dev,ray]"
	touch $(STAMP)

# The main job on the embedded default (simulated robots): each task's reference controller in randomized MuJoCo.
demo: setup
	$(VENV)/bin/robot-rl envs
	for env in ArmReach QuadrotorHover MobileBaseGoal; do \
		$(VENV)/bin/robot-rl baseline robot_rl/$$env-v0 --episodes 32 --backend mujoco --randomize || exit 1; \
	done
	# End to end: train the arm in randomized sim (about two minutes), export the ONNX artifact, evaluate it.
	rm -rf runs/demo-arm-reach
	$(VENV)/bin/robot-rl train robot_rl/ArmReach-v0 --algo ppo --steps 400000 --out runs/demo-arm-reach --quiet
	$(VENV)/bin/robot-rl export runs/demo-arm-reach --out runs/demo-arm-reach/policy --episodes 32 --force
	$(VENV)/bin/robot-rl eval runs/demo-arm-reach/policy --episodes 64 --randomize
	# Deploy it: controller (policy + safety filter) and a simulated arm with hidden "reality" physics as separate
	# processes over CycloneDDS (ROS 2 wire format, loopback only), recorded to a rosbag2 MCAP bag.
	rm -rf runs/demo-arm-reach/bag
	$(VENV)/bin/robot-rl launch launch/arm.yaml --middleware dds --duration 300 --record runs/demo-arm-reach/bag \
		--set controller.policy=runs/demo-arm-reach/policy --set sim_driver.episodes=20 \
		--set sim_driver.summary_file=runs/demo-arm-reach/deploy.json
	$(VENV)/bin/robot-rl bag runs/demo-arm-reach/bag
	# Close the loop once (docs/finetuning.md): the shipped arm policy against a hidden reality outside its training
	# ranges (weak actuators), a simulated operator takes over when the arm stalls, the recorded round fine-tunes
	# the policy (HG-DAgger, lineage in its card), and both are evaluated on that reality: before and after.
	rm -rf runs/demo-hil
	$(VENV)/bin/robot-rl hil robot_rl/ArmReach-v0 --out runs/demo-hil --rounds 1 --episodes 20 --eval-episodes 32 \
		--export-episodes 0

# Tolerant: where the wheels cannot install (not x86_64 Linux, no registry), $(ROS_UNAVAILABLE) says why and the rclpy
# tests skip with that reason instead of failing. `rm -r $(ROS_VENV)` (or touching pyproject.toml) retries.
ros-env: $(ROS_STAMP)

$(ROS_STAMP): pyproject.toml Makefile $(ROS_LOCK)
	rm -f $(ROS_UNAVAILABLE) $(ROS_STAMP)
	test -x $(ROS_VENV)/bin/python || $(ROS_PYTHON) -m venv $(ROS_VENV) || mkdir -p $(ROS_VENV)
	@if [ "$$(uname -s)-$$(uname -m)" != Linux-x86_64 ]; then \
		echo "ROS 2 wheels exist for Linux x86_64 only, not $$(uname -s)-$$(uname -m)" > $(ROS_UNAVAILABLE); \
	elif ! test -x $(ROS_VENV)/bin/python; then \
		echo "could not create a venv with $(ROS_PYTHON)" > $(ROS_UNAVAILABLE); \
	elif ! $(ROS_VENV)/bin/python -m pip install -q -c $(ROS_LOCK) $(ROS_WHEELS) > $(ROS_VENV)/install.log 2>&1; then \
		echo "ROS 2 rclpy wheels did not install (see $(ROS_VENV)/install.log): $$(tail -n 1 $(ROS_VENV)/install.log)" \
			> $(ROS_UNAVAILABLE); \
	elif ! { $(ROS_VENV)/bin/python -m pip install -q --no-deps -e . && \
			$(ROS_VENV)/bin/python -m pip install -q -c $(ROS_LOCK) $(ROS_RUNTIME); } >> $(ROS_VENV)/install.log 2>&1; then \
		echo "robot_rl did not install into $(ROS_VENV) (see $(ROS_VENV)/install.log)" > $(ROS_UNAVAILABLE); \
	fi
	@if [ -f $(ROS_UNAVAILABLE) ]; then echo "$(ROS_VENV): rclpy tests will skip: $$(cat $(ROS_UNAVAILABLE))"; fi
	touch $(ROS_STAMP)

lint: setup
	$(VENV)/bin/ruff check robot_rl tests bench launch ros2_ws

test: lint $(ROS_STAMP)
	$(PY) -m pytest -q -n 2

bench: setup
	$(PY) bench/sim_throughput.py

# Refresh the lock files from the installed environments (after `pip install -U ...` and a passing `make test`).
lock: setup
	{ echo "# make lock, $$(date -u +%Y-%m-%d): exact versions of $(VENV) (torch is pinned in the Makefile)"; \
	  $(PY) -m pip freeze --exclude-editable | grep -v -i '^torch=='; } > $(LOCK)
	if [ ! -f $(ROS_UNAVAILABLE) ]; then \
		{ echo "# make lock, $$(date -u +%Y-%m-%d): exact versions of $(ROS_VENV)"; \
		  $(ROS_VENV)/bin/python -m pip freeze --exclude-editable; } > $(ROS_LOCK); \
	fi
	touch $(STAMP) $(ROS_STAMP)

clean:
	rm -rf $(VENV) $(ROS_VENV) .pytest_cache

"""Test-wide setup. DDS/ROS traffic must stay on this machine: confine it before anything can import DDS.

`confine_to_localhost` writes the CycloneDDS config (interface 127.0.0.1 only, multicast off, peer 127.0.0.1);
the variables are set here explicitly as well so the rule is visible where the tests start.
"""

import itertools
import os
import signal

import pytest

from robot_rl.deploy.network import confine_to_localhost

_CYCLONEDDS_CONFIG = confine_to_localhost()
os.environ["CYCLONEDDS_URI"] = f"file://{_CYCLONEDDS_CONFIG}"
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["ROS_LOCALHOST_ONLY"] = "1"

# Tests send SIGINT as Ctrl-C would. A shell that starts the suite in the background leaves SIGINT ignored, and an
# ignored signal stays ignored in every child process: restore Python's default handler (children then get SIG_DFL).
signal.signal(signal.SIGINT, signal.default_int_handler)


_DOMAIN_COUNTER = itertools.count()


@pytest.fixture
def ros_domain_id(monkeypatch: pytest.MonkeyPatch) -> str:
    """A ROS_DOMAIN_ID no other test of this run uses, set in os.environ (children inherit it).

    pytest-xdist workers get disjoint ranges of 1..230 and each test the next id of its worker's range, so tests
    that need fixed topic names (/clock, /joint_states) never hear each other. Domain 0 stays for tests that use
    unique topic names instead.
    """
    domain = fresh_domain_id()
    monkeypatch.setenv("ROS_DOMAIN_ID", domain)
    return domain


def fresh_domain_id() -> str:
    """The next ROS_DOMAIN_ID of this pytest-xdist worker's range (see `ros_domain_id`), for module fixtures."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    span = 230 // max(workers, 1)
    return str(1 + worker * span + next(_DOMAIN_COUNTER) % span)

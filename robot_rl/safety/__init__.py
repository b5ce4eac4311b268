"""Safety: pure array functions between proposed and applied commands (no ROS, DDS or file I/O)."""

from robot_rl.safety.action import rate_limit, sanitize_action
from robot_rl.safety.filter import EVENT_NAMES, RULES, SafetyFilter
from robot_rl.safety.guards import estop_latch, nonfinite_rows, watchdog_stale
from robot_rl.safety.limits import ArmLimits, MobileBaseLimits, QuadrotorLimits, limits_for

__all__ = [
    "EVENT_NAMES",
    "RULES",
    "ArmLimits",
    "MobileBaseLimits",
    "QuadrotorLimits",
    "SafetyFilter",
    "estop_latch",
    "limits_for",
    "nonfinite_rows",
    "rate_limit",
    "sanitize_action",
    "watchdog_stale",
]

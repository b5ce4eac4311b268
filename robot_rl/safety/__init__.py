"""Safety: pure array functions between proposed and applied commands (no ROS, DDS or file I/O)."""

from robot_rl.safety.action import rate_limit, sanitize_action

__all__ = ["rate_limit", "sanitize_action"]

"""robot_rl: a robotics deployment stack with a sim-to-real bridge."""

__version__ = "0.1.0"

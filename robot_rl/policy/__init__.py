"""Policy artifacts: ONNX export with normalization inside the graph, the `PolicyCard`, the ONNX Runtime runner.

`robot_rl.policy.export` (torch, the envs and evaluation) is imported on demand; deploy code needs only the runner.
"""

from robot_rl.policy.card import PolicyCard, PolicyError, load_card
from robot_rl.policy.runner import OnnxPolicy

__all__ = ["OnnxPolicy", "PolicyCard", "PolicyError", "load_card"]

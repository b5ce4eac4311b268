"""Rotation helpers on batches (pure numpy). Quaternions are `[w, x, y, z]`."""

from __future__ import annotations

import numpy as np


def quat_to_rotmat(quat: np.ndarray) -> np.ndarray:
    """Rotation matrices `[N,3,3]` (body to world) from unit quaternions `[N,4]` wxyz."""
    w, x, y, z = np.asarray(quat, dtype=np.float64).T
    xx, yy, zz, xy, xz, yz, wx, wy, wz = x * x, y * y, z * z, x * y, x * z, y * z, w * x, w * y, w * z
    out = np.empty((len(w), 3, 3))
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = 1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy)
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = 2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx)
    out[:, 2, 0], out[:, 2, 1], out[:, 2, 2] = 2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy)
    return out


def yaw_from_quat(quat: np.ndarray) -> np.ndarray:
    """Heading `[N]` rad (rotation about world z) of quaternions `[N,4]` wxyz."""
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def quat_from_euler(roll: np.ndarray, pitch: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Quaternions `[N,4]` wxyz from intrinsic z-y-x (yaw, pitch, roll) angles `[N]` rad."""
    cr, sr = np.cos(roll / 2), np.sin(roll / 2)
    cp, sp = np.cos(pitch / 2), np.sin(pitch / 2)
    cy, sy = np.cos(yaw / 2), np.sin(yaw / 2)
    return np.stack(
        [
            cr * cp * cy + sr * sp * sy,
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
        ],
        -1,
    )


def wrap_angle(angle: np.ndarray) -> np.ndarray:
    """Angles wrapped to `[-pi, pi)` rad."""
    return (angle + np.pi) % (2 * np.pi) - np.pi

"""Forward kinematics of the arm's serial chain, extracted once from the MJCF and evaluated with numpy.

The chain is read with MuJoCo (body poses relative to their parent, hinge axes and anchors, the site offset) into a
frozen `KinematicChain`; `forward_kinematics` then needs only numpy, so it can run inside the safety filter:

    pose of joint body i = pose of joint body i-1 * (A_i, a_i) * hinge(u_i, c_i, q_i)
    ee = pose of the last joint body * s

where `(A_i, a_i)` composes the fixed bodies between two joints, `hinge(u, c, q)` rotates by `q` about axis `u`
through anchor `c` (`x -> c + Rot(u, q) (x - c)`), and `s` is the site's offset (through any fixed bodies).
Each local transform is linear in `(1, sin q_i, cos q_i)`, so all are built by one matrix product, and the chain
`T_0 T_1 ... T_{n-1} S` is multiplied pairwise in log2 of the chain length batched products of 4x4 matrices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from robot_rl.robots.spec import RobotSpec


@dataclass(frozen=True, eq=False)
class KinematicChain:
    """A serial chain of `n` hinge joints from the world to a site; arrays are read-only float64.

    Attributes:
        joint_names: joints in command order (the columns of `q`).
        order: `[n]` int, chain position -> column of `q` (base to tip).
        fixed_rot: `[n, 3, 3]` rotation `A_i` of joint body i in the previous joint body (world for i = 0).
        fixed_pos_m: `[n, 3]` translation `a_i` of joint body i in the previous joint body, m.
        axis_m: `[n, 3]` unit hinge axis `u_i` in the joint body frame.
        anchor_m: `[n, 3]` hinge anchor `c_i` in the joint body frame, m.
        site_pos_m: `[3]` site position in the last joint body frame, m.
        identity_order: True when `order` is `0..n-1` (no column gather needed).
        basis: `[P, 3, 16]` the local transforms as `B0 + sin(q) B1 + cos(q) B2` (see `_basis`), P a power of 2.

    """

    joint_names: tuple[str, ...]
    order: np.ndarray
    fixed_rot: np.ndarray
    fixed_pos_m: np.ndarray
    axis_m: np.ndarray
    anchor_m: np.ndarray
    site_pos_m: np.ndarray
    identity_order: bool
    basis: np.ndarray


def _quat_to_mat(quat: np.ndarray) -> np.ndarray:
    w, x, y, z = np.asarray(quat, dtype=np.float64) / np.linalg.norm(quat)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _skew(u: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]])


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def _basis(
    fixed_rot: list[np.ndarray], fixed_pos: list[np.ndarray], skew: np.ndarray, anchor: list[np.ndarray],
    site_pos: np.ndarray,
) -> np.ndarray:
    """`[P, 3, 16]`: per transform the flattened 4x4 matrices `B0, B1, B2` with `T = B0 + sin(q) B1 + cos(q) B2`.

    `Rot(u, q) = (I + K^2) + sin(q) K - cos(q) K^2`, so with `A`, `a` the fixed part and `c` the anchor:
    rotation `A Rot`, translation `a + A c - A Rot c`. Entry `n` is the site offset; the rest are identities.
    """
    n = len(fixed_rot)
    size = 1 << int(np.ceil(np.log2(n + 1)))
    out = np.zeros((size, 3, 4, 4))
    out[:, 0] = np.eye(4)
    for i, (a_rot, a_pos, k, c) in enumerate(zip(fixed_rot, fixed_pos, skew, anchor, strict=True)):
        r0, r1, r2 = a_rot @ (np.eye(3) + k @ k), a_rot @ k, -a_rot @ k @ k
        out[i, 0, :3, :3], out[i, 0, :3, 3] = r0, a_pos + a_rot @ c - r0 @ c
        out[i, 1, :3, :3], out[i, 1, :3, 3] = r1, -r1 @ c
        out[i, 2, :3, :3], out[i, 2, :3, 3] = r2, -r2 @ c
    out[n, 0, :3, 3] = site_pos
    return out.reshape(size, 3, 16)


def chain_from_mjcf(mjcf_path: str | Path, site: str, joint_names: tuple[str, ...]) -> KinematicChain:
    """Extract the serial chain from the world to `site` of an MJCF model.

    Args:
        mjcf_path: MuJoCo XML file.
        site: name of the end-effector site.
        joint_names: the chain's hinge joints in command order (each must lie on the path to the site).

    Returns:
        The chain; raises ValueError if a body on the path has a non-hinge joint or several joints, or if the
        hinge joints on the path are not exactly `joint_names`.

    """
    import mujoco  # the only engine use: reading the model once

    model = mujoco.MjModel.from_xml_path(str(mjcf_path))
    body = int(model.site_bodyid[model.site(site).id])
    path = []
    while body != 0:
        path.append(body)
        body = int(model.body_parentid[body])
    rot, pos = np.eye(3), np.zeros(3)  # fixed transform accumulated since the last joint body
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for b in reversed(path):
        b_rot = _quat_to_mat(model.body_quat[b])
        rot, pos = rot @ b_rot, pos + rot @ model.body_pos[b]
        if model.body_jntnum[b] == 0:
            continue
        j = int(model.body_jntadr[b])
        if model.body_jntnum[b] != 1 or model.jnt_type[j] != mujoco.mjtJoint.mjJNT_HINGE:
            raise ValueError(f"{mjcf_path}: body '{model.body(b).name}' on the chain to '{site}' needs one hinge")
        axis = model.jnt_axis[j] / np.linalg.norm(model.jnt_axis[j])
        parts.append((model.joint(j).name, rot, pos, axis, model.jnt_pos[j].copy()))
        rot, pos = np.eye(3), np.zeros(3)
    site_pos = pos + rot @ model.site_pos[model.site(site).id]
    names = [p[0] for p in parts]
    if sorted(names) != sorted(joint_names):
        raise ValueError(f"{mjcf_path}: hinge joints on the chain to '{site}' are {names}, expected {joint_names}")
    order = np.array([list(joint_names).index(n) for n in names])
    skew = np.stack([_skew(p[3]) for p in parts])
    return KinematicChain(
        basis=_frozen(_basis([p[1] for p in parts], [p[2] for p in parts], skew, [p[4] for p in parts], site_pos)),
        joint_names=tuple(joint_names),
        order=order,
        fixed_rot=_frozen(np.stack([p[1] for p in parts])),
        fixed_pos_m=_frozen(np.stack([p[2] for p in parts])),
        axis_m=_frozen(np.stack([p[3] for p in parts])),
        anchor_m=_frozen(np.stack([p[4] for p in parts])),
        site_pos_m=_frozen(site_pos),
        identity_order=bool((order == np.arange(len(order))).all()),
    )


@lru_cache(maxsize=8)
def _cached_chain(mjcf_path: str, site: str, joint_names: tuple[str, ...]) -> KinematicChain:
    return chain_from_mjcf(mjcf_path, site, joint_names)


def arm_chain(spec: RobotSpec) -> KinematicChain:
    """The chain from the arm's base to its `ee_site`, joints in command order (loaded once per model file)."""
    if spec.arm is None:
        raise ValueError(f"robot '{spec.name}' is not an arm")
    names = tuple(j.name for j in spec.arm.joints)
    return _cached_chain(str(spec.path(spec.mjcf)), spec.arm.ee_site, names)


def _local_transforms(chain: KinematicChain, q: np.ndarray) -> np.ndarray:
    """Homogeneous local transforms `[N, P, 4, 4]`: joints, then the site offset, then identities up to `P`.

    Joint `i`: `T_i(q_i) = B0_i + sin(q_i) B1_i + cos(q_i) B2_i`.
    """
    q = np.asarray(q, dtype=np.float64)
    if not chain.identity_order:
        q = q[:, chain.order]
    n_envs, n = q.shape
    coef = np.zeros((n_envs, chain.basis.shape[0], 3))
    coef[..., 0] = 1.0
    np.sin(q, out=coef[:, :n, 1])
    np.cos(q, out=coef[:, :n, 2])
    return (coef[:, :, None, :] @ chain.basis).reshape(n_envs, -1, 4, 4)


def forward_kinematics(chain: KinematicChain, q: np.ndarray) -> np.ndarray:
    """End-effector (site) positions.

    Args:
        chain: the arm's chain (`arm_chain(spec)`).
        q: `[N, n]` joint angles, rad, command order.

    Returns:
        `[N, 3]` site positions in the world (= robot base) frame, m.

    """
    t = _local_transforms(chain, q)
    while t.shape[1] > 1:  # pairwise products, log2(P) batched matmuls
        t = t[:, 0::2] @ t[:, 1::2]
    return t[:, 0, :3, 3]


def link_positions(chain: KinematicChain, q: np.ndarray) -> np.ndarray:
    """Frame origins of every joint body, then the site.

    Args:
        chain: the arm's chain.
        q: `[N, n]` joint angles, rad, command order.

    Returns:
        `[N, n + 1, 3]` world positions, m: joint bodies base to tip, then the end-effector site.

    """
    t = _local_transforms(chain, q)
    n = len(chain.joint_names)
    out = np.empty((t.shape[0], n + 1, 3))
    pose = t[:, 0]
    out[:, 0] = pose[:, :3, 3]
    for i in range(1, n + 1):
        pose = pose @ t[:, i]
        out[:, i] = pose[:, :3, 3]
    return out

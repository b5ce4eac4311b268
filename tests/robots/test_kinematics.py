"""Forward kinematics of the arm's chain against MuJoCo, and by hand at the zero pose."""

import mujoco
import numpy as np
import pytest

from robot_rl.robots import arm_chain, chain_from_mjcf, forward_kinematics, link_positions, load_robot

SPEC = load_robot("arm")


def mujoco_positions(q):
    model = mujoco.MjModel.from_xml_path(str(SPEC.path(SPEC.mjcf)))
    data = mujoco.MjData(model)
    adr = [model.joint(j.name).qposadr[0] for j in SPEC.arm.joints]
    ee, links = [], []
    for row in q:
        data.qpos[adr] = row
        mujoco.mj_kinematics(model, data)
        ee.append(data.site(SPEC.arm.ee_site).xpos.copy())
        links.append([data.body(f"link{i}").xpos.copy() for i in range(1, 8)])
    return np.array(ee), np.array(links)


def test_matches_mujoco_site_xpos_for_random_q():
    rng = np.random.default_rng(0)
    q = rng.uniform(SPEC.command.low, SPEC.command.high, (300, 7)) + rng.normal(0, 0.5, (300, 7))  # beyond limits
    ee_mj, links_mj = mujoco_positions(q)
    chain = arm_chain(SPEC)
    assert np.abs(forward_kinematics(chain, q) - ee_mj).max() < 1e-9
    frames = link_positions(chain, q)
    assert np.abs(frames[:, :7] - links_mj).max() < 1e-9
    assert np.abs(frames[:, 7] - ee_mj).max() < 1e-9


def test_zero_pose_by_hand():
    # q = 0: link1 at z 0.333; link3 0.316 higher (0.649); link4 out by x 0.0825; link5 back by 0.0825 and 0.384
    # higher (1.033); link7 out by x 0.088; the flange (0.107) and TCP (0.1034) point down: z 1.033 - 0.2104.
    ee = forward_kinematics(arm_chain(SPEC), np.zeros((1, 7)))
    np.testing.assert_allclose(ee[0], [0.088, 0.0, 0.8226], atol=1e-12)


def test_batch_shapes_and_chain_is_cached():
    chain = arm_chain(SPEC)
    assert arm_chain(SPEC) is chain
    assert forward_kinematics(chain, np.zeros((5, 7))).shape == (5, 3)
    assert link_positions(chain, np.zeros((2, 7))).shape == (2, 8, 3)
    assert not chain.basis.flags.writeable


def test_wrong_joint_names_are_an_error():
    with pytest.raises(ValueError, match="hinge joints on the chain"):
        chain_from_mjcf(SPEC.path(SPEC.mjcf), "ee", ("joint1", "joint2"))

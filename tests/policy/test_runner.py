"""OnnxPolicy: verified loading, the consumer contract, and a clear error for every bad input."""

import numpy as np
import onnx
import pytest
import torch
import yaml

from robot_rl.envs import make
from robot_rl.learn.checkpoint import build_policy, load_checkpoint
from robot_rl.policy import OnnxPolicy, PolicyError
from robot_rl.policy.runner import sha256_file
from robot_rl.robots import load_robot
from robot_rl.spaces.quadrotor import quadrotor_hover_observation


def torch_module(policy_dir):
    ckpt = load_checkpoint(policy_dir / "checkpoint.pt")
    return build_policy(ckpt["env_id"], ckpt["policy"])


def edit_card(folder, **changes):
    path = folder / "card.yaml"
    card = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        node, *keys = dotted.split("__")
        target = card
        for key in [node, *keys][:-1]:
            target = target[key]
        target[[node, *keys][-1]] = value
    path.write_text(yaml.safe_dump(card, sort_keys=False))


def rehash(folder):
    edit_card(folder, onnx__sha256=sha256_file(folder / "policy.onnx"))


def test_load_single_thread_and_shapes(exported):
    policy = OnnxPolicy.load(exported.out_dir)
    options = policy.session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert (policy.n_obs, policy.n_cmd) == (22, 4)
    obs = np.random.default_rng(0).standard_normal((5, 22)).astype(np.float32)
    assert policy.act(obs).shape == (5, 4) and policy.act(obs[0]).shape == (4,)
    batch = policy.act(obs)
    for row, expected in zip(obs, batch, strict=True):  # single observations use bound buffers: never stale
        np.testing.assert_allclose(policy.act(row), expected, atol=1e-6, rtol=0)
    assert policy.act(obs).dtype == np.float32


def test_consumer_contract_named_quantities_to_command(exported):
    """A deployed controller builds obs with the spaces function; ONNX gives the torch module's command."""
    module = torch_module(exported.out_dir)
    policy = OnnxPolicy.load(exported.out_dir, robot=load_robot("quadrotor"))
    env = make("robot_rl/QuadrotorHover-v0", randomize=False)
    obs, info = env.reset(seed=4)
    for _ in range(5):
        with torch.no_grad():
            command = module(torch.from_numpy(obs[None])).numpy()[0]
        obs, _, _, _, info = env.step(command)
        s, task = info["state"], info["task"]
        built = quadrotor_hover_observation(s["position_m"][None], s["quat_wxyz"][None],
                                            s["linear_velocity_m_s"][None], s["angular_velocity_rad_s"][None],
                                            task["setpoint_m"][None], info["applied_action"][None])[0]
        np.testing.assert_array_equal(built, obs)
        with torch.no_grad():
            expected = module(torch.from_numpy(obs[None])).numpy()[0]
        np.testing.assert_allclose(policy.act(built), expected, atol=1e-5, rtol=0)
    env.close()


def test_wrong_length_observation(exported):
    policy = OnnxPolicy.load(exported.out_dir)
    with pytest.raises(ValueError, match=r"shape \[21\]; policy .* expects \[22\] or \[batch, 22\]"):
        policy.act(np.zeros(21, np.float32))
    with pytest.raises(ValueError, match=r"shape \[2, 2, 22\]"):
        policy.act(np.zeros((2, 2, 22), np.float32))


def test_nan_observation_names_the_quantity(exported):
    policy = OnnxPolicy.load(exported.out_dir)
    obs = np.zeros((3, 22), np.float32)
    obs[2, 16] = np.nan  # 3 position_error + 9 rotation + 3 linear velocity -> angular_velocity_rad_s[1]
    with pytest.raises(ValueError, match=r"element 16 = angular_velocity_rad_s\[1\] \(rad/s\) is nan \(row 2\)"):
        policy.act(obs)
    obs[2, 16], obs[0, 0] = 0.0, np.inf
    with pytest.raises(ValueError, match=r"position_error_m\[0\] \(m\) is inf"):
        policy.act(obs[0])


def test_truncated_onnx(policy_copy):
    onnx_path = policy_copy / "policy.onnx"
    onnx_path.write_bytes(onnx_path.read_bytes()[:200])
    with pytest.raises(PolicyError, match=rf"{onnx_path}: sha256 .* does not match card.yaml"):
        OnnxPolicy.load(policy_copy)
    rehash(policy_copy)  # a card re-written for the truncated file: ONNX Runtime must still refuse it
    with pytest.raises(PolicyError, match=rf"{onnx_path}: not a loadable ONNX model"):
        OnnxPolicy.load(policy_copy)


def test_corrupted_onnx_bytes(policy_copy):
    onnx_path = policy_copy / "policy.onnx"
    data = bytearray(onnx_path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights still parses: only the hash catches it
    onnx_path.write_bytes(bytes(data))
    with pytest.raises(PolicyError, match="sha256"):
        OnnxPolicy.load(policy_copy)
    onnx_path.write_bytes(b"\xff" * 64 + bytes(data[64:]))
    rehash(policy_copy)
    with pytest.raises(PolicyError, match="not a loadable ONNX model"):
        OnnxPolicy.load(policy_copy)


def test_card_for_another_robot(policy_copy):
    with pytest.raises(PolicyError, match="is for robot 'quadrotor'.*not for robot 'arm'"):
        OnnxPolicy.load(policy_copy, robot=load_robot("arm"))
    edit_card(policy_copy, robot="mobile_base")
    with pytest.raises(PolicyError, match="card.yaml.*QuadrotorHover-v0 is a task for robot 'quadrotor'"):
        OnnxPolicy.load(policy_copy)


def test_spec_mismatch(policy_copy):
    edit_card(policy_copy, command__high=[0.7, 6.0, 6.0, 3.0])
    with pytest.raises(PolicyError, match=r"does not fit robot 'quadrotor': command.high is \[0.7"):
        OnnxPolicy.load(policy_copy)
    edit_card(policy_copy, command__high=list(load_robot("quadrotor").command.high))  # restored: fits again
    OnnxPolicy.load(policy_copy)
    card = yaml.safe_load((policy_copy / "card.yaml").read_text())
    card["observation"]["quantities"][0]["unit"] = "cm"
    (policy_copy / "card.yaml").write_text(yaml.safe_dump(card))
    with pytest.raises(PolicyError, match=r"observation is \[position_error_m\(3, cm\)"):
        OnnxPolicy.load(policy_copy)


def test_graph_io_must_match_card(policy_copy):
    onnx_path = policy_copy / "policy.onnx"
    model = onnx.load(onnx_path)
    model.graph.output[0].name = "command"
    model.graph.node[-1].output[0] = "command"
    onnx.save(model, onnx_path)
    rehash(policy_copy)
    with pytest.raises(PolicyError, match=r"expected one output 'action', graph has \['command'\]"):
        OnnxPolicy.load(policy_copy)


def test_missing_files(policy_copy, tmp_path):
    with pytest.raises(PolicyError, match="no such policy folder"):
        OnnxPolicy.load(tmp_path / "nowhere")
    (policy_copy / "policy.onnx").unlink()
    with pytest.raises(PolicyError, match=r"policy.onnx: no such file"):
        OnnxPolicy.load(policy_copy)
    (policy_copy / "card.yaml").unlink()
    with pytest.raises(PolicyError, match=r"card.yaml: no such file"):
        OnnxPolicy.load(policy_copy)

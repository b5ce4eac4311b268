"""Learners (PPO, SAC), networks, normalizers, buffers, and the training runner."""

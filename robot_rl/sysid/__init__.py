"""System identification: excitation design, windowed replay fits on `mujoco.sysid`, calibration, reports."""

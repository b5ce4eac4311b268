"""Test-wide setup. DDS/ROS traffic must stay on this machine: confine it before anything can import DDS."""

from robot_rl.deploy.network import confine_to_localhost

confine_to_localhost()

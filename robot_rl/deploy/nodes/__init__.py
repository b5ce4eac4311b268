"""ROS 2 nodes (controller, simulated robot driver, recorder), written against `robot_rl.deploy.transport`."""

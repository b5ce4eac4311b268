"""ROS 2 entry points of robot_rl: thin rclpy wrappers over `robot_rl.deploy.nodes` (see `nodes`, `ros_args`)."""

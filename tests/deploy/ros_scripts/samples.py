"""Sample messages with distinctive values, built identically in the test process and inside .venv-ros.

Values are exactly representable in float32 where the field is float32, so they survive every round trip.
"""

from robot_rl.deploy.msgs import (
    Bool,
    Clock,
    DiagnosticArray,
    DiagnosticStatus,
    Float64MultiArray,
    Header,
    Imu,
    JointState,
    Joy,
    KeyValue,
    LaserScan,
    MultiArrayDimension,
    MultiArrayLayout,
    Odometry,
    Point,
    Pose,
    PoseWithCovariance,
    Quaternion,
    Time,
    Twist,
    TwistStamped,
    TwistWithCovariance,
    Vector3,
)


def header(seq, frame="base_link"):
    return Header(stamp=Time(sec=1_700_000_000 + seq, nanosec=123_456_789 + seq), frame_id=frame)


def joint_state(seq=0):
    return JointState(
        header=header(seq),
        name=[f"panda_joint{i + 1}" for i in range(7)],
        position=[0.1 * i + seq for i in range(7)],
        velocity=[-0.25 * i for i in range(7)],
        effort=[1.5, -2.0, 0.0, 3.25, 1e-9, -1e300, 7.0],
    )


def float64_multi_array(seq=0):
    return Float64MultiArray(
        layout=MultiArrayLayout(dim=[MultiArrayDimension(label="joints", size=7, stride=7)], data_offset=0),
        data=[0.5 * i - seq for i in range(7)],
    )


def odometry(seq=0):
    return Odometry(
        header=header(seq, "odom"),
        child_frame_id="base_link",
        pose=PoseWithCovariance(
            pose=Pose(position=Point(x=1.0 + seq, y=-2.0, z=0.5), orientation=Quaternion(x=0.0, y=0.0, z=0.6, w=0.8)),
            covariance=[0.01 * i for i in range(36)],
        ),
        twist=TwistWithCovariance(
            twist=Twist(linear=Vector3(x=0.3, y=0.0, z=0.0), angular=Vector3(z=-0.7)),
            covariance=[float(i % 7) for i in range(36)],
        ),
    )


def twist(seq=0):
    return Twist(linear=Vector3(x=0.25 + seq, y=-0.125, z=0.0), angular=Vector3(x=0.0, y=0.0, z=1.5))


def laser_scan(seq=0):
    return LaserScan(
        header=header(seq, "laser"),
        angle_min=-1.5,
        angle_max=1.5,
        angle_increment=0.25,
        time_increment=0.0009765625,
        scan_time=0.125,
        range_min=0.0625,
        range_max=12.0,
        ranges=[0.5 + 0.25 * i + seq for i in range(13)],
        intensities=[float(i) for i in range(13)],
    )


def imu(seq=0):
    return Imu(
        header=header(seq, "imu"),
        orientation=Quaternion(x=0.0, y=0.6, z=0.0, w=0.8),
        orientation_covariance=[0.1 * i for i in range(9)],
        angular_velocity=Vector3(x=0.1, y=-0.2, z=0.3 + seq),
        angular_velocity_covariance=[1.0] * 9,
        linear_acceleration=Vector3(z=9.81),
        linear_acceleration_covariance=[0.0] * 9,
    )


def diagnostic_array(seq=0):
    return DiagnosticArray(
        header=header(seq),
        status=[
            DiagnosticStatus(level=DiagnosticStatus.WARN, name="controller: safety", message="rate limited",
                             hardware_id="arm", values=[KeyValue(key="events", value=str(seq))]),
            DiagnosticStatus(level=DiagnosticStatus.OK, name="controller: policy", message="ok"),
        ],
    )


def joy(seq=0):
    return Joy(header=header(seq), axes=[0.5, -1.0, 0.0], buttons=[1, 0, seq])


def twist_stamped(seq=0):
    return TwistStamped(header=header(seq), twist=twist(seq))


def clock(seq=0):
    return Clock(clock=Time(sec=42 + seq, nanosec=5))


def flag(seq=0):
    return Bool(data=seq % 2 == 0)


SAMPLES = {
    "sensor_msgs/msg/JointState": joint_state,
    "std_msgs/msg/Float64MultiArray": float64_multi_array,
    "nav_msgs/msg/Odometry": odometry,
    "geometry_msgs/msg/Twist": twist,
    "sensor_msgs/msg/LaserScan": laser_scan,
    "sensor_msgs/msg/Imu": imu,
    "diagnostic_msgs/msg/DiagnosticArray": diagnostic_array,
    "sensor_msgs/msg/Joy": joy,
    "geometry_msgs/msg/TwistStamped": twist_stamped,
    "rosgraph_msgs/msg/Clock": clock,
    "std_msgs/msg/Bool": flag,
}
"""ROS type name -> builder(seq) of a sample message (every type the rclpy wheels here provide)."""

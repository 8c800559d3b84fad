"""Reaching cluster nodes: SSH with pinned host keys, jumps via the controller, tunnels."""

"""The cluster's scheduler: Docker Swarm on the controller, driven with the docker SDK."""

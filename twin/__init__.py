"""The EC2 twin: moto answers the AWS API, and every instance it launches really boots.

clusterous's AWS path cannot be proven on moto alone: moto's instances never
run, so the user-data, IMDS, the EBS volume, the registry's S3 storage and
SSH to the controller are never exercised. The twin closes that gap on one
machine (DESIGN section 3, "EC2 twin"):

- ``front``: an HTTP endpoint on 127.0.0.1 in front of moto that forwards
  every call, sees the calls that change machines as they happen, and
  rewrites each instance's public IPv4 address to a loopback address of its
  own (``addresses``);
- ``materialise``: each instance becomes a node container (systemd +
  cloud-init with its own user-data) on a Docker network with the subnet's
  CIDR, at the instance's private address; EBS volumes are loop devices
  (``loopdev``); the controller's SSH is forwarded from its loopback address
  (``forward``);
- ``imds``: the instance metadata service, reached inside each node through
  an iptables DNAT, answering by source address, with the instance role's
  credentials from moto's STS;
- ``core.Twin`` puts them together; ``cli`` is ``scripts/aws-twin``.

Everything the twin makes carries the Docker label ``clusterous.twin=<id>``
or lives in its own directory, and ``Twin.stop`` removes all of it.
"""

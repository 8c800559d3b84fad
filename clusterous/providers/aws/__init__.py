"""The AWS EC2 provider: clusters made of a VPC, EC2 instances, a gp3 volume and an IAM role.

``ec2`` and ``iam`` are the thin typed wrappers over boto3 (methods named for
the domain, botocore errors translated at that border), ``pricing`` looks up
hourly prices, ``userdata`` turns the bootstrap into EC2 user-data, and
``provider`` implements the Provider interface with them. Everything here is
imported only when an AWS profile is used: boto3 stays out of ``--help``.
"""

"""The VPC the Batch jobs run in: public subnets only, no NAT gateway.

A NAT gateway costs about $33 a month per AZ before traffic, whether or not a job runs. Fargate
tasks in a public subnet with a public IP reach the internet (search engines, ECR) directly,
S3 traffic goes through a free gateway endpoint, and nothing can connect in: the security group
has no ingress rule.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.log_groups import log_group


class Network(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, log_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                )
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            restrict_default_security_group=True,
        )
        flow_logs = log_group(self, "FlowLogs", log_retention_days)
        # Rejected traffic only: the signal worth keeping, at a fraction of ALL's volume.
        self.vpc.add_flow_log(
            "RejectedTraffic",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        self.job_security_group = ec2.SecurityGroup(
            self,
            "JobSecurityGroup",
            vpc=self.vpc,
            description="traygo batch jobs: outbound only",
            allow_all_outbound=True,
        )
        self.job_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)

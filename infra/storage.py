"""The one bucket: images, models, backbones, features and feedback; private, encrypted, TLS
only, versioned, kept on delete. Debug captures and the canteen's feedback expire."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge, rendered_arn
from traygo import layout

DEBUG_EXPIRY_DAYS = 14
# Present only on conditional writes; S3 answers If-None-Match: * with 412 if the key exists.
CREATE_ONLY_CONDITION_KEY = "s3:if-none-match"
NONCURRENT_EXPIRY_DAYS = 30
DEBUG_PREFIX = layout.DEBUG + "/"  # every query's captures: one rule for all of them
FEEDBACK_PREFIX = layout.FEEDBACK + "/"  # pictures and records: one rule for both


class Storage(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, feedback_retention_days: int
    ) -> None:
        super().__init__(scope, construct_id)
        rules = [
            s3.LifecycleRule(
                id="expire-debug-captures",
                prefix=DEBUG_PREFIX,
                expiration=Duration.days(DEBUG_EXPIRY_DAYS),
                noncurrent_version_expiration=Duration.days(1),
            ),
            # Canteen pictures can show people: nothing under feedback/ lives for ever. A picture
            # is stored once, at its first correction, so a later record of the same picture
            # can outlive it; training skips a record whose picture is gone.
            s3.LifecycleRule(
                id="expire-feedback",
                prefix=FEEDBACK_PREFIX,
                expiration=Duration.days(feedback_retention_days),
                noncurrent_version_expiration=Duration.days(1),
            ),
        ]
        # Versioning guards against a bad overwrite; old versions need not live for ever.
        rules.append(
            s3.LifecycleRule(
                id="noncurrent-versions",
                noncurrent_version_expiration=Duration.days(NONCURRENT_EXPIRY_DAYS),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=rules,
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "One bucket by design; request auditing is CloudTrail data events (docs/deploy.md), "
            "which needs no second, unprotected log bucket.",
        )

    def objects(self, prefix: str) -> str:
        """The ARN of every object under `prefix` (e.g. "models/")."""
        return self.bucket.arn_for_objects(f"{prefix}*")

    def rendered_objects(self, pattern: str) -> str:
        """Objects matching `pattern` (e.g. "models/*") as cdk-nag names them in a finding."""
        return f"{rendered_arn(self.bucket)}/{pattern}"

    def list_statement(self) -> iam.PolicyStatement:
        """ListBucket on the bucket, with no prefix condition, on purpose.

        S3 answers a read of a missing key with 404 only to a caller allowed to list the bucket;
        with a prefix-conditioned ListBucket the implicit check fails and a missing live.json or
        manifest reads as 403 Access Denied. Listing shows key names (content hashes and
        versions), never content, which stays limited per prefix by object_statement.
        """
        return iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])

    def object_statement(self, actions: list[str], *prefixes: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(actions=actions, resources=[self.objects(p) for p in prefixes])

    def key_statement(self, actions: list[str], key: str) -> iam.PolicyStatement:
        """One key (or key pattern, e.g. models/*/live.json), not a whole prefix."""
        return iam.PolicyStatement(actions=actions, resources=[self.bucket.arn_for_objects(key)])

    def create_only_statement(self, *prefixes: str) -> iam.PolicyStatement:
        """PutObject only for requests that carry If-None-Match (S3 then refuses, with 412, to
        replace a key that exists): keys under these prefixes are written once."""
        return iam.PolicyStatement(
            actions=["s3:PutObject"],
            resources=[self.objects(p) for p in prefixes],
            conditions={"Null": {CREATE_ONLY_CONDITION_KEY: "false"}},
        )

"""The one bucket: images and models, private, encrypted, TLS only, versioned, kept on delete."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from traygo import layout
from traygo.labels import load_labels
from traygo.slug import slugify

DEBUG_EXPIRY_DAYS = 14
NONCURRENT_EXPIRY_DAYS = 30


def debug_prefixes() -> list[str]:
    """images/<slug>/_debug/ for every query of every configured label.

    S3 lifecycle filters match a literal prefix, not images/*/_debug/, so each query's debug
    folder gets its own rule; a label added later gets its rules on the next deploy.
    """
    slugs = {slugify(q) for label in load_labels().values() for q in label.queries}
    return [layout.debug_prefix(slug) for slug in sorted(slugs)]


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        rules = [
            s3.LifecycleRule(
                id=f"expire-{prefix.strip('/').replace('/', '-')}",
                prefix=prefix,
                expiration=Duration.days(DEBUG_EXPIRY_DAYS),
                noncurrent_version_expiration=Duration.days(1),
            )
            for prefix in debug_prefixes()
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

    def objects(self, prefix: str) -> str:
        """The ARN of every object under `prefix` (e.g. "models/")."""
        return self.bucket.arn_for_objects(f"{prefix}*")

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

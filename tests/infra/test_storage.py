"""The bucket's protections and lifecycle, as synthesized."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from infra.storage import DEBUG_EXPIRY_DAYS, debug_prefixes
from tests.infra.conftest import Synthesized
from traygo.labels import load_labels


def test_bucket_is_private_encrypted_versioned_and_kept(synthesized: Synthesized) -> None:
    _, bucket = synthesized.one("AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"


def test_bucket_policy_refuses_plain_http(synthesized: Synthesized) -> None:
    Template.from_json(synthesized.template).has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                "Principal": {"AWS": "*"},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_debug_objects_expire_for_every_query_of_every_label(synthesized: Synthesized) -> None:
    _, bucket = synthesized.one("AWS::S3::Bucket")
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {r["Prefix"]: r["ExpirationInDays"] for r in rules if "Prefix" in r}
    queries = {q for label in load_labels().values() for q in label.queries}
    assert "images/pizza-slice/_debug/" in expiring
    assert "images/frittata/_debug/" in expiring
    assert set(expiring) == set(debug_prefixes())
    assert len(expiring) == len(queries)  # distinct queries have distinct slugs
    assert set(expiring.values()) == {DEBUG_EXPIRY_DAYS}
    # Nothing outside a _debug/ folder expires: images and models are kept.
    assert all(p.endswith("/_debug/") for p in expiring)
    whole_bucket = [r for r in rules if "Prefix" not in r]
    assert all("ExpirationInDays" not in r for r in whole_bucket)

"""The bucket's protections and lifecycle, as synthesized."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match, Template

from infra.storage import DEBUG_EXPIRY_DAYS
from tests.infra.conftest import Synthesized, synth
from traygo import layout


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


def lifecycle_rules(synthesized: Synthesized) -> list[dict[str, Any]]:
    _, bucket = synthesized.one("AWS::S3::Bucket")
    return list(bucket["Properties"]["LifecycleConfiguration"]["Rules"])


def test_one_rule_expires_every_querys_debug_captures(synthesized: Synthesized) -> None:
    rules = lifecycle_rules(synthesized)
    expiring = [r for r in rules if "ExpirationInDays" in r]
    assert {r["Prefix"] for r in expiring} == {"images/_debug/", "feedback/"}
    (rule,) = [r for r in expiring if r["Prefix"].startswith("images/")]
    assert rule["ExpirationInDays"] == DEBUG_EXPIRY_DAYS
    # The scraper writes captures through layout.debug_prefix; every slug's lands under it.
    for slug in ("pizza-slice", "frittata", "hot-dog-in-bun"):
        assert layout.debug_prefix(slug).startswith(rule["Prefix"])
    assert not layout.query_prefix("pizza").startswith(rule["Prefix"])  # images are kept
    whole_bucket = [r for r in rules if "Prefix" not in r]
    assert all("ExpirationInDays" not in r for r in whole_bucket)


def test_feedback_expires_after_a_year_by_default(synthesized: Synthesized) -> None:
    """Canteen pictures can show people; pictures and records go under one rule."""
    (rule,) = [r for r in lifecycle_rules(synthesized) if r.get("Prefix") == "feedback/"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == 365
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    for key in (layout.feedback_image_key("ab" * 32, "jpg"), layout.feedback_record_key("c0ffee")):
        assert key.startswith(rule["Prefix"])
    assert not layout.live_key("pizza").startswith(rule["Prefix"])


def test_feedback_retention_from_context(tmp_path: Path) -> None:
    custom = synth(tmp_path, {"feedbackRetentionDays": "30"})
    (rule,) = [r for r in lifecycle_rules(custom) if r.get("Prefix") == "feedback/"]
    assert rule["ExpirationInDays"] == 30

"""The inference Lambda (from `make lambda-bundle`) behind an API Gateway REST API.

GET /, /health and /openapi.json are public; POST /predict, POST /feedback and GET /models need
the API key; /predict and /feedback each have their own throttle in the usage plan, under one
daily quota per key. The Lambda reads models/, backbones/ and feedback/records/, and writes only
under feedback/, create-only. Errors that API Gateway answers itself (body too large, throttled,
no key, ...) have the product's JSON error shape and CORS headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs_
from constructs import Construct

from infra.gateway_errors import add_gateway_responses
from infra.log_groups import log_group
from infra.nag import PREFIX_WILDCARD, PUBLIC_ROUTE, Grant, acknowledge, acknowledge_grant
from infra.storage import Storage
from traygo import layout
from traygo.errors import ConfigError

HANDLER = "lambdas.inference.handler.handler"
HANDLER_FILE = "lambdas/inference/handler.py"
BINARY_MEDIA_TYPES = ["image/*", "application/octet-stream"]
# API Gateway gives a REST integration at most 29 s; the Lambda stops just before.
TIMEOUT = Duration.seconds(28)
PUBLIC_ROUTES = (("GET", ""), ("GET", "health"), ("GET", "openapi.json"))
KEYED_ROUTES = (("POST", "predict"), ("POST", "feedback"), ("GET", "models"))
# Binary bodies reach Lambda base64-encoded (4 bytes per 3) inside a JSON event, and Lambda takes
# at most 6 MB per synchronous request; ENVELOPE leaves room for headers and request context.
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
ENVELOPE = 140 * 1024
MAX_REQUEST_BYTES = (LAMBDA_PAYLOAD_LIMIT - ENVELOPE) // 4 * 3  # 4,611,072 bytes, 4.4 MiB
KEYED_ROUTE = "The API key and usage plan authorize callers (a machine-to-machine API, no users)."
FEEDBACK_KEYS = (
    "a correction's picture is named by its sha256 and its record by a hash of picture and "
    "truth, both made per request, so only a prefix fits; create-only, so the API can never "
    "replace or delete what it stored"
)


@dataclass(frozen=True, kw_only=True)
class ApiProps:
    stage: str
    lambda_bundle: Path  # from `make lambda-bundle`
    lambda_memory_mb: int
    lambda_reserved_concurrency: int | None  # None: share the account's unreserved pool
    api_rate_limit: float  # per key; the stage allows twice this
    api_burst_limit: int
    api_quota_per_day: int
    feedback_rate_limit: float  # per key, its own throttle: each call stores a picture
    feedback_burst_limit: int
    log_retention_days: int
    cors_origins: tuple[str, ...] = ()


def check_bundle(bundle: Path) -> Path:
    if not (bundle / HANDLER_FILE).is_file():
        raise ConfigError(
            f"context lambdaBundle={str(bundle)!r}: no Lambda bundle there ({HANDLER_FILE} is "
            "missing); run `make lambda-bundle` first"
        )
    return bundle


class InferenceApi(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, props: ApiProps, storage: Storage
    ) -> None:
        super().__init__(scope, construct_id)
        bundle = check_bundle(props.lambda_bundle)
        self.function = self._function(props, storage, bundle)
        self.api = self._api(props)
        integration = apigw.LambdaIntegration(self.function)
        self.methods: dict[str, apigw.Method] = {}
        for verb, path in PUBLIC_ROUTES + KEYED_ROUTES:
            resource = self.api.root.resource_for_path(path) if path else self.api.root
            keyed = (verb, path) in KEYED_ROUTES
            route = f"{verb} /{path}"
            method = resource.add_method(verb, integration, api_key_required=keyed)
            reason = f"{route}: {KEYED_ROUTE if keyed else PUBLIC_ROUTE}"
            acknowledge(method, "AwsSolutions-APIG4", reason)
            acknowledge(method, "AwsSolutions-COG4", reason)
            self.methods[route] = method
        self.api_key = self._usage_plan(props)
        add_gateway_responses(self.api, props.cors_origins, MAX_REQUEST_BYTES)

    def _function(self, props: ApiProps, storage: Storage, bundle: Path) -> lambda_.Function:
        logs = log_group(self, "FunctionLogs", props.log_retention_days)
        role = self._function_role(storage, logs)
        function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(bundle)),
            memory_size=props.lambda_memory_mb,
            # A flood of /predict must not take every concurrent execution in the account.
            reserved_concurrent_executions=props.lambda_reserved_concurrency,
            timeout=TIMEOUT,
            role=role,
            log_group=logs,
            environment={
                "TRAYGO_STORE": f"s3://{storage.bucket.bucket_name}",
                "TRAYGO_CORS_ORIGINS": ",".join(props.cors_origins),
                "TRAYGO_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
                "POWERTOOLS_SERVICE_NAME": "traygo-inference",
            },
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "The bundle is built for python3.12 (contract 4: manylinux wheels for that version); "
            "move to a newer runtime together with build-bundle.sh.",
        )
        return function

    def _function_role(self, storage: Storage, logs: logs_.ILogGroup) -> iam.Role:
        # Own role, so no managed policy: write its log group, read models and backbones, and
        # store corrections (read back a record on a repeat); nothing else.
        role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="traygo inference: reads models/, backbones/; creates under feedback/",
        )
        role.add_to_policy(storage.list_statement())
        reads = (layout.MODELS + "/", layout.BACKBONES + "/", layout.FEEDBACK_RECORDS)
        role.add_to_policy(storage.object_statement(["s3:GetObject"], *reads))
        # Create-only: a repeated correction finds its key taken (412), never replaces it.
        role.add_to_policy(storage.create_only_statement(layout.FEEDBACK + "/"))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[logs.log_group_arn],
            )
        )
        for prefix in (layout.MODELS, layout.BACKBONES):
            read = Grant(storage.rendered_objects(f"{prefix}/*"), ("s3:GetObject",))
            acknowledge_grant(role, read, PREFIX_WILDCARD)
        records = Grant(storage.rendered_objects(f"{layout.FEEDBACK_RECORDS}*"), ("s3:GetObject",))
        acknowledge_grant(role, records, FEEDBACK_KEYS)
        create = Grant(storage.rendered_objects(f"{layout.FEEDBACK}/*"), (), ("s3:PutObject",))
        acknowledge_grant(role, create, FEEDBACK_KEYS)
        return role

    def _api(self, props: ApiProps) -> apigw.RestApi:
        access_logs = log_group(self, "AccessLogs", props.log_retention_days)
        cors = (
            apigw.CorsOptions(
                allow_origins=list(props.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Content-Type", "x-api-key"],
                max_age=Duration.hours(1),
            )
            if props.cors_origins
            else None
        )
        api = apigw.RestApi(
            self,
            "Api",
            description="traygo inference",
            binary_media_types=BINARY_MEDIA_TYPES,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            default_cors_preflight_options=cors,
            deploy_options=apigw.StageOptions(
                stage_name=props.stage,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,  # X-Ray: where a slow /predict spends its time
                throttling_rate_limit=props.api_rate_limit * 2,
                throttling_burst_limit=props.api_burst_limit * 2,
            ),
        )
        _acknowledge_api_findings(api)
        return api

    def _usage_plan(self, props: ApiProps) -> apigw.IApiKey:
        throttle = apigw.ThrottleSettings(
            rate_limit=props.api_rate_limit, burst_limit=props.api_burst_limit
        )
        key = apigw.ApiKey(self, "ApiKey", description="traygo inference API key")
        plan = apigw.UsagePlan(
            self,
            "UsagePlan",
            description="traygo: throttle and daily quota per key",
            throttle=throttle,
            quota=apigw.QuotaSettings(limit=props.api_quota_per_day, period=apigw.Period.DAY),
        )
        feedback = apigw.ThrottleSettings(
            rate_limit=props.feedback_rate_limit, burst_limit=props.feedback_burst_limit
        )
        plan.add_api_key(key)
        plan.add_api_stage(
            api=self.api,
            stage=self.api.deployment_stage,
            throttle=[
                apigw.ThrottlingPerMethod(method=self.methods["POST /predict"], throttle=throttle),
                # Each correction stores a picture: a key flooding /feedback must not fill the
                # bucket at /predict's rate.
                apigw.ThrottlingPerMethod(method=self.methods["POST /feedback"], throttle=feedback),
            ],
        )
        return key


def _acknowledge_api_findings(api: apigw.RestApi) -> None:
    acknowledge(
        api,
        "AwsSolutions-APIG2",
        "The Lambda validates every request (JSON, base64, image type and size) and answers "
        "typed 4xx errors; a gateway model cannot describe raw image bodies.",
    )
    acknowledge(
        api.node.find_child("CloudWatchRole"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]",
        "API Gateway's account-wide logging role; AWS's policy is the documented one for it.",
    )
    acknowledge(
        api.deployment_stage,
        "AwsSolutions-APIG3",
        "WAF costs at least $5 a month plus $1 per rule; the usage plan's throttle and quota "
        "bound abuse. Add a web ACL for public production use.",
    )

"""The inference Lambda (from `make lambda-bundle`) behind an API Gateway REST API.

GET /, /health and /openapi.json are public; POST /predict and GET /models need the API key,
and /predict has its own throttle and a daily quota in the usage plan. The Lambda reads
models/ and backbones/ and nothing else. Errors that API Gateway answers itself (body too
large, throttled, no key, ...) have the product's JSON error shape and CORS headers.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.gateway_errors import add_gateway_responses
from infra.log_groups import log_group
from infra.settings import StackSettings
from infra.storage import Storage
from traygo import layout
from traygo.errors import ConfigError

HANDLER = "lambdas.inference.handler.handler"
HANDLER_FILE = "lambdas/inference/handler.py"
BINARY_MEDIA_TYPES = ["image/*", "application/octet-stream"]
# API Gateway gives a REST integration at most 29 s; the Lambda stops just before.
TIMEOUT = Duration.seconds(28)
PUBLIC_ROUTES = (("GET", ""), ("GET", "health"), ("GET", "openapi.json"))
KEYED_ROUTES = (("POST", "predict"), ("GET", "models"))
# Binary bodies reach Lambda base64-encoded (4 bytes per 3) inside a JSON event, and Lambda takes
# at most 6 MB per synchronous request; ENVELOPE leaves room for headers and request context.
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
ENVELOPE = 140 * 1024
MAX_REQUEST_BYTES = (LAMBDA_PAYLOAD_LIMIT - ENVELOPE) // 4 * 3  # 4,611,072 bytes, 4.4 MiB


def check_bundle(bundle: Path) -> Path:
    if not (bundle / HANDLER_FILE).is_file():
        raise ConfigError(
            f"context lambdaBundle={str(bundle)!r}: no Lambda bundle there ({HANDLER_FILE} is "
            "missing); run `make lambda-bundle` first"
        )
    return bundle


class InferenceApi(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: StackSettings, storage: Storage
    ) -> None:
        super().__init__(scope, construct_id)
        bundle = check_bundle(settings.lambda_bundle)
        self.function = self._function(settings, storage, bundle)
        self.api = self._api(settings)
        integration = apigw.LambdaIntegration(self.function)
        self.methods: dict[str, apigw.Method] = {}
        self.keyed_methods: set[str] = set()
        for verb, path in PUBLIC_ROUTES + KEYED_ROUTES:
            resource = self.api.root.resource_for_path(path) if path else self.api.root
            keyed = (verb, path) in KEYED_ROUTES
            route = f"{verb} /{path}"
            self.methods[route] = resource.add_method(verb, integration, api_key_required=keyed)
            if keyed:
                self.keyed_methods.add(route)
        self.api_key = self._usage_plan(settings)
        add_gateway_responses(self.api, settings.cors_origins, MAX_REQUEST_BYTES)

    def _function(
        self, settings: StackSettings, storage: Storage, bundle: Path
    ) -> lambda_.Function:
        logs = log_group(self, "FunctionLogs", settings.log_retention_days)
        # Own role, so no managed policy: write its log group, read models/, nothing else.
        role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="traygo inference: reads models/ and backbones/ only",
        )
        role.add_to_policy(storage.list_statement())
        role.add_to_policy(
            storage.object_statement(["s3:GetObject"], layout.MODELS + "/", layout.BACKBONES + "/")
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[logs.log_group_arn],
            )
        )
        return lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(bundle)),
            memory_size=settings.lambda_memory_mb,
            # A flood of /predict must not take every concurrent execution in the account.
            reserved_concurrent_executions=settings.lambda_reserved_concurrency,
            timeout=TIMEOUT,
            role=role,
            log_group=logs,
            environment={
                "TRAYGO_STORE": f"s3://{storage.bucket.bucket_name}",
                "TRAYGO_CORS_ORIGINS": ",".join(settings.cors_origins),
                "TRAYGO_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
                "POWERTOOLS_SERVICE_NAME": "traygo-inference",
            },
        )

    def _api(self, settings: StackSettings) -> apigw.RestApi:
        access_logs = log_group(self, "AccessLogs", settings.log_retention_days)
        cors = (
            apigw.CorsOptions(
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Content-Type", "x-api-key"],
                max_age=Duration.hours(1),
            )
            if settings.cors_origins
            else None
        )
        return apigw.RestApi(
            self,
            "Api",
            description="traygo inference",
            binary_media_types=BINARY_MEDIA_TYPES,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            default_cors_preflight_options=cors,
            deploy_options=apigw.StageOptions(
                stage_name=settings.stage,
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
                throttling_rate_limit=settings.api_rate_limit * 2,
                throttling_burst_limit=settings.api_burst_limit * 2,
            ),
        )

    def _usage_plan(self, settings: StackSettings) -> apigw.IApiKey:
        throttle = apigw.ThrottleSettings(
            rate_limit=settings.api_rate_limit, burst_limit=settings.api_burst_limit
        )
        key = apigw.ApiKey(self, "ApiKey", description="traygo inference API key")
        plan = apigw.UsagePlan(
            self,
            "UsagePlan",
            description="traygo: throttle and daily quota per key",
            throttle=throttle,
            quota=apigw.QuotaSettings(limit=settings.api_quota_per_day, period=apigw.Period.DAY),
        )
        plan.add_api_key(key)
        plan.add_api_stage(
            api=self.api,
            stage=self.api.deployment_stage,
            throttle=[
                apigw.ThrottlingPerMethod(method=self.methods["POST /predict"], throttle=throttle)
            ],
        )
        return key

"""AWS Batch on Fargate: compute (Spot first where allowed), one queue, and the jobs.

The jobs' commands follow the batch-job contract (DESIGN.md, contract 3): both images have
ENTRYPOINT ["traygo"], and values the caller chooses come in as Batch parameters (Ref::name),
so Step Functions and `traygo submit` start the same job definitions the same way.

The background job scrapes the label config's background pool: the scrape job's image and role,
its own command and a timeout sized for the pool. Its `when` parameter is `--if-missing` (the
pipeline's first step: a quick no-op when the store has the pool) or `--always`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Duration, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import timeouts
from infra.log_groups import log_group
from infra.nag import NO_RESOURCE_LEVEL, PREFIX_WILDCARD, Grant, acknowledge_grant
from infra.network import Network
from infra.storage import Storage
from traygo import layout
from traygo.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
# Not part of any image, and caches that would change the image hash (a rebuild on every
# deploy) without changing the image; .dockerignore adds its own list on top of this one.
_ASSET_EXCLUDES = [
    ".git",
    "node_modules",
    "cdk.out",
    "build",
    ".venv*",
    ".traygo",
    "docs",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
    "**/__pycache__",
]

# Infrastructure failures worth another attempt on Fargate (Spot); every other failure (the
# job's own non-zero exit) ends the job at once. Batch allows five conditions and matches only a
# trailing `*`. A start failure sets the job's status reason to "Task failed to start" and puts
# the cause in the container's reason; "Host EC2*" would never match: only EC2 compute says it.
RETRY_ON_REASON = (  # the container's reason
    "CannotPullContainerError*",
    "ResourceInitializationError*",
)
RETRY_ON_STATUS = (  # the job attempt's status reason
    "Your Spot Task was interrupted*",
    "Task failed to start*",
)
RETRY_ATTEMPTS = timeouts.RETRY_ATTEMPTS
# Every run's layout.backbone_checkpoint_prefix(run_id): the tune job's only deletable keys.
BACKBONE_CHECKPOINTS = f"{layout.BACKBONES}/_checkpoints/"


@dataclass(frozen=True, kw_only=True)
class JobsProps:
    spot: bool  # Fargate Spot first, on-demand Fargate after it
    max_vcpus: int
    min_accuracy: float  # the train job's default gate
    log_retention_days: int
    base_image: str | None = None  # the Dockerfiles' BASE_IMAGE; None keeps theirs
    image_source: Path | None = None  # None: the repository root


@dataclass(frozen=True)
class JobSpec:
    name: str
    dockerfile: str
    command: tuple[str, ...]
    vcpus: float
    memory_mib: int
    timeout: Duration
    parameters: dict[str, str]
    role: str = ""  # whose job role it runs with; "" for its own
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def role_name(self) -> str:
        return self.role or self.name


def job_specs(min_accuracy: float) -> dict[str, JobSpec]:
    return {
        "scrape": JobSpec(
            "scrape",
            "scraper/Dockerfile",
            ("scrape", "--query", "Ref::query"),
            vcpus=2,
            memory_mib=4096,  # Chromium plus 16 concurrent downloads
            timeout=timeouts.job_timeout("scrape"),
            parameters={},
        ),
        "background": JobSpec(
            "background",
            "scraper/Dockerfile",
            ("scrape", "--background", "Ref::when"),
            vcpus=2,
            memory_mib=4096,
            timeout=timeouts.job_timeout("background"),
            parameters={"when": "--if-missing"},
            role="scrape",  # the same images/* grants: it is a scrape of other queries
        ),
        "train": JobSpec(
            "train",
            "training/Dockerfile",
            ("train", "--label", "Ref::label", "--resume", "--min-accuracy", "Ref::minAccuracy"),
            vcpus=4,
            memory_mib=16384,
            timeout=timeouts.job_timeout("train"),
            parameters={"minAccuracy": f"{min_accuracy:g}"},
        ),
        # The scheduled retrain (infra/retrain.py): every label with new feedback, each
        # promoted when its gate passes. Its own role: train's grants and the live pointers.
        "retrain": JobSpec(
            "retrain",
            "training/Dockerfile",
            (
                "train",
                "--all-labels",
                "--promote",
                "--if-new-feedback",
                "--min-accuracy",
                "Ref::minAccuracy",
            ),
            vcpus=4,
            memory_mib=16384,
            timeout=timeouts.job_timeout("train"),
            parameters={"minAccuracy": f"{min_accuracy:g}"},
        ),
        "promote": JobSpec(
            "promote",
            "training/Dockerfile",
            ("models", "promote", "Ref::label", "--latest", "--if-gate-passed"),
            vcpus=0.25,
            memory_mib=512,
            timeout=timeouts.job_timeout("promote"),
            parameters={},
        ),
        # The backbone pipeline's first step (infra/backbone_pipeline.py): a new backbone
        # version, made current only if it beats its parent (else the job fails, and the
        # pipeline trains nothing on it). Its checkpoints are per Batch job id, so a retried
        # attempt (same id) resumes.
        "tune": JobSpec(
            "tune",
            "training/Dockerfile",
            ("backbone", "tune", "--make-current", "--resume"),
            vcpus=4,
            memory_mib=16384,
            timeout=timeouts.job_timeout("tune"),
            parameters={},
        ),
    }


def retry_strategies() -> list[batch.RetryStrategy]:
    reasons = [batch.Reason.custom(on_reason=r) for r in RETRY_ON_REASON]
    reasons += [batch.Reason.custom(on_status_reason=r) for r in RETRY_ON_STATUS]
    retries = [batch.RetryStrategy.of(batch.Action.RETRY, reason) for reason in reasons]
    return [*retries, batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_reason="*"))]


class BatchJobs(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: JobsProps,
        network: Network,
        storage: Storage,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = batch.JobQueue(
            self, "Queue", compute_environments=self._compute(props, network)
        )
        self.log_group = log_group(self, "Logs", props.log_retention_days)
        images = {
            dockerfile: self._image(dockerfile, props)
            for dockerfile in ("scraper/Dockerfile", "training/Dockerfile")
        }
        self.roles = roles = self._job_roles(storage)
        _acknowledge_role_wildcards(roles, storage)
        self.definitions: dict[str, batch.EcsJobDefinition] = {}
        for name, spec in job_specs(props.min_accuracy).items():
            self.definitions[name] = self._definition(
                spec, images[spec.dockerfile], roles[spec.role_name], storage
            )

    def _compute(self, props: JobsProps, network: Network) -> list[batch.OrderedComputeEnvironment]:
        kinds = [True, False] if props.spot else [False]
        return [
            batch.OrderedComputeEnvironment(
                compute_environment=batch.FargateComputeEnvironment(
                    self,
                    "FargateSpot" if spot else "Fargate",
                    vpc=network.vpc,
                    vpc_subnets=network.job_subnets,
                    security_groups=[network.job_security_group],
                    spot=spot,
                    maxv_cpus=props.max_vcpus,
                ),
                order=order,
            )
            for order, spot in enumerate(kinds, start=1)
        ]

    def _image(self, dockerfile: str, props: JobsProps) -> ecs.ContainerImage:
        # Referenced only: `cdk deploy` builds and pushes it, `cdk synth` needs no Docker.
        source = props.image_source or REPO_ROOT
        if not (source / dockerfile).is_file():
            raise ConfigError(f"{source / dockerfile}: no such Dockerfile for the job images")
        build_args = {"BASE_IMAGE": props.base_image} if props.base_image else None
        return ecs.ContainerImage.from_asset(
            str(source),
            file=dockerfile,
            build_args=build_args,
            platform=ecr_assets.Platform.LINUX_AMD64,
            exclude=_ASSET_EXCLUDES,
        )

    def _job_roles(self, storage: Storage) -> dict[str, iam.Role]:
        images, models = layout.IMAGES + "/", layout.MODELS + "/"
        grants = {
            # Reads its manifest, writes images and debug captures; never sees models.
            "scrape": [storage.object_statement(["s3:GetObject", "s3:PutObject"], images)],
            # Published versions, backbones and cached features are write-once: training may
            # create keys there (If-None-Match: *), never replace or delete them. Checkpoints
            # are its scratch space, and current.json says which backbone new heads train on.
            # It reads the canteen's corrections (records and pictures), never writes them.
            "train": [*_train_grants(storage), _deny_live_pointer(storage)],
            # Trains as train does, and promotes through the gate (train --promote).
            "retrain": [*_train_grants(storage), _live_pointers(storage)],
            # Reads a version's metadata and moves the live pointer, nothing else.
            "promote": [
                storage.object_statement(["s3:GetObject"], models),
                _live_pointers(storage),
            ],
            # A new backbone version and its features; never a model or a live pointer.
            "tune": _tune_grants(storage),
        }
        roles = {}
        for name, statements in grants.items():
            role = iam.Role(
                self,
                f"{name.capitalize()}JobRole",
                assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                description=f"traygo {name} job: its S3 prefixes only",
            )
            for statement in [storage.list_statement(), *statements]:
                role.add_to_policy(statement)
            roles[name] = role
        return roles

    def _definition(
        self, spec: JobSpec, image: ecs.ContainerImage, role: iam.Role, storage: Storage
    ) -> batch.EcsJobDefinition:
        container = batch.EcsFargateContainerDefinition(
            self,
            f"{spec.name.capitalize()}Container",
            image=image,
            command=list(spec.command),
            cpu=spec.vcpus,
            memory=Size.mebibytes(spec.memory_mib),
            job_role=role,
            environment={"TRAYGO_STORE": f"s3://{storage.bucket.bucket_name}", **spec.environment},
            assign_public_ip=True,  # public subnet, no NAT: the only way out
            fargate_cpu_architecture=ecs.CpuArchitecture.X86_64,
            logging=ecs.LogDriver.aws_logs(stream_prefix=spec.name, log_group=self.log_group),
        )
        acknowledge_grant(
            container.execution_role, Grant("*", ("ecr:GetAuthorizationToken",)), NO_RESOURCE_LEVEL
        )
        return batch.EcsJobDefinition(
            self,
            f"{spec.name.capitalize()}Job",
            container=container,
            parameters=spec.parameters or None,
            retry_attempts=RETRY_ATTEMPTS,
            retry_strategies=retry_strategies(),
            timeout=spec.timeout,
            propagate_tags=True,
        )


def _train_grants(storage: Storage) -> list[iam.PolicyStatement]:
    """Published versions, backbones and cached features are write-once: training may create
    keys there (If-None-Match: *), never replace or delete them. Checkpoints are its scratch
    space, and current.json says which backbone new heads train on. It reads the canteen's
    corrections (records and pictures), never writes them."""
    images, models = layout.IMAGES + "/", layout.MODELS + "/"
    backbones, features = layout.BACKBONES + "/", layout.FEATURES + "/"
    return [
        storage.object_statement(
            ["s3:GetObject"], images, models, backbones, features, layout.FEEDBACK + "/"
        ),
        storage.create_only_statement(models, backbones, features),
        storage.object_statement(["s3:PutObject", "s3:DeleteObject"], f"{models}*/_checkpoints/"),
        storage.key_statement(["s3:PutObject"], layout.current_backbone_key()),
    ]


def _tune_grants(storage: Storage) -> list[iam.PolicyStatement]:
    """It reads the labelled images and the pool (both under images/) and the backbone it
    starts from; it creates the new version's keys write-once, keeps its scratch checkpoints,
    and moves current.json. Features, corrections and models/ are not its."""
    backbones = layout.BACKBONES + "/"
    return [
        storage.object_statement(["s3:GetObject"], layout.IMAGES + "/", backbones),
        storage.create_only_statement(backbones),
        storage.object_statement(["s3:PutObject", "s3:DeleteObject"], BACKBONE_CHECKPOINTS),
        storage.key_statement(["s3:PutObject"], layout.current_backbone_key()),
    ]


def _live_pointers(storage: Storage) -> iam.PolicyStatement:
    return storage.key_statement(["s3:PutObject"], f"{layout.MODELS}/*/live.json")


def _deny_live_pointer(storage: Storage) -> iam.PolicyStatement:
    # Training publishes versions; only the promote step may move what is live.
    return iam.PolicyStatement(
        effect=iam.Effect.DENY,
        actions=["s3:PutObject", "s3:DeleteObject"],
        resources=[storage.bucket.arn_for_objects(f"{layout.MODELS}/*/live.json")],
    )


def _acknowledge_role_wildcards(roles: dict[str, iam.Role], storage: Storage) -> None:
    """The reviewed wildcards of _job_roles' grants, role by role."""
    on = storage.rendered_objects
    images, models = f"{layout.IMAGES}/*", f"{layout.MODELS}/*"
    backbones, features = f"{layout.BACKBONES}/*", f"{layout.FEATURES}/*"
    read, write_once = ("s3:GetObject",), ("s3:PutObject",)
    scrape, promote = roles["scrape"], roles["promote"]
    acknowledge_grant(scrape, Grant(on(images), ("s3:GetObject", "s3:PutObject")), PREFIX_WILDCARD)
    for train in (roles["train"], roles["retrain"]):
        for prefix in (models, backbones, features):
            acknowledge_grant(train, Grant(on(prefix), read, write_once), PREFIX_WILDCARD)
        acknowledge_grant(train, Grant(on(images), read), PREFIX_WILDCARD)
        acknowledge_grant(train, Grant(on(f"{layout.FEEDBACK}/*"), read), PREFIX_WILDCARD)
        acknowledge_grant(
            train,
            Grant(on(f"{layout.MODELS}/*/_checkpoints/*"), ("s3:DeleteObject", "s3:PutObject")),
            "its runs' scratch space (run ids are Batch job ids); published versions are not in it",
        )
    acknowledge_grant(promote, Grant(on(models), read), PREFIX_WILDCARD)
    _acknowledge_tune_wildcards(roles["tune"], storage)
    for mover in (promote, roles["retrain"]):
        acknowledge_grant(
            mover,
            Grant(on(f"{layout.MODELS}/*/live.json"), ("s3:PutObject",)),
            "one live pointer per label, and labels are configuration, not known to the stack",
        )


def _acknowledge_tune_wildcards(tune: iam.Role, storage: Storage) -> None:
    on = storage.rendered_objects
    read = ("s3:GetObject",)
    backbones = f"{layout.BACKBONES}/*"
    acknowledge_grant(tune, Grant(on(backbones), read, ("s3:PutObject",)), PREFIX_WILDCARD)
    acknowledge_grant(tune, Grant(on(f"{layout.IMAGES}/*"), read), PREFIX_WILDCARD)
    acknowledge_grant(
        tune,
        Grant(on(f"{BACKBONE_CHECKPOINTS}*"), ("s3:DeleteObject", "s3:PutObject")),
        "its runs' scratch space (run ids are Batch job ids); published backbones are not in it",
    )

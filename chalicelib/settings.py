"""Every setting of the service in one place, read from environment variables.

Chalice sets a stage's ``environment_variables`` (``.chalice/config.json``) before
``app.py`` is imported; the local stack and the tests set the same variables.
"""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

#: Webhooks allowed per webhook type (the part of the event name before the dot).
DEFAULT_PLAN_LIMITS = "trial=3,basic=2,pro=2,freelancer=2,enterprise=3"
#: Plans that may subscribe to ``project.budget_notification`` (Clockodo: Trial and Enterprise).
DEFAULT_BUDGET_NOTIFICATION_PLANS = "trial,enterprise"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: After a failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (delivery.schedule).
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)

#: Chalice needs a stream ARN when app.py is imported; the deployment template wires the
#: real stream of the resources table to the function, and the local stack sets the real
#: ARN of its moto stream.
PLACEHOLDER_STREAM_ARN = (
    "arn:aws:dynamodb:eu-central-1:000000000000:table/resources/stream/set-by-the-template"
)


class SettingError(ValueError):
    """A setting has a value the service cannot run with."""


@dataclass(frozen=True)
class Settings:
    """The service's configuration; see the README's "Configuration" table."""

    stage: str = "dev"
    table_prefix: str = "clockodo-webhooks-dev"
    allow_http: bool = False
    allowed_networks: tuple[Network, ...] = ()
    plan_limits: Mapping[str, int] = field(default_factory=dict)
    budget_notification_plans: frozenset[str] = frozenset()
    validation_secret_ttl_seconds: int = 3600
    validation_max_attempts: int = 5
    validation_timeout_seconds: float = 5.0
    max_body_bytes: int = 64 * 1024
    delivery_queue_name: str = "clockodo-webhooks-dev-deliveries"
    slow_queue_name: str = "clockodo-webhooks-dev-deliveries-slow"
    burst_queue_name: str = "clockodo-webhooks-dev-deliveries-bursts"
    company_share_per_second: int = 50
    resources_stream_arn: str = PLACEHOLDER_STREAM_ARN
    delivery_connect_timeout_seconds: float = 5.0
    delivery_timeout_seconds: float = 15.0
    delivery_concurrency: int = 50
    endpoint_concurrency: int = 10
    delivery_log_retention_days: int = 30
    retry_schedule: tuple[int, ...] = DEFAULT_RETRY_SCHEDULE
    retry_after_cap_seconds: int = 3600
    disable_after_seconds: int = 5 * 86400
    secret_grace_seconds: int = 86400
    recover_max_days: int = 14
    rate_limit_per_minute: int = 900
    validations_per_hour: int = 10
    id_block_size: int = 100

    @property
    def dead_letter_queue_name(self) -> str:
        """The delivery queues' dead-letter queue (the template names it so)."""
        return f"{self.delivery_queue_name}-dlq"

    @property
    def recovery_queue_name(self) -> str:
        """The queue of recovery jobs' steps (the template names it so)."""
        return f"{self.table_prefix}-recoveries"

    @property
    def fanout_failure_queue_name(self) -> str:
        """Where the fan-out keeps what it could not process (the template names it so)."""
        return f"{self.table_prefix}-fanout-failures"

    def table(self, name: str) -> str:
        """The DynamoDB table name of one of the service's tables."""
        return f"{self.table_prefix}-{name}"


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise SettingError(f"{name} must be true or false, not {value!r}")


def _number(value: str, name: str, cast: type[int] | type[float]) -> float:
    try:
        number = cast(value)
    except ValueError:
        raise SettingError(f"{name} must be a number, not {value!r}") from None
    if number <= 0:
        raise SettingError(f"{name} must be positive, not {value!r}")
    return number


def parse_networks(value: str) -> tuple[Network, ...]:
    """Parse a comma-separated list of CIDRs (``WEBHOOKS_ALLOWED_NETWORKS``)."""
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingError(f"WEBHOOKS_ALLOWED_NETWORKS: {part!r} is not a CIDR") from None
    return tuple(networks)


def parse_plan_limits(value: str) -> dict[str, int]:
    """Parse ``plan=limit`` pairs (``WEBHOOKS_PLAN_LIMITS``)."""
    limits: dict[str, int] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        plan, sep, number = part.partition("=")
        if not sep or not number.strip().isdigit():
            raise SettingError(f"WEBHOOKS_PLAN_LIMITS: {part!r} is not plan=number")
        limits[plan.strip()] = int(number)
    return limits


def from_environ(env: Mapping[str, str]) -> Settings:
    """Build the settings from an environment mapping (``os.environ`` in production)."""
    stage = env.get("WEBHOOKS_STAGE", "dev")
    return Settings(
        stage=stage,
        table_prefix=env.get("WEBHOOKS_TABLE_PREFIX", f"clockodo-webhooks-{stage}"),
        allow_http=_flag(env.get("WEBHOOKS_ALLOW_HTTP", "false"), "WEBHOOKS_ALLOW_HTTP"),
        allowed_networks=parse_networks(env.get("WEBHOOKS_ALLOWED_NETWORKS", "")),
        plan_limits=parse_plan_limits(env.get("WEBHOOKS_PLAN_LIMITS", DEFAULT_PLAN_LIMITS)),
        budget_notification_plans=frozenset(
            p.strip()
            for p in env.get(
                "WEBHOOKS_BUDGET_NOTIFICATION_PLANS", DEFAULT_BUDGET_NOTIFICATION_PLANS
            ).split(",")
            if p.strip()
        ),
        validation_secret_ttl_seconds=int(
            _number(env.get("WEBHOOKS_VALIDATION_TTL_SECONDS", "3600"),
                    "WEBHOOKS_VALIDATION_TTL_SECONDS", int)
        ),
        validation_max_attempts=int(
            _number(env.get("WEBHOOKS_VALIDATION_MAX_ATTEMPTS", "5"),
                    "WEBHOOKS_VALIDATION_MAX_ATTEMPTS", int)
        ),
        validation_timeout_seconds=_number(
            env.get("WEBHOOKS_VALIDATION_TIMEOUT_SECONDS", "5"),
            "WEBHOOKS_VALIDATION_TIMEOUT_SECONDS", float,
        ),
        max_body_bytes=int(
            _number(env.get("WEBHOOKS_MAX_BODY_BYTES", "65536"), "WEBHOOKS_MAX_BODY_BYTES", int)
        ),
        delivery_queue_name=env.get("WEBHOOKS_DELIVERY_QUEUE",
                                    f"clockodo-webhooks-{stage}-deliveries"),
        slow_queue_name=env.get("WEBHOOKS_SLOW_QUEUE",
                                f"clockodo-webhooks-{stage}-deliveries-slow"),
        burst_queue_name=env.get("WEBHOOKS_BURST_QUEUE",
                                 f"clockodo-webhooks-{stage}-deliveries-bursts"),
        company_share_per_second=int(_number(env.get("WEBHOOKS_COMPANY_SHARE", "50"),
                                             "WEBHOOKS_COMPANY_SHARE", int)),
        resources_stream_arn=env.get("WEBHOOKS_RESOURCES_STREAM_ARN", PLACEHOLDER_STREAM_ARN),
        delivery_connect_timeout_seconds=_number(
            env.get("WEBHOOKS_DELIVERY_CONNECT_TIMEOUT_SECONDS", "5"),
            "WEBHOOKS_DELIVERY_CONNECT_TIMEOUT_SECONDS", float),
        delivery_timeout_seconds=_number(
            env.get("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", "15"),
            "WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", float),
        delivery_concurrency=int(_number(env.get("WEBHOOKS_DELIVERY_CONCURRENCY", "50"),
                                         "WEBHOOKS_DELIVERY_CONCURRENCY", int)),
        endpoint_concurrency=int(_number(env.get("WEBHOOKS_ENDPOINT_CONCURRENCY", "10"),
                                         "WEBHOOKS_ENDPOINT_CONCURRENCY", int)),
        delivery_log_retention_days=int(
            _number(env.get("WEBHOOKS_DELIVERY_LOG_RETENTION_DAYS", "30"),
                    "WEBHOOKS_DELIVERY_LOG_RETENTION_DAYS", int)),
        retry_schedule=_schedule(env.get("WEBHOOKS_RETRY_SCHEDULE")),
        retry_after_cap_seconds=int(_number(env.get("WEBHOOKS_RETRY_AFTER_CAP_SECONDS", "3600"),
                                            "WEBHOOKS_RETRY_AFTER_CAP_SECONDS", int)),
        disable_after_seconds=int(_number(env.get("WEBHOOKS_DISABLE_AFTER_SECONDS", "432000"),
                                          "WEBHOOKS_DISABLE_AFTER_SECONDS", int)),
        secret_grace_seconds=int(_number(env.get("WEBHOOKS_SECRET_GRACE_SECONDS", "86400"),
                                         "WEBHOOKS_SECRET_GRACE_SECONDS", int)),
        recover_max_days=int(_number(env.get("WEBHOOKS_RECOVER_MAX_DAYS", "14"),
                                     "WEBHOOKS_RECOVER_MAX_DAYS", int)),
        rate_limit_per_minute=int(_number(env.get("WEBHOOKS_RATE_LIMIT_PER_MINUTE", "900"),
                                          "WEBHOOKS_RATE_LIMIT_PER_MINUTE", int)),
        validations_per_hour=int(_number(env.get("WEBHOOKS_VALIDATIONS_PER_HOUR", "10"),
                                         "WEBHOOKS_VALIDATIONS_PER_HOUR", int)),
        id_block_size=int(_number(env.get("WEBHOOKS_ID_BLOCK_SIZE", "100"),
                                  "WEBHOOKS_ID_BLOCK_SIZE", int)),
    )


def _schedule(value: str | None) -> tuple[int, ...]:
    from chalicelib.delivery.schedule import parse_schedule

    if value is None or not value.strip():
        return DEFAULT_RETRY_SCHEDULE
    try:
        return parse_schedule(value)
    except ValueError as error:
        raise SettingError(str(error)) from None


@cache
def get() -> Settings:
    """The settings of this process, read once (once per Lambda container)."""
    return from_environ(os.environ)

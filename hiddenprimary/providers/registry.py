"""The API secondary kinds the config knows (`api: route53`), and how to build each provider.
Another provider (Google Cloud DNS, deSEC) is one more entry here and a Provider subclass."""

from __future__ import annotations

from collections.abc import Callable

from hiddenprimary.config import ApiSecondary
from hiddenprimary.providers.base import Provider


def make_provider(api: ApiSecondary, sleep: Callable[[float], None] | None = None) -> Provider:
    """The provider for one API secondary; `sleep` replaces time.sleep in backoffs and waits (so
    that a stopping daemon can cut them short)."""
    if api.kind == "route53":
        from hiddenprimary.providers.route53 import Route53Provider  # boto3 loads only when used

        extra = {} if sleep is None else {"sleep": sleep}
        return Route53Provider({z.to_text(): zid for z, zid in api.hosted_zones}, endpoint_url=api.endpoint_url,
                               region_name=api.region, **extra)
    raise ValueError(f"unknown API provider {api.kind!r}")


def target_text(api: ApiSecondary, hosted_zone: str | None) -> str:
    """How status and check name the far end: `route53:Z0123456789ABC` (or `route53:by-name`)."""
    return f"{api.kind}:{hosted_zone or 'by-name'}"

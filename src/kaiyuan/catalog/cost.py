"""What a model costs per million tokens and per month: self-hosted on a rented device
against each API provider's list price, with every assumption written out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kaiyuan.catalog import fit
from kaiyuan.catalog.quant import Scheme
from kaiyuan.catalog.schema import Device, Model, Price

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class SelfHosting:
    """A device rented by the hour serving at `tokens_per_second` (aggregate output
    tokens over all concurrent streams), busy `utilisation` of the time."""

    device: str
    hourly_usd: float
    tokens_per_second: float
    utilisation: float
    throughput_basis: str

    def __post_init__(self) -> None:
        if self.hourly_usd <= 0:
            raise ValueError("the hourly price must be positive")
        if self.tokens_per_second <= 0:
            raise ValueError("throughput must be positive")
        if not 0 < self.utilisation <= 1:
            raise ValueError("utilisation must be in (0, 1]")

    @property
    def usd_per_million(self) -> float:
        """Output tokens only: on one device, prompt processing shares the same hours."""
        tokens_per_hour = self.tokens_per_second * 3600 * self.utilisation
        return self.hourly_usd / tokens_per_hour * 1e6


def self_hosting(model: Model, device: Device, quant: Scheme, *, hourly: float | None = None,
                 tokens_per_second: float | None = None, concurrency: int = 1,
                 utilisation: float = 0.5) -> SelfHosting:
    """Serving `model` on a rented `device`: at the catalog's lowest rental price unless
    `hourly` is given, and at a measured throughput when given, else at the bandwidth
    estimate for `concurrency` streams of 4,096-token context."""
    if hourly is None:
        if not device.hourly:
            raise ValueError(f"the catalog has no rental price for {device.id}; "
                             "give --hourly USD")
        hourly = min(p.usd for p in device.hourly)
    if concurrency < 1:
        raise ValueError("--concurrency must be at least 1")
    if tokens_per_second is not None:
        return SelfHosting(device.name, hourly, tokens_per_second, utilisation,
                           "measured, as given")
    speed = fit.decode_speed(model, quant, fit.Workload(4096, concurrency),
                             device.bandwidth_gbs)
    return SelfHosting(device.name, hourly, speed.tokens_per_second, utilisation,
                       f"estimate: {speed.assumption}")


@dataclass(frozen=True)
class Workload:
    """A month of requests, each with its input and output token counts."""

    requests_per_month: float
    input_tokens: float
    output_tokens: float

    def __post_init__(self) -> None:
        if min(self.requests_per_month, self.input_tokens, self.output_tokens) < 0:
            raise ValueError("requests and token counts cannot be negative")

    @property
    def output_per_month(self) -> float:
        return self.requests_per_month * self.output_tokens


@dataclass(frozen=True)
class ApiCost:
    provider: str
    usd_per_million_blended: float
    monthly_usd: float | None
    price: Price


@dataclass(frozen=True)
class HostedCost:
    devices: int
    monthly_usd: float
    usd_per_million_output: float
    hosting: SelfHosting


@dataclass(frozen=True)
class CostReport:
    """Cost of `model` by API provider and self-hosted, cheapest first."""

    model: str
    api: list[ApiCost]
    hosted: HostedCost | None
    assumptions: list[str] = field(default_factory=list)


def blended(price: Price, input_share: float) -> float:
    """USD per million tokens when `input_share` of the tokens are input."""
    return price.input * input_share + price.output * (1 - input_share)


def api_monthly(price: Price, workload: Workload) -> float:
    """A month of `workload` at `price` (cache discounts not assumed)."""
    tokens_in = workload.requests_per_month * workload.input_tokens
    return (tokens_in * price.input + workload.output_per_month * price.output) / 1e6


def hosted_monthly(hosting: SelfHosting, workload: Workload | None) -> HostedCost:
    """Devices needed to produce the month's output tokens, each rented all month."""
    if workload is None or workload.output_per_month == 0:
        devices = 1
    else:
        capacity = hosting.tokens_per_second * 3600 * HOURS_PER_MONTH * hosting.utilisation
        devices = max(1, math.ceil(workload.output_per_month / capacity))
    return HostedCost(devices, devices * hosting.hourly_usd * HOURS_PER_MONTH,
                      hosting.usd_per_million, hosting)


def cost(model: Model, hosting: SelfHosting | None, workload: Workload | None) -> CostReport:
    """Compare `model`'s API prices with self-hosting it, for `workload` when given."""
    share = _input_share(workload)
    api = sorted(
        (ApiCost(p.provider, blended(p, share),
                 api_monthly(p, workload) if workload else None, p)
         for p in model.prices),
        key=lambda c: c.usd_per_million_blended,
    )
    hosted = hosted_monthly(hosting, workload) if hosting else None
    assumptions = [
        f"API: list prices per provider as seen on the date shown; blended at "
        f"{share:.0%} input tokens"
        + (" (the workload's mix)" if workload else " (3:1 input:output, a common convention)"),
        "API: no cache-hit, batch or off-peak discounts",
    ]
    if hosting:
        assumptions += [
            f"self-hosted: {hosting.device} at ${hosting.hourly_usd:g}/hour, "
            f"{hosting.tokens_per_second:.0f} output tokens/s ({hosting.throughput_basis}), "
            f"{hosting.utilisation:.0%} utilisation",
            f"self-hosted monthly: whole devices rented {HOURS_PER_MONTH} hours a month; "
            "no power, staff or storage costs",
        ]
    return CostReport(model.id, api, hosted, assumptions)


def _input_share(workload: Workload | None) -> float:
    if workload is None:
        return 0.75
    total = workload.input_tokens + workload.output_tokens
    return workload.input_tokens / total if total else 0.75

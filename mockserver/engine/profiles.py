"""How long each kind of job takes, how it reports progress, how often it fails and what it returns.

A profile belongs to a scope (its default, played by any model without one of its own) or to a
model. The embedded defaults follow the providers' public behaviour (see the project's notes):
Veo and Kling show no progress, Sora counts 0-100, Suno returns two clips, Replicate-hosted Flux
answers a list and deletes files after an hour.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .fate_draws import Draws

DAY = 24 * 3600
_LOG_MOST = 700.0  # math.exp overflows a little past 709


@dataclass(frozen=True)
class Timing:
    """A duration in simulated seconds: fixed, or drawn from a distribution, clamped to [low, high].

    ``kind`` is "fixed" (``location`` seconds), "uniform" (from ``location`` to ``scale``), "normal"
    (mean ``location``, deviation ``scale``) or "lognormal" (median ``location``, sigma ``scale``). So
    ``location`` is where the draws sit and ``scale`` how far they spread; a uniform's ``scale`` is its
    upper end, as its config form ``[low, high]`` gives it.
    """

    kind: str
    location: float
    scale: float = 0.0
    low: float = 0.0
    high: float = math.inf

    def draw(self, rng: random.Random | Draws) -> float:
        kind = self.kind
        if kind == "uniform":  # ``uniform``'s own sum, written out: a call less on every submit, the same float
            value = self.location + (self.scale - self.location) * rng.random()
        elif kind == "fixed":
            value = self.location
        elif kind == "normal":
            value = rng.normalvariate(self.location, self.scale)
        else:
            # exp of the normal, capped where a double ends: a wide sigma must reach ``high``, not overflow
            value = (
                math.exp(min(rng.normalvariate(math.log(self.location), self.scale), _LOG_MOST))
                if self.location > 0
                else 0.0
            )
        return min(max(value, self.low, 0.0), self.high)


PARAMETERS = {"uniform": ("low", "high"), "normal": ("mean", "sd"), "lognormal": ("median", "sigma")}


def fixed(seconds: float) -> Timing:
    return Timing("fixed", seconds)


def uniform(low: float, high: float) -> Timing:
    return Timing("uniform", low, high)


def timing(given: float | list[float] | dict[str, float | str]) -> Timing:
    """A timing from its config form: a number, a [low, high] pair, or a table naming its ``dist``."""
    if isinstance(given, int | float):
        return fixed(float(given))
    if isinstance(given, list):
        return uniform(*given)
    kind = str(given["dist"])
    if kind == "fixed":
        return fixed(float(given["seconds"]))
    first, second = PARAMETERS[kind]
    return Timing(
        kind, float(given[first]), float(given[second]), float(given.get("min", 0.0)), float(given.get("max", math.inf))
    )


def table(t: Timing) -> dict[str, float | str]:
    """The config's table form of a timing, which ``timing`` reads back."""
    if t.kind == "fixed":
        return {"dist": "fixed", "seconds": t.location}
    first, second = PARAMETERS[t.kind]
    out: dict[str, float | str] = {"dist": t.kind, first: t.location, second: t.scale}
    if t.low:
        out["min"] = t.low
    if t.high != math.inf:
        out["max"] = t.high
    return out


@dataclass(frozen=True)
class Profile:
    """One kind of job. Times are simulated seconds (divided by the time scale).

    ``progress_step``: progress moves in steps of this many percent; 100 shows 0% until done.
    ``fail_reasons``: names from the config's catalogue, drawn evenly when a task fails.
    ``outputs``: 0 answers one URL in ``data.output``; N answers N URLs in ``data.outputs``.
    ``link_ttl``: how long output links work after the task finishes; 0 for ever.
    ``scope``: the scope a model's profile serves; empty for a scope's default profile.
    ``platform``: who generates, as task answers say. ``duration``, ``aspect_ratio`` and ``resolution``
    (the short side in pixels): the output's shape when the request does not say.
    ``modes``: a factor on queue and run times per action (``image-to-video``: 1.5).
    ``lifecycle``: the named lifecycle (``lifecycle.json``) its tasks walk unless a scenario names one.
    ``action``: what task answers say in ``action``, a template of ``{mode}`` (``text-to-video``, ...),
    ``{platform}`` and ``{scope}``: ``"{platform}-{scope}"`` answers the spec's ``google-videos`` for veo3.
    """

    queue: Timing
    run: Timing
    progress_step: int = 1
    fail_rate: float = 0.02
    fail_reasons: tuple[str, ...] = ("content-policy", "upstream-timeout", "quota")
    outputs: int = 0
    link_ttl: float = DAY
    scope: str = ""
    platform: str = "mock"
    duration: float = 5.0
    aspect_ratio: str = "16:9"
    resolution: int = 720
    modes: dict[str, float] = field(default_factory=dict)
    lifecycle: str = "six-states"
    action: str = "{mode}"


def _lognormal(median: float, sigma: float, low: float = 0.0, high: float = math.inf) -> Timing:
    return Timing("lognormal", median, sigma, low, high)


SCOPE_DEFAULTS = {
    "images": Profile(queue=uniform(1, 3), run=uniform(5, 15), aspect_ratio="1:1", resolution=1024),
    "videos": Profile(queue=uniform(5, 20), run=uniform(60, 180)),
    "audio": Profile(queue=uniform(2, 5), run=uniform(20, 60), duration=30),
}

MODELS = {
    # Veo: a long-running operation with a done flag and no progress, 11 s to 6 min; files kept 2 days.
    "veo3": Profile(
        scope="videos",
        queue=uniform(1, 10),
        run=_lognormal(75, 0.6, 11, 360),
        progress_step=100,
        link_ttl=2 * DAY,
        platform="google",
        duration=8,
    ),
    # OpenAI videos: queued, then an integer progress 0-100; the download expires.
    "sora-2": Profile(
        scope="videos",
        queue=Timing("normal", 20, 8, 2),
        run=_lognormal(150, 0.4, 60, 600),
        link_ttl=DAY,
        platform="openai",
        duration=4,
    ),
    # Kling: submitted, processing, no progress; URLs cleared after 30 days.
    "kling-v2": Profile(
        scope="videos",
        queue=uniform(10, 60),
        run=_lognormal(180, 0.5, 60, 900),
        progress_step=100,
        link_ttl=30 * DAY,
        platform="kling",
    ),
    "gpt-image-1": Profile(
        scope="images",
        queue=uniform(0, 2),
        run=Timing("normal", 25, 8, 8, 90),
        progress_step=100,
        platform="openai",
        aspect_ratio="1:1",
        resolution=1024,
    ),
    # Replicate-style: a list of files, deleted after an hour.
    "flux-dev": Profile(
        scope="images",
        queue=uniform(0, 5),
        run=uniform(2, 8),
        progress_step=5,
        outputs=1,
        link_ttl=3600,
        platform="black-forest-labs",
        aspect_ratio="1:1",
        resolution=1024,
    ),
    # Suno: two clips per request, progress in coarse steps.
    "suno-v4": Profile(
        scope="audio",
        queue=uniform(2, 10),
        run=_lognormal(60, 0.3, 20, 240),
        progress_step=10,
        outputs=2,
        platform="suno",
        duration=120,
    ),
}

ALIASES = {
    "veo3-fast": "veo3",
    "veo-3": "veo3",
    "sora-2-pro": "sora-2",
    "kling-v2-master": "kling-v2",
    "flux": "flux-dev",
}

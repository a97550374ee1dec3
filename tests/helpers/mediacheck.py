"""Open a downloaded output with a real decoder (PyAV, FFmpeg's libraries) and report what it holds."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av


@dataclass
class Decoded:
    codec: str
    width: int
    height: int
    frames: int
    seconds: float
    first: bytes  # the first and last frames' pixels, to see that something moves or differs
    last: bytes


def decode(data: bytes, kind: str) -> Decoded:
    """Decode every frame (video, image) or every sample (audio) of ``data``; ``kind`` is the container."""
    with av.open(io.BytesIO(data), format={"png": "png_pipe"}.get(kind, kind)) as container:
        if kind == "wav":
            stream = container.streams.audio[0]
            samples = sum(frame.samples for frame in container.decode(audio=0))
            return Decoded(stream.codec_context.name, 0, 0, samples, samples / stream.rate, b"", b"")
        stream = container.streams.video[0]
        pixels = [bytes(frame.to_rgb().planes[0]) for frame in container.decode(video=0)]
        seconds = float(stream.duration * stream.time_base) if stream.duration else 0.0
        return Decoded(
            stream.codec_context.name, stream.width, stream.height, len(pixels), seconds, pixels[0], pixels[-1]
        )

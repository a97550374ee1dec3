"""Real media files made in code: an H.264 MP4, a PNG and a WAV, each in the shape a request asked for.

Video goes through PyAV, whose wheels bundle FFmpeg's libraries (libx264 among them), so a plain
``pip install`` on a machine without ffmpeg can encode it; writing an H.264 bitstream and MP4 muxer
by hand would be more code to prove than the mock itself. PNG and WAV need only the standard library.

Each file shows a colour chosen by the caller (``hue``, one of ``HUES``) so that two outputs look
different; a video's frames also carry a bar that advances with time, so decoders see motion.
"""

from __future__ import annotations

import colorsys
import io
import math
import os
import struct
import tempfile
import wave
import zlib
from array import array

import av

from ...engine.output_shape import Shape

HUES = 32
FPS = 24
VIDEO_LONG_SIDE = 320  # frames are made small; the aspect ratio is the request's
AUDIO_RATE = 8000


def rgb(hue: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((hue % HUES) / HUES, 0.7, 0.9)
    return round(r * 255), round(g * 255), round(b * 255)


def frame_size(shape: Shape) -> tuple[int, int]:
    """A video's frame size: the shape's, scaled down to VIDEO_LONG_SIDE; even sides, as 4:2:0 needs."""
    scale = min(1.0, VIDEO_LONG_SIDE / max(shape.width, shape.height))
    return tuple(max(2, 2 * round(side * scale / 2)) for side in (shape.width, shape.height))  # type: ignore[return-value]


def frame_count(shape: Shape) -> int:
    return max(1, round(shape.duration * FPS))


def video(shape: Shape, hue: int) -> bytes:
    width, height = frame_size(shape)
    frames = frame_count(shape)
    r, g, b = rgb(hue)
    colour = (  # BT.601 limited range, as H.264 streams are usually tagged
        round(16 + 0.257 * r + 0.504 * g + 0.098 * b),
        round(128 - 0.148 * r - 0.291 * g + 0.439 * b),
        round(128 + 0.439 * r - 0.368 * g - 0.071 * b),
    )
    with tempfile.TemporaryDirectory() as folder:  # faststart rewrites the file by name, so no BytesIO
        path = os.path.join(folder, "out.mp4")
        _encode(path, width, height, frames, colour)
        with open(path, "rb") as made:
            return made.read()


def _encode(path: str, width: int, height: int, frames: int, colour: tuple[int, int, int]) -> None:
    """H.264 into MP4 with the index (moov) first, so players start before the whole file is in."""
    bar = (235, 128, 128)
    with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            done = (index + 1) / frames
            for plane, fill, mark in zip(frame.planes, colour, bar):
                stride, rows = plane.line_size, plane.height
                lit = round(plane.width * done)
                low = max(1, rows // 8)  # the bar: the bottom eighth, filling left to right
                row = bytes((mark,)) * lit + bytes((fill,)) * (stride - lit)
                plane.update(bytes((fill,)) * stride * (rows - low) + row * low)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def png(shape: Shape, hue: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    width, height = shape.width, shape.height
    row = b"\x00" + bytes(rgb(hue)) * width
    packer = zlib.compressobj(6)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()  # never the whole image raw
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def wav(shape: Shape, hue: int) -> bytes:
    """A tone (its pitch from ``hue``) for the shape's duration; one second made, then repeated."""
    pitch = 220 + 20 * (hue % HUES)  # whole hertz, so a second holds whole periods and repeats seamlessly
    second = array("h", (round(8000 * math.sin(2 * math.pi * pitch * n / AUDIO_RATE)) for n in range(AUDIO_RATE)))
    samples = round(shape.duration * AUDIO_RATE)
    whole, rest = divmod(samples, AUDIO_RATE)
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(AUDIO_RATE)
        pcm = second.tobytes()
        for _ in range(whole):
            sound.writeframesraw(pcm)
        sound.writeframes(pcm[: 2 * rest])
    return out.getvalue()


MAKERS = {"videos": video, "images": png, "audio": wav}

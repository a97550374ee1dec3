"""How long the mock takes to make a video on its first download: a 5-second 16:9 720p one, rendered anew.

Usage: ``python bench/media.py [TIMES]``. Renders the file ``TIMES`` times (default 10) the way a first
download does (``mockserver/http/media/render.py``, off the event loop, no cache), prints the median wall and
CPU time and the file's size, and writes them to ``bench/results.json``'s ``media`` section.
"""

from __future__ import annotations

import statistics
import sys
import time

import results

from mockserver.engine.output_shape import Shape
from mockserver.http.media import render

SHAPE = Shape(action=0, width=1280, height=720, duration=5.0)


def main(times: int) -> None:
    walls, cpus, size = [], [], 0
    for hue in range(times):  # each hue is another file, as two tasks of another colour would ask
        started, cpu = time.perf_counter(), time.process_time()
        size = len(render.video(SHAPE, hue))
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    wall, cpu = statistics.median(walls) * 1000, statistics.median(cpus) * 1000
    print(f"a 5-second 16:9 720p video: {wall:.0f} ms ({cpu:.0f} ms of CPU), {size:,} B; median of {times}")
    figures = {
        "a 5-second 16:9 720p video, made": (round(wall), "ms"),
        "the same, CPU": (round(cpu), "ms"),
        "its file": (size, "B"),
    }
    results.measured("media", figures, "bench/media.py", f"python bench/media.py {times}")
    print(f"written to {results.PATH}; python docs/gen.py puts it in the docs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)

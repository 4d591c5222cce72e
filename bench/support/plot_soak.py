"""Plots a soak run's samples (seconds,rss_kib,fds,stored CSV) to an SVG:
RSS and open file descriptors over time, on two axes."""
import csv
import sys

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

source, target = sys.argv[1], sys.argv[2]
with open(source) as f:
    rows = list(csv.DictReader(f))
minutes = [float(r["seconds"]) / 60 for r in rows]
rss = [float(r["rss_kib"]) / 1024 for r in rows]
fds = [int(r["fds"]) for r in rows]
stored = int(rows[-1]["stored"]) if rows else 0
requests = int(rows[-1].get("requests") or 0) if rows else 0

fig, left = plt.subplots(figsize=(9, 4.5))
left.plot(minutes, rss, color="tab:blue", label="RSS (MiB)")
left.set_xlabel("minutes of load")
left.set_ylabel("RSS (MiB)", color="tab:blue")
left.set_ylim(0, max(rss + [1]) * 1.3)
right = left.twinx()
right.plot(minutes, fds, color="tab:orange", label="open fds")
right.set_ylabel("open file descriptors", color="tab:orange")
right.set_ylim(0, max(fds + [1]) * 1.3)
what = f"{requests:,} requests, {stored:,} new messages" if requests else f"{stored:,} messages stored"
left.set_title(f"Switchboard soak: {what}; sampled every 10 s")
left.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(target)

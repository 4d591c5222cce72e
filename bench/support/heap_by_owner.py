"""Where a heaptrack recording's live heap is, at chosen moments of the run.

Usage: heap_by_owner.py RECORDING.zst SECONDS...

Replays the recording (allocations and frees, in order) and, at each given
number of seconds, adds up the bytes still allocated by owner: the first
rule below whose marker appears in the allocation's call stack. Prints a
Markdown table in MiB, one column per moment.
"""
import collections
import subprocess
import sys

# Markers are function or file names (heaptrack gives file names without
# their crate's folder; these are sled's own).
SLED_FILES = ["ivec.rs", "serialization.rs", "transaction.rs", "tree.rs", "lru.rs", "segment.rs",
              "snapshot.rs", "logger.rs", "prefix.rs", "concurrency_control.rs", "flusher.rs"]
RULES = [
    (["@event_cache.rs"], "events rendered for subscribers (bounded, 8 MiB)"),
    (["@pagetable.rs"], "sled: page table"),
    (["sled::metrics", "@histogram.rs"], "sled: its metrics histograms (fixed size)"),
    (["page_out "], "sled: records of pages not in memory"),
    (["@iobuf.rs"], "sled: write buffers"),
    (["@" + name for name in SLED_FILES], "sled: pages in memory (its cache)"),
]
OTHER = "everything else (connections, runtime, requests)"


def main():
    recording, moments = sys.argv[1], [float(s) * 1000 for s in sys.argv[2:]]
    stream = subprocess.Popen(["zstdcat", recording], stdout=subprocess.PIPE, text=True, bufsize=1 << 20)
    strings, ips, traces, allocations = [""], [None], [None], []
    live, snapshots = collections.Counter(), []
    for line in stream.stdout:
        kind = line[0]
        if kind == "+":
            live[int(line[2:], 16)] += 1
        elif kind == "-":
            live[int(line[2:], 16)] -= 1
        elif kind == "c":
            now = int(line[2:], 16)
            while len(snapshots) < len(moments) and now >= moments[len(snapshots)]:
                snapshots.append(collections.Counter(live))
            if len(snapshots) == len(moments):
                break
        elif kind == "a":
            _, size, trace = line.split()
            allocations.append((int(size, 16), int(trace, 16)))
        elif kind == "t":
            _, ip, parent = line.split()
            traces.append((int(ip, 16), int(parent, 16)))
        elif kind == "i":
            rest = line.split()[3:]
            ips.append([(int(rest[j], 16), int(rest[j + 1], 16)) for j in range(0, len(rest) - 2, 3)])
        elif kind == "s":
            text = line[2:].rstrip("\n")
            strings.append(text.split(" ", 1)[1] if " " in text else "")
    stream.kill()
    owners = {}

    def owner(trace):
        if trace not in owners:
            names, node = [], trace
            while node:
                ip, parent = traces[node]
                names += [strings[f] + " @" + strings[file].rsplit("/", 1)[-1] for f, file in (ips[ip] or [])]
                node = parent
            text = "\n".join(names)
            owners[trace] = next(
                (label for markers, label in RULES if any(m in text for m in markers)), OTHER
            )
        return owners[trace]

    table = collections.defaultdict(lambda: [0] * len(snapshots))
    for column, snapshot in enumerate(snapshots):
        for index, count in snapshot.items():
            if count:
                size, trace = allocations[index]
                table[owner(trace)][column] += count * size
    heads = [f"{m / 1000:.0f} s" for m in moments[: len(snapshots)]]
    print("| live heap, MiB | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for label, row in sorted(table.items(), key=lambda kv: -kv[1][-1]):
        print(f"| {label} | " + " | ".join(f"{b / 1048576:.1f}" for b in row) + " |")
    totals = [sum(row[i] for row in table.values()) for i in range(len(snapshots))]
    print("| **total** | " + " | ".join(f"**{b / 1048576:.1f}**" for b in totals) + " |")


if __name__ == "__main__":
    main()

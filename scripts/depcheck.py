#!/usr/bin/env python3
"""The dependency direction of koden's source tree, checked (issue 12).

Folders are floors, ground floor first:

    lib <- crypto <- telegram <- store <- audit <- node <- cli
    lib <- crypto <- vpn        (koden-vpn uses nothing else)

A file may include or call only its own floor and the floors below it, and
no files may call each other in a circle, inside a folder or across.  Two
sources of truth are read:

  * includes: every '#include "FOLDER/..."' in src/ (a back-arrow is an
    include of a higher floor; an internal header, NAME_int.h, is included
    only from its own folder: STYLE.md 14);
  * symbols: `nm` of every object built from src/ (each undefined symbol
    resolved to the object that defines it is one call or reference,
    file -> file; a cycle among those is reported with its files).

A callback a file registers (a static function whose address it hands to a
lower file) is no edge: that is how a lower file calls up without knowing
who is above it (the event loop's handlers, STYLE.md 13).

usage: depcheck.py [--src DIR] [--obj DIR]
  --src DIR  the source tree whose folders are checked (default: src)
  --obj DIR  where its objects are, mirroring it (default: build/src)
Exit status 0 when the tree obeys the rule, 1 with every breach named.
"""
import argparse
import os
import re
import subprocess
import sys

# Each folder, and the folders it may use besides itself.
FLOORS = ["lib", "crypto", "telegram", "store", "audit", "node", "cli"]
ALLOWED = {f: set(FLOORS[:i]) for i, f in enumerate(FLOORS)}
ALLOWED["vpn"] = {"lib", "crypto"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(rel):
    """'node/loop.c' -> 'node'; a file at the top of src/ has no folder."""
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else None


def check_includes(src, problems):
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)
            me = folder_of(rel)
            with open(path, encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(1)
                    them = folder_of(target)
                    if them is None or them == me:
                        continue
                    where = "%s/%s:%d" % (src, rel, lineno)
                    if me not in ALLOWED:
                        problems.append("%s: folder '%s' has no floor "
                                        "(add it to scripts/depcheck.py)"
                                        % (where, me))
                    elif them not in ALLOWED and them not in FLOORS:
                        problems.append("%s: includes %s, of a folder with "
                                        "no floor" % (where, target))
                    elif them not in ALLOWED[me]:
                        problems.append("%s: back-arrow %s -> %s (includes "
                                        "%s)" % (where, me, them, target))
                    elif os.path.basename(target).endswith("_int.h"):
                        problems.append("%s: includes %s, internal to %s/"
                                        % (where, target, them))


def nm(obj):
    """(defined, undefined) global symbols of one object."""
    out = subprocess.run(["nm", "-P", obj], check=True, capture_output=True,
                         text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        sym, kind = fields[0], fields[1]
        if kind == "U":
            undefined.add(sym)
        elif kind in "TDBRCGSVWu":	# upper case: global (nm(1))
            defined.add(sym)
    return defined, undefined


def check_symbols(src, obj, problems):
    objs = {}
    for root, _, files in os.walk(obj):
        for name in sorted(files):
            if not name.endswith(".o"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, obj)[:-2] + ".c"
            if not os.path.exists(os.path.join(src, rel)):
                continue	# an object of a file since removed
            objs[rel] = nm(path)
    if not objs:
        problems.append("%s: no objects built from %s (run make first)"
                        % (obj, src))
        return
    owner = {}
    for rel, (defined, _) in objs.items():
        for sym in defined:
            owner.setdefault(sym, rel)
    edges = {rel: {} for rel in objs}
    for rel, (_, undefined) in objs.items():
        for sym in sorted(undefined):
            to = owner.get(sym)
            if to is None or to == rel:
                continue
            edges[rel].setdefault(to, sym)
    for a in sorted(edges):
        for b, sym in sorted(edges[a].items()):
            fa, fb = folder_of(a), folder_of(b)
            if fa == fb:
                continue
            if fa not in ALLOWED or fb not in ALLOWED[fa]:
                problems.append("back-arrow %s -> %s: src/%s uses %s of "
                                "src/%s" % (fa, fb, a, sym, b))
    for cycle, comp in cycles(edges):
        ring = cycle + [cycle[0]]
        steps = ", ".join("src/%s uses %s of src/%s"
                          % (ring[i], edges[ring[i]][ring[i + 1]],
                             ring[i + 1]) for i in range(len(cycle)))
        also = [f for f in comp if f not in cycle]
        problems.append("cycle %s: %s%s" % (
            " -> ".join("src/" + f for f in ring), steps,
            "; the circle also takes in " + ", ".join("src/" + f for f in also)
            if also else ""))


def cycles(edges):
    """(ring, component) for each strongly connected component of more
    than one file: its files, and one shortest ring through the first of
    them (Tarjan's algorithm, then a breadth-first search)."""
    index, low, on, stack, comps = {}, {}, set(), [], []
    counter = [0]

    def strong(v):
        # iterative Tarjan: the tree is deep enough to worry recursion
        work = [(v, iter(sorted(edges[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    found = []
    for comp in comps:
        members = set(comp)
        start = comp[0]
        prev = {start: None}
        queue = [start]
        ring = None
        while queue and ring is None:
            nxt = []
            for v in queue:
                for w in sorted(edges[v]):
                    if w not in members:
                        continue
                    if w == start:
                        ring = [v]
                        break
                    if w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if ring is not None:
                    break
            queue = nxt
        path = []
        v = ring[0]
        while v is not None:
            path.append(v)
            v = prev[v]
        found.append((list(reversed(path)), comp))
    return found


def main():
    ap = argparse.ArgumentParser(description="koden's dependency direction")
    ap.add_argument("--src", default="src")
    ap.add_argument("--obj", default="build/src")
    args = ap.parse_args()
    problems = []
    check_includes(args.src, problems)
    check_symbols(args.src, args.obj, problems)
    for p in problems:
        print("depcheck: " + p, file=sys.stderr)
    if problems:
        print("depcheck: %d breach%s of the dependency direction "
              "(docs/architecture.md)" % (len(problems),
                                          "" if len(problems) == 1 else "es"),
              file=sys.stderr)
        return 1
    print("depcheck: %s obeys lib <- crypto <- telegram <- store <- audit "
          "<- node <- cli, vpn on lib and crypto, no cycles" % args.src)
    return 0


if __name__ == "__main__":
    sys.exit(main())

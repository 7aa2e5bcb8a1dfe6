#!/usr/bin/env python3
"""Checks tide's layering (docs/architecture.md) from its #include lines.

- No include cycle between modules (a module is a .c file with its .h: vmm/machine.c and
  vmm/machine.h are one), so that every layer depends one way.
- Layers, each using only those before it: util/, mm/, devices/, arch/, vmm/ (tools/ uses
  util/ and vmm/'s QMP client side). So mm/ includes nothing from vmm/, devices/ or arch/,
  devices/ no arch/ header; outside arch/, only arch/arch.h of arch/.
- No non-test .c file is over 600 lines.

Prints each violation on a line and exits 1 if there is any.
Usage: check-structure.py [--report] [--root DIR]
(--report prints and exits 0: for a tree on its way there; --root checks another tree,
as tests/scripts/test_check_structure.py does).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ("util", "mm", "devices", "arch", "vmm", "tools")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
MAX_LINES = 600

# What each layer may include, by the top directory of the included file.
ALLOWED = {
    "util": {"util"},
    "mm": {"util", "mm"},
    "devices": {"util", "mm", "devices"},
    "arch": {"util", "mm", "devices", "arch"},
    "vmm": {"util", "mm", "devices", "arch", "vmm"},
    "tools": {"util", "vmm", "tools"},
}


def sources(root):
    for layer in LAYERS:
        for dirpath, _, names in os.walk(os.path.join(root, layer)):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def module(path):
    return os.path.splitext(path)[0]


def find_cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    args = sys.argv[1:]
    report_only = "--report" in args
    root = args[args.index("--root") + 1] if "--root" in args else ROOT
    problems = []
    graph = {}
    for path in sources(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        layer = path.split("/")[0]
        for inc in INCLUDE.findall(text):
            target_layer = inc.split("/")[0]
            if target_layer not in LAYERS:
                continue
            if target_layer not in ALLOWED[layer]:
                problems.append(f"{path}: includes {inc} ({layer}/ may not include {target_layer}/)")
            elif (target_layer == "arch" and layer != "arch" and inc != "arch/arch.h"):
                problems.append(f"{path}: includes {inc} (outside arch/, only arch/arch.h)")
            elif (layer == "arch" and target_layer == "arch" and inc != "arch/arch.h"
                  and inc.split("/")[1] != path.split("/")[1]):
                problems.append(f"{path}: includes {inc} (another architecture's header)")
            if module(inc) != module(path):
                graph.setdefault(module(path), set()).add(module(inc))
        if path.endswith(".c"):
            lines = text.count("\n")
            if lines > MAX_LINES:
                problems.append(f"{path}: {lines} lines (at most {MAX_LINES})")
    for cycle in find_cycles(graph):
        problems.append("include cycle: " + " -> ".join(cycle))
    for p in problems:
        print(p)
    print(f"check-structure: {len(problems)} problem(s)")
    return 0 if report_only or not problems else 1


if __name__ == "__main__":
    sys.exit(main())

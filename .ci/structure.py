#!/usr/bin/env python3
"""Checks the layout rules of STYLE.md that a compiler does not:

- no `unsafe` block, fn or impl outside src/raw/;
- no Rust file over 600 lines in src/, examples/, benches/, tests/ or
  bench-support/;
- no import cycle among the modules of src/ (a module's imports are its
  `crate::...` and `super::...` paths, resolved to files; a child module's
  use of its own parent, which declares it, does not count).

Prints every violation and exits non-zero if there is one.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MAX_LINES = 600
problems = []


def rust_files(top):
    for base, _, files in os.walk(os.path.join(ROOT, top)):
        if "/target" in base:
            continue
        for name in files:
            if name.endswith(".rs"):
                yield os.path.relpath(os.path.join(base, name), ROOT)


def code_lines(path):
    """The file's lines with comments and string literals blanked."""
    text = open(os.path.join(ROOT, path)).read()
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return text.split("\n")


for top in ["src", "examples", "benches", "tests", "bench-support"]:
    for path in rust_files(top):
        n = sum(1 for _ in open(os.path.join(ROOT, path)))
        if n > MAX_LINES:
            problems.append(f"{path}: {n} lines (at most {MAX_LINES})")

for path in rust_files("src"):
    if path.startswith("src/raw/"):
        continue
    for i, line in enumerate(code_lines(path), 1):
        if re.search(r"\bunsafe\b", line):
            problems.append(f"{path}:{i}: unsafe outside src/raw/")


def module_of(path):
    """src/raw/table.rs -> raw::table; src/raw/mod.rs -> raw; src/lib.rs -> ''."""
    rel = os.path.relpath(path, "src")[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return "::".join(parts)


modules = {module_of(p): p for p in rust_files("src")}


# Names the crate root re-exports (`pub use raw::reclaim::Seize;`), so that
# `crate::Seize` counts as an import of `raw::reclaim`.
reexports = {}
lib = "\n".join(code_lines("src/lib.rs"))
for m in re.finditer(r"pub use ([\w:]+?)::(\{[^}]*\}|\w+);", lib):
    path, names = m.group(1), m.group(2).strip("{}")
    for name in re.findall(r"\w+", names):
        reexports[name] = path


def resolve(segments):
    """The longest prefix of `segments` that names a module file."""
    if len(segments) >= 1 and segments[0] in reexports and segments[0] not in modules:
        segments = reexports[segments[0]].split("::")
    for k in range(len(segments), 0, -1):
        name = "::".join(segments[:k])
        if name in modules:
            return name
    return None


graph = {m: set() for m in modules}
for mod, path in modules.items():
    here = mod.split("::") if mod else []
    # A file's parent is `super` for its items; for mod.rs the module itself.
    parent = here[:-1]
    text = "\n".join(code_lines(path))
    for m in re.finditer(r"\b(crate|super)((?:::\w+)+)", text):
        root, rest = m.group(1), m.group(2).strip(":").split("::")
        segments = rest if root == "crate" else parent + rest
        target = resolve(segments)
        if target is not None and target != mod and not mod.startswith(target + "::") and target != "":
            graph[mod].add(target)

# Cycles: strongly connected components with more than one module.
index, low, stack, on_stack, sccs = {}, {}, [], set(), []
counter = [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in graph[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        scc = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            scc.append(w)
            if w == v:
                break
        if len(scc) > 1:
            sccs.append(sorted(scc))


sys.setrecursionlimit(10000)
for v in graph:
    if v not in index:
        visit(v)
for scc in sccs:
    problems.append("import cycle among: " + ", ".join(scc))

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print("structure: no unsafe outside src/raw/, no file over 600 lines, no import cycle")

#!/usr/bin/env python3
"""Checks that every command the project's scripts call will be there on a fresh Debian 12 machine after
scripts/install-deps.sh, and that every test declares, on a `needs` line, the commands it calls from the
packages install-deps.sh installs (so that on a day the mirror is down it says "skipped" instead of
failing half-way).

    check_commands.py [--root DIR] [--extra-test FILE]...

A command is fine when it is a shell builtin or keyword, a function of the scripts, the project's own
binary or the Swift toolchain, a command listed in scripts/packages.txt, or a file of a Debian package of
priority "required" (found on the standard PATH). For listed commands whose package is installed, dpkg
must agree that the package ships it. Prints one line per problem (FILE:LINE: COMMAND: why) and a summary
as ok/FAIL lines; exits 1 when anything failed.
"""
import argparse
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shell_commands  # noqa: E402

SYSTEM_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
PROJECT = {"pasta", "passt", "pesto", "kata-passt-endpoint", "podman-netplugin", "pasta-fuzz"}
TOOLCHAIN = {"swift", "swiftc"}
SCRIPT_GLOBS = ["integration/*.sh", "integration/*/*.sh", "scripts/*.sh", "bench/*.sh", "contrib/*/*.sh",
                "run-tests.sh", ".ci/run"]


def read_table(path):
    """{command: package} for `install` lines, and the set of packages of both kinds."""
    commands, installs, fetches = {}, [], []
    with open(path) as f:
        for raw in f:
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            kind, package, names = words[0], words[1], words[2:]
            if kind == "install":
                installs.append(package)
                for name in names:
                    commands[name] = package
            elif kind == "fetch":
                fetches.append(package)
            else:
                raise SystemExit(f"{path}: unknown line kind {kind!r}")
    return commands, installs, fetches


class Dpkg:
    """Who ships a file, and package priorities, asked of dpkg once each."""

    def __init__(self):
        self.owner_cache = {}
        self.status = {}
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Priority}\t${db:Status-Abbrev}\n"],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            name, priority, status = (line.split("\t") + ["", ""])[:3]
            self.status[name] = (priority, status.startswith("ii"))

    def installed(self, package):
        return self.status.get(package, ("", False))[1]

    def priority(self, package):
        return self.status.get(package, ("", False))[0]

    def depends(self, package):
        """The packages package depends on directly (alternatives included)."""
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Pre-Depends}, ${Depends}", package],
                             capture_output=True, text=True).stdout
        return {alt.split()[0].split(":")[0] for part in out.split(",") for alt in part.split("|") if alt.split()}

    def owner(self, path):
        """The package shipping path: asked as found, with /usr merged or not, then resolved."""
        if path in self.owner_cache:
            return self.owner_cache[path]
        candidates = [path]
        for a, b in (("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"), ("/bin/", "/usr/bin/"),
                     ("/sbin/", "/usr/sbin/")):
            if path.startswith(a):
                candidates.append(b + path[len(a):])
        real = os.path.realpath(path)
        candidates += [real] + [c for c in (real.replace("/usr/", "/", 1),) if c != real]
        found = None
        for c in candidates:
            r = subprocess.run(["dpkg-query", "-S", c], capture_output=True, text=True)
            if r.returncode == 0:
                for line in r.stdout.splitlines():
                    pkgs, _, file = line.partition(": ")
                    if file == c and not pkgs.startswith("diversion"):
                        found = pkgs.split(",")[0].split(":")[0].strip()
                        break
            if found:
                break
        self.owner_cache[path] = found
        return found


def which(name):
    for d in SYSTEM_PATH:
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


class Checker:
    def __init__(self, root, extra_tests):
        self.root = root
        self.root = root
        self.table, self.installs, self.fetches = read_table(os.path.join(root, "scripts/packages.txt"))
        self.dpkg = Dpkg()
        paths = sorted({p for g in SCRIPT_GLOBS for p in glob.glob(os.path.join(root, g))})
        # What declares its needs: the tests (the runner's own too) and the demo.
        self.tests = {p for p in paths if os.path.basename(p).startswith("test_")
                      and self.rel(p).startswith("integration/")}
        self.tests.add(os.path.join(root, "scripts/demo.sh"))
        paths += extra_tests
        self.tests |= set(extra_tests)
        sources = {p: open(p).read() for p in paths}
        self.scripts = shell_commands.read_scripts(sources)
        self.functions = {}
        for s in self.scripts.values():
            for name in s.functions:
                self.functions.setdefault(name, s)
        self.visible = self.visible_functions()
        self.problems = []

    def rel(self, path):
        return os.path.relpath(path, self.root)

    def problem(self, script, line, name, why):
        self.problems.append(f"{self.rel(script.path)}:{line}: {name}: {why}")

    def visible_functions(self):
        """{path: function names} a script can call: its own and those of every script joined to it by
        `source` (either way: a sourced library calls its sourcer's functions too)."""
        neighbours = {p: set() for p in self.scripts}
        for path, s in self.scripts.items():
            for word in s.sources:
                target = self.script_named(word)
                if target is not None:
                    neighbours[path].add(target.path)
                    neighbours[target.path].add(path)
        visible = {}
        for path in self.scripts:
            if path in visible:
                continue
            group, todo = set(), [path]
            while todo:
                p = todo.pop()
                if p not in group:
                    group.add(p)
                    todo.extend(neighbours[p])
            names = set().union(*(self.scripts[p].functions for p in group))
            for p in group:
                visible[p] = names
        return visible

    # What a command word is: None for what needs no package, else the command's name.
    def kind(self, name, script=None):
        if not name or any(c in name for c in "$`*?[") or name.startswith("-"):
            return None
        functions = self.visible[script.path] if script is not None else self.functions
        if name in shell_commands.BUILTINS or name in shell_commands.KEYWORDS_STAY or name in functions:
            return None
        if "/" in name:
            if not name.startswith(("/usr/", "/bin/", "/sbin/")):
                return None  # the project's own files, run by path
            name = os.path.basename(name)
        if name in PROJECT or name in TOOLCHAIN:
            return None
        return name

    def check_every_command(self):
        """Criterion: nothing called is missing from both install-deps.sh and the base."""
        seen = {}
        for script in self.scripts.values():
            for use in script.uses:
                name = self.kind(use.name, script)
                if name is None or name in seen:
                    continue
                seen[name] = self.classify(name)
                if seen[name] is not None:
                    self.problem(script, use.line, name, seen[name])
        return len(seen)

    def classify(self, name):
        """None when fine, else why not."""
        if name in self.table:
            return None
        path = which(name)
        if path is None:
            return ("not found: no package in scripts/packages.txt lists it and the base image lacks it "
                    "(add its package there, with the command)")
        package = self.dpkg.owner(path)
        if package is None:
            return f"{path} is not from a Debian package (the project can't install it)"
        if self.dpkg.priority(package) == "required":
            return None
        if package in self.installs:
            return f"comes from {package}: list it on that package's line in scripts/packages.txt"
        return (f"comes from {package} (priority {self.dpkg.priority(package) or 'unknown'}), which "
                "scripts/install-deps.sh does not install: add it to scripts/packages.txt")

    def check_table(self):
        """Each listed command is shipped by the package it is listed under, or by one that package depends
        on (python3's /usr/bin/python3 is python3-minimal's), where that package is installed."""
        verified = unverified = 0
        for name, package in sorted(self.table.items()):
            if not self.dpkg.installed(package):
                unverified += 1
                continue
            path = which(name)
            owner = self.dpkg.owner(path) if path else None
            if owner != package and owner not in self.dpkg.depends(package):
                self.problems.append(f"scripts/packages.txt: {name}: listed under {package}, but "
                                     + (f"{path} comes from {owner}" if path else "not found on PATH"))
            else:
                verified += 1
        return verified, unverified

    # --- what each test calls, through its functions and the scripts it sources or runs -------------
    def script_named(self, word):
        """The scanned script a `source`/`bash` word points at (matched by its path's tail)."""
        word = word.replace('"', "")
        best = None
        for path in self.scripts:
            rel = self.rel(path)
            tail = rel.split("/", 1)[1] if "/" in rel else rel
            if word.endswith("/" + tail):
                return self.scripts[path]
            if word.endswith("/" + os.path.basename(path)) and best is None:
                best = path
        return self.scripts.get(best)

    def closure(self, script):
        """(uses, needs) of a test: all of its own code, the functions it calls (found first in the
        calling script, then anywhere), and the top level of each script it sources or runs, with the
        functions those call in turn."""
        uses, needs = [], set()
        done_functions, done_scripts = set(), {script.path}

        def take_function(name, caller):
            owner = caller if name in caller.functions else self.functions.get(name)
            if owner is None or (owner.path, name) in done_functions:
                return
            done_functions.add((owner.path, name))
            take(owner, lambda fn: fn == name)

        def take(s, part):
            for use in s.uses:
                if part(use.function):
                    uses.append((s, use))
                    if use.name in s.functions or use.name in self.functions:
                        take_function(use.name, s)
            for fn, words in s.needs:
                if part(fn):
                    needs.update(words)
            for fn, word in s.runs_scripts:
                target = self.script_named(word) if part(fn) else None
                if target is not None and target.path not in done_scripts:
                    done_scripts.add(target.path)
                    take(target, lambda f: f is None)

        take(script, lambda fn: True)
        return uses, needs

    def check_tests_need(self):
        count = 0
        for path in sorted(self.tests):
            script = self.scripts[path]
            uses, needs = self.closure(script)
            for name in needs:
                if name not in self.table:
                    self.problem(script, 1, name, "named on a needs line but not listed in scripts/packages.txt")
            reported = set()
            for owner, use in uses:
                name = self.kind(use.name, owner)
                if name in self.table and name not in needs and name not in reported:
                    reported.add(name)
                    where = "" if owner is script else f" (through {self.rel(owner.path)}:{use.line})"
                    self.problem(script, use.line if owner is script else 1, name,
                                 f"called{where} but not on the test's needs line (package {self.table[name]})")
            count += 1
        return count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--extra-test", action="append", default=[])
    args = parser.parse_args()
    checker = Checker(os.path.abspath(args.root), [os.path.abspath(p) for p in args.extra_test])
    failed = 0

    def report(ok, what):
        nonlocal failed
        print(("  ok   " if ok else "  FAIL ") + what)
        failed += 0 if ok else 1

    before = len(checker.problems)
    n = checker.check_every_command()
    report(len(checker.problems) == before,
           f"every command the {len(checker.scripts)} scripts call ({n}) is in the base image or installed "
           "by scripts/install-deps.sh")
    before = len(checker.problems)
    verified, unverified = checker.check_table()
    report(len(checker.problems) == before,
           f"scripts/packages.txt agrees with dpkg ({verified} commands checked"
           + (f", {unverified} whose package is not installed here" if unverified else "") + ")")
    before = len(checker.problems)
    n = checker.check_tests_need()
    report(len(checker.problems) == before,
           f"each of the {n} tests names on its needs line every listed command it calls")
    for p in checker.problems:
        print("    " + p)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

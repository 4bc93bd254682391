#!/usr/bin/env python3
"""Writes the man pages from the programs' own --help (so the options never drift from the binary) and the
hand-written sections in man/*.in.

    make-man.py BUILD_DIR OUT_DIR

BUILD_DIR holds pasta (passt, pesto and slirp4netns are links to it, made here if missing),
kata-passt-endpoint and podman-netplugin. OUT_DIR gets pasta.1, passt.1, pesto.1, pasta-slirp4netns.1,
kata-passt-endpoint.1 and podman-netplugin.1. A template's @OPTIONS@ (or @OPTIONS:pasta@ /
@OPTIONS:passt@ / @OPTIONS:common@ in pasta's) becomes the options of --help as .TP entries, @USAGE@ its
usage lines, @VERSION@ the first line of --version.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "..", "man")
# "-d, --debug   text", "    --trace   text", "--cidr=CIDR   text", "--index N    text".
OPTION = re.compile(r"^\s*((?:-\w, )?-{1,2}\w[\w-]*(?:, --[\w-]+)*(?:[ =]\S+)?)\s{2,}(\S.*)$")
# The option column alone, its text on the next lines: "-s, --socket, --socket-path PATH".
LONG_OPTION = re.compile(r"^\s*((?:-\w, )?-{1,2}\w[\w-]*(?:, --[\w-]+)*(?:[ =]\S+)?)\s*$")
BARE_OPTIONS = re.compile(r"^\s*(--[\w-]+(?:, --[\w-]+)+)\s*$")


def run(program, *args):
    result = subprocess.run([program, *args], capture_output=True, text=True, timeout=10)
    return result.stdout + result.stderr


def roff_text(text):
    """Escapes text for roff: backslashes and dashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def options_of(help_text):
    """(names, description) per option line of --help, continuation lines joined to the option before."""
    entries = []
    for line in help_text.splitlines():
        bare = BARE_OPTIONS.match(line) or LONG_OPTION.match(line)
        match = OPTION.match(line)
        if bare:
            entries.append([bare.group(1).strip(), ""])
        elif match and not line.lstrip().startswith("Usage"):
            entries.append([match.group(1).strip(), match.group(2).strip()])
        elif entries and line.startswith("   ") and line.strip() and not line.strip().startswith("-"):
            indent = len(line) - len(line.lstrip())
            if indent >= 20:
                entries[-1][1] = (entries[-1][1] + " " + line.strip()).strip()
                continue
            entries.append(None)
        else:
            entries.append(None)
    return [(names, text) for names, text in (e for e in entries if e)]


def option_names(names):
    """Every --long and -s name in an option's first column."""
    return re.findall(r"(?<![\w-])(--?[\w][\w-]*)", names)


def roff_options(entries):
    out = []
    for names, text in entries:
        out.append(".TP")
        out.append("\\fB" + roff_text(names) + "\\fR")
        # --help lists the --no-* switches together, without text.
        out.append(roff_text(text) if text else "Each turns off (\\-\\-no\\-...) or on what it names.")
    return "\n".join(out)


def usage_lines(help_text):
    """The lines of every "Usage:" block (a block goes on over lines indented under it)."""
    lines, in_block = [], False
    for line in help_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Usage:"):
            lines.append(stripped[len("Usage:"):].strip())
            in_block = True
        elif in_block and line.startswith("       ") and stripped and not stripped.startswith("-"):
            lines.append(stripped)
        else:
            in_block = False
    return "\n.br\n".join("\\fB" + roff_text(line) + "\\fR" for line in lines)


def fill(template_name, out_path, help_text, version, sections, program=""):
    with open(os.path.join(TEMPLATES, template_name)) as f:
        page = f.read()
    page = page.replace("@USAGE@", usage_lines(help_text)).replace("@VERSION@", roff_text(version))
    page = page.replace("@PROGRAM_UPPER@", program.upper()).replace("@PROGRAM@", program)
    for key, entries in sections.items():
        page = page.replace(key, roff_options(entries))
    with open(out_path, "w") as f:
        f.write(page)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = argv[1], argv[2]
    os.makedirs(out, exist_ok=True)
    pasta = os.path.join(build, "pasta")
    for name in ("passt", "pesto", "slirp4netns"):
        link = os.path.join(build, name)
        if not os.path.exists(link):
            os.symlink("pasta", link)
    version = run(pasta, "--version").splitlines()[0]
    pasta_help, passt_help = run(pasta, "--help"), run(os.path.join(build, "passt"), "--help")
    pasta_options, passt_options = options_of(pasta_help), options_of(passt_help)
    # Common: the same option with the same text in both modes' --help.
    sections = {
        "@OPTIONS:common@": [e for e in pasta_options if e in passt_options],
        "@OPTIONS:pasta@": [e for e in pasta_options if e not in passt_options],
        "@OPTIONS:passt@": [e for e in passt_options if e not in pasta_options],
    }
    # One page for both modes, as upstream ships it, under each name.
    for page in ("pasta", "passt"):
        fill("pasta.1.in", os.path.join(out, f"{page}.1"), pasta_help + "\n" + passt_help if page == "pasta"
             else passt_help + "\n" + pasta_help, version, sections, program=page)
    for program, template, page in (("pesto", "pesto.1.in", "pesto.1"),
                                    ("slirp4netns", "pasta-slirp4netns.1.in", "pasta-slirp4netns.1"),
                                    ("kata-passt-endpoint", "kata-passt-endpoint.1.in", "kata-passt-endpoint.1"),
                                    ("podman-netplugin", "podman-netplugin.1.in", "podman-netplugin.1")):
        help_text = run(os.path.join(build, program), "--help")
        fill(template, os.path.join(out, page), help_text, version, {"@OPTIONS@": options_of(help_text)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

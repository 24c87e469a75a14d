"""Print the README's quick-start commands, one per line, exactly as the README states them.

    python3 .ci/readme_commands.py [README.md]

They are the lines of the first ```bash block under the "## Quick start" heading.  .ci/run
runs what this prints, so CI and the README cannot drift apart (tests/test_quickstart.py
checks the block's shape).  Standard library only: it runs before any virtualenv exists.
"""
import pathlib
import re
import sys

HEADING = "## Quick start"


def quickstart_commands(readme: str) -> list:
    start = readme.find("\n" + HEADING + "\n")
    if start < 0:
        raise ValueError(f"README: no {HEADING!r} heading")
    section = readme[start + len(HEADING) + 2:]
    section = section.split("\n## ", 1)[0]
    block = re.search(r"^```bash\n(.*?)^```", section, re.S | re.M)
    if block is None:
        raise ValueError(f"README: no ```bash block under {HEADING!r}")
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


if __name__ == "__main__":
    path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent
                        / "README.md")
    print("\n".join(quickstart_commands(path.read_text())))

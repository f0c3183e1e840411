"""Print one of the README's commands exactly as written: the ```bash block after the line
``<!-- command: NAME -->`` (NAME: demo or tests)."""

import sys
from pathlib import Path

lines = (Path(__file__).resolve().parents[1] / "README.md").read_text().splitlines()
start = lines.index(f"<!-- command: {sys.argv[1]} -->")
assert lines[start + 1] == "```bash", f"the line after the {sys.argv[1]} marker must open a bash block"
end = lines.index("```", start + 2)
print("\n".join(lines[start + 2 : end]))

# nbconvert config used by scripts/run-notebooks.ts (jupyter nbconvert --config THIS_FILE).
# tslab reports a failed cell with an empty error reply and writes the real error to the cell's stderr, so
# nbconvert alone says only "<Error>: ". This hook prints that stderr before nbconvert raises.
import sys

def _print_failed_cell(cell, cell_index, execute_reply, **_):
    src = cell.get("source", "")
    print(f"\n=== notebook cell {cell_index} failed ===\n{src}\n--- its output ---", file=sys.stderr)
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            print(out.get("text", ""), end="", file=sys.stderr)
        elif out.get("output_type") == "error":
            print(f"{out.get('ename')}: {out.get('evalue')}", file=sys.stderr)
    print("=== end of failed cell ===", file=sys.stderr)

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.ExecutePreprocessor.on_cell_error = _print_failed_cell

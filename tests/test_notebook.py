"""The Colab TPU notebook: in step with its generator, and run top to bottom on CPU.

The run swaps the parameter cell's values (as papermill does, with a cell
after the one tagged "parameters") for a tiny random model, the embedded
data, one short epoch and `STRATEGY = "cpu"`; everything else runs as a
Colab user would run it, through a Jupyter kernel.
"""

import importlib.util
import os

import nbclient
import nbformat

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR = os.path.join(REPO_ROOT, "notebooks", "make_colab_tpu_finetune.py")
NOTEBOOK = os.path.join(REPO_ROOT, "notebooks", "colab_tpu_finetune.ipynb")

CI_PARAMETERS = """\
INSTALL = False
STRATEGY = "cpu"
CHECKPOINT = "random:bert_tiny"
TRAIN_DATA = "embedded"
TEXT_COLUMN = "text"
SEQ_LEN = 32
BATCH_SIZE = 16
EPOCHS = 1
PRECISION = "float32"
MAX_BATCHES = 4
OUTPUT_DIR = "run"
EXPORT_DIR = "export"
"""


def _generator():
    spec = importlib.util.spec_from_file_location("make_colab_tpu_finetune", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notebook_is_what_its_generator_writes():
    written = nbformat.read(NOTEBOOK, as_version=4)
    built = _generator().build_notebook()
    assert [(c.cell_type, c.source, c.metadata) for c in written.cells] == [
        (c.cell_type, c.source, c.metadata) for c in built.cells
    ]
    assert not any(c.get("outputs") for c in written.cells)  # committed without outputs


def _with_ci_parameters(notebook):
    (index,) = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    injected = nbformat.v4.new_code_cell(CI_PARAMETERS)
    injected.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(index + 1, injected)
    return notebook


def _printed(cell):
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def test_the_notebook_runs_on_cpu_with_the_ci_parameters(tmp_path):
    notebook = _with_ci_parameters(nbformat.read(NOTEBOOK, as_version=4))
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell's traceback, on any failure
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "OneDeviceStrategy with 1 replica(s)" in _printed(code[3])
    assert "labels: ['containers', 'files', 'network', 'text'] | batch shapes: (16, 32)" in _printed(code[5])
    assert "'accuracy': " in _printed(code[7])
    assert sorted(os.listdir(tmp_path / "export")) == ["1", "batching_parameters.txt", "models.config"]
    answers = _printed(code[9]).splitlines()
    assert len(answers) == 2 and answers[0].endswith("a gripping, beautifully acted film")
    assert answers[0].split()[0] in ("containers", "files", "network", "text")

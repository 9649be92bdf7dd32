"""The facts a timing means nothing without: machine, versions, BLAS, threads, TF32."""

import importlib.util
import os
import platform

import numpy as np
import torch


def gpu_missing():
    """Why GPU implementations cannot run here, or None."""
    if not torch.cuda.is_available():
        return "no CUDA device visible to torch"
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed (pip install -e '.[gpu]'), so scratch cannot run on the GPU"
    return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_blas():
    """NumPy's BLAS, its version and threads (threadpoolctl), or what NumPy's build says without
    it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        name, version = blas.get("name", "unknown"), blas.get("version", "")
        return f"{name} {version} (threads not pinned: threadpoolctl missing)"
    return ", ".join(
        f"{i['internal_api']} {i.get('version') or ''} ({i['num_threads']} threads)".replace(
            "  ", " "
        )
        for i in threadpool_info()
        if i["user_api"] == "blas"
    )


def numpy_threads():
    """The threads NumPy's BLAS runs with now (threadpoolctl), or None where it cannot be known."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return max(counts) if counts else None


def describe(threads, tf32=None):
    env = {
        "cpu": cpu_model(),
        "threads": threads,
        "torch_threads": torch.get_num_threads(),  # what each library got, not what was asked
        "numpy_threads": numpy_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "numpy_blas": numpy_blas(),
        "torch_blas": "MKL"
        if torch.backends.mkl.is_available()
        else "other (see torch.__config__.show())",
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "gpu": None,
    }
    if tf32 is not None and torch.cuda.is_available():
        import cupy

        env["gpu"] = torch.cuda.get_device_name()
        env["cuda"] = torch.version.cuda
        env["cupy"] = cupy.__version__
        env["tf32"] = bool(tf32)
    return env


def output_folder(path, flag="--out"):
    """`path` as a folder this process can write into (made if missing), checked before any work
    starts, so that a long run is never lost to a bad --out at its end; SystemExit in words
    otherwise."""
    import sys
    import tempfile
    from pathlib import Path

    path = Path(path)
    if path.exists() and not path.is_dir():
        sys.exit(f"{flag} must be a folder, and {str(path)!r} is a file: pass a folder's path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        sys.exit(f"{flag} {str(path)!r} cannot be written to: {error.strerror or error}")
    return path

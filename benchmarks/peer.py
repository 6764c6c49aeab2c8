"""The peer: Compox 3.2.0 in its own virtual environment (``benchmarks/.peer/``), built once.

One pip call installs Compox with the S3 libraries pinned together (moto's server, aiobotocore and
s3fs, or pip breaks the botocore pin) and scipy for the denoiser; the project's constraints keep
torch on the CPU wheel should anything pull it. The environment is rebuilt only when this list
changes. ``start_compox`` serves it through ``compox_launcher.py`` on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.processes import ChildServer, free_port

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
PEER_DIR = BENCHMARKS / ".peer"
REQUIREMENTS = ["compox==3.2.0", "moto[server]", "aiobotocore", "s3fs", "scipy"]


def peer_python() -> Path:
    return PEER_DIR / "bin" / "python"


def ensure_peer() -> Path:
    """The peer's interpreter; creates the environment on first use (about a minute)."""
    marker = PEER_DIR / ".installed"
    wanted = " ".join(REQUIREMENTS)
    if marker.exists() and marker.read_text() == wanted and peer_python().exists():
        return peer_python()
    print(f"benchmarks: building the peer environment in {PEER_DIR} ({wanted})", flush=True)
    if not peer_python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_DIR)], check=True)
    subprocess.run([str(peer_python()), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
                    *REQUIREMENTS], check=True)
    marker.write_text(wanted)
    return peer_python()


def start_compox(store: str, work_dir: Path, s3_endpoint: str, log_dir: Path) -> ChildServer:
    """Compox on a free loopback port; ``store`` is ``memory`` or ``s3``."""
    port = free_port()
    compox_dir = work_dir / f"compox-{store}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPOX_", "PYTHON"))}
    env |= {"COMPOX_DISABLE_CLI": "1", "AWS_DEFAULT_REGION": "us-east-1"}
    argv = [str(ensure_peer()), str(BENCHMARKS / "compox_launcher.py"), "--port", str(port),
            "--workdir", str(compox_dir), "--s3-endpoint", s3_endpoint, "--store", store,
            "--collection-prefix", f"compox-{store}-"]
    return ChildServer(f"compox-{store}", argv, port=port, env=env, log_dir=log_dir, ready_path="/",
                       ready_timeout_s=120)

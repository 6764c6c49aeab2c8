"""Packages import their own top-level modules in isolation, side by side, without sys.path edits;
``compox.algorithm_utils`` resolves to compox_ray's runner API unless a real compox is installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from compox_ray.algorithms.loader import AlgorithmLoadError, load_algorithm_from_folder
from compox_ray.runners import LocalRunContext
from tests.factories.packages import make_algorithm_package

# A runner whose output comes from its package's own helper modules, imported in three styles.
HELPER_RUNNER = '''
import numpy as np
import utils.scaling
from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner
from image_helpers.offsets import OFFSET
from utils import FACTOR


class Runner(Image2ImageRunner):
    def inference(self, data, args=None):
        return (utils.scaling.scale(data, FACTOR) + OFFSET).astype(np.float32)
'''


def helper_package(tmp_path, name: str, version: str, factor: int, offset: int):
    return make_algorithm_package(tmp_path, name=name, version=version, runner=HELPER_RUNNER, files={
        "utils/__init__.py": f"FACTOR = {factor}\n",
        "utils/scaling.py": "def scale(data, factor):\n    return data * factor\n",
        "image_helpers/offsets.py": f"OFFSET = {offset}\n",  # a namespace package: no __init__.py
    })


def run_once(algorithm, tmp_path) -> float:
    with LocalRunContext(tmp_path / algorithm.algorithm_name / algorithm.minor) as context:
        output_ids = algorithm.execute(context, context.add_volume(np.ones((1, 2, 2), np.float32)))
        return float(context.read_volume(output_ids)[0, 0, 0])


def test_two_packages_with_their_own_utils_and_two_versions_load_side_by_side(tmp_path):
    path_before, utils_before = list(sys.path), sys.modules.get("utils")
    loaded = [load_algorithm_from_folder(helper_package(tmp_path, "first", "1.0.0", factor=2, offset=0)),
              load_algorithm_from_folder(helper_package(tmp_path, "second", "1.0.0", factor=3, offset=100)),
              load_algorithm_from_folder(helper_package(tmp_path, "first", "1.1.0", factor=5, offset=10))]
    try:
        assert [run_once(algorithm, tmp_path) for algorithm in loaded] == [2.0, 103.0, 15.0]
        assert sys.path == path_before and sys.modules.get("utils") is utils_before
        namespaces = {algorithm.runner.__class__.__module__.split(".")[0] for algorithm in loaded}
        assert len(namespaces) == 3
    finally:
        for algorithm in loaded:
            algorithm.close()
    assert not [name for name in sys.modules if name.split(".")[0] in namespaces]


def test_the_same_content_loaded_twice_shares_its_modules_until_both_close(tmp_path):
    root = helper_package(tmp_path, "shared", "1.0.0", factor=2, offset=0)
    first, second = load_algorithm_from_folder(root), load_algorithm_from_folder(root)
    namespace = first.runner.__class__.__module__.split(".")[0]
    assert type(first.runner) is type(second.runner) and first.runner is not second.runner
    first.close()
    assert run_once(second, tmp_path) == 2.0
    second.close()
    assert namespace not in sys.modules


def test_compox_runner_api_resolves_to_compox_ray():
    from compox_ray.algorithms.compox_alias import install_compox_alias
    from compox_ray.runners import Image2ImageRunner, ImageSchema

    install_compox_alias()
    from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner as Aliased
    from compox.algorithm_utils.io_schemas import ImageSchema as AliasedSchema
    import compox.algorithm_utils.BaseRunner as base_module

    assert Aliased is Image2ImageRunner and AliasedSchema is ImageSchema
    assert base_module.BaseRunner.__module__ == "compox_ray.runners.base_runner"
    with pytest.raises(ImportError):
        import compox.algorithm_utils.NoSuchRunner  # noqa: F401


@pytest.mark.parametrize("runner, message", [
    ("raise RuntimeError('broken at import')\n", "RuntimeError: broken at import"),
    ("import not_installed_anywhere\n", "No module named 'not_installed_anywhere'"),
    ("class Runner:\n    pass\n", "does not derive from compox_ray's BaseRunner"),
    ("x = 1\n", "no class named Runner"),
])
def test_loading_a_broken_runner_says_why(tmp_path, runner, message):
    with pytest.raises(AlgorithmLoadError, match=message):
        load_algorithm_from_folder(make_algorithm_package(tmp_path, runner=runner))


def test_an_installed_compox_is_not_shadowed(tmp_path):
    """In a fresh interpreter with a (stand-in) real compox on its path: packages get that one."""
    fake = tmp_path / "site" / "compox" / "algorithm_utils"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("REAL = True\n")
    (fake / "__init__.py").write_text("")
    (fake / "Image2ImageRunner.py").write_text("class Image2ImageRunner:\n    origin = 'installed compox'\n")
    package = make_algorithm_package(tmp_path)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path / 'site')!r})
        from compox_ray.algorithms.loader import AlgorithmLoadError, load_algorithm_from_folder
        try:
            load_algorithm_from_folder({str(package)!r})
        except AlgorithmLoadError as error:
            assert "real compox is installed" in str(error), error
        import compox, compox.algorithm_utils.Image2ImageRunner as module
        assert compox.REAL and module.Image2ImageRunner.origin == "installed compox"
        try:
            import compox.algorithm_utils.io_schemas  # the alias must not fill gaps of a real compox
        except ImportError:
            print("not shadowed")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "not shadowed"

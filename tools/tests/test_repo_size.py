"""The checkout stays small enough to copy whole to a build or GPU machine: every tracked
file together at most 48 MiB, no single file above 12 MiB. Training states, corpora and
full checkpoints belong outside git (a compact state of the candidate being trained is
the one exception, and it counts)."""

import subprocess
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOTAL_LIMIT = 48 << 20
FILE_LIMIT = 12 << 20


def tracked_sizes():
    """{path: bytes} of the files git tracks in this checkout, or None outside a git
    checkout (a source tarball)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    sizes = {}
    for name in out.decode().split("\0"):
        path = ROOT / name
        if name and path.is_file():
            sizes[name] = path.stat().st_size
    return sizes


class RepoSizeTest(unittest.TestCase):
    def test_tracked_files_fit(self):
        sizes = tracked_sizes()
        if sizes is None:
            self.skipTest("not a git checkout")
        self.assertGreater(len(sizes), 100)  # really listed the repository
        big = {k: v for k, v in sizes.items() if v > FILE_LIMIT}
        self.assertEqual(big, {}, "files above 12 MiB")
        total = sum(sizes.values())
        largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
        self.assertLessEqual(total, TOTAL_LIMIT,
                             f"tracked files {total / 2**20:.1f} MiB; largest: {largest}")


if __name__ == "__main__":
    unittest.main()

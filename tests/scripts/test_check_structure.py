#!/usr/bin/env python3
"""scripts/check-structure.py finds what it is there to find: an include cycle between
modules, a layer including one above it, a header of arch/ outside arch/, a .c file over
600 lines; and it passes a tree with none, such as tide's own."""
import os
import subprocess
import sys
import tempfile
import unittest

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(SOURCE_ROOT, "scripts", "check-structure.py")


def check(files):
    """Runs the checker over a tree made of files ({path: text}); returns (status, output)."""
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        run = subprocess.run([sys.executable, SCRIPT, "--root", root],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return run.returncode, run.stdout


class CheckStructure(unittest.TestCase):
    def test_a_clean_tree_passes(self):
        status, out = check({"util/a.h": "", "mm/b.c": '#include "util/a.h"\n',
                             "devices/c.c": '#include "mm/b.h"\n',
                             "vmm/d.c": '#include "arch/arch.h"\n#include "devices/c.h"\n'})
        self.assertEqual((status, out.strip()), (0, "check-structure: 0 problem(s)"))

    def test_tides_tree_passes(self):
        run = subprocess.run([sys.executable, SCRIPT], stdout=subprocess.PIPE, text=True)
        self.assertEqual(run.returncode, 0, run.stdout)

    def test_a_cycle_between_modules_is_found(self):
        # vmm/a.c calls vmm/b, whose .c calls back into vmm/a: a cycle of modules.
        status, out = check({"vmm/a.c": '#include "vmm/b.h"\n', "vmm/a.h": "",
                             "vmm/b.c": '#include "vmm/a.h"\n', "vmm/b.h": ""})
        self.assertEqual(status, 1)
        self.assertIn("include cycle: vmm/a -> vmm/b", out)

    def test_a_layer_including_one_above_it_is_found(self):
        status, out = check({"mm/a.c": '#include "vmm/config.h"\n',
                             "devices/b.c": '#include "arch/arch.h"\n'})
        self.assertEqual(status, 1)
        self.assertIn("mm/a.c: includes vmm/config.h (mm/ may not include vmm/)", out)
        self.assertIn("devices/b.c: includes arch/arch.h (devices/ may not include arch/)", out)

    def test_only_arch_h_outside_arch(self):
        status, out = check({"vmm/a.c": '#include "arch/x86/layout.h"\n',
                             "arch/x86/b.c": '#include "arch/x86/layout.h"\n'})
        self.assertEqual(status, 1)
        self.assertIn("vmm/a.c: includes arch/x86/layout.h (outside arch/, only arch/arch.h)",
                      out)
        self.assertNotIn("arch/x86/b.c", out)

    def test_a_long_file_is_found(self):
        status, out = check({"devices/long.c": "int x;\n" * 601, "devices/ok.c": "int y;\n" * 600})
        self.assertEqual(status, 1)
        self.assertIn("devices/long.c: 601 lines (at most 600)", out)
        self.assertNotIn("ok.c", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""The expman kernel against jupyter_kernel_test, the Jupyter project's
conformance suite: each message type a front end uses (kernel_info,
execute with stdout/stderr/results/displays/errors, complete, is_complete,
inspect, history) round-trips and every message validates against the
messaging spec's schemas. One kernel for the class, started by name from
the kernelspec conftest.py installed, in a scratch working directory.

Every sample the suite can use is given; the test it would skip for lack
of a sample says why below (clear_output). The IOPub welcome suite (JEP 65)
runs too, against the same kernelspec (end of this file)."""

import shutil
import tempfile
import unittest

import jupyter_kernel_test as jkt
from jupyter_client.manager import start_new_kernel
from jupyter_kernel_test.msgspec_v5 import validate_message

# `%expman help status`, exactly: clap renders it the same on every machine
# (no terminal width, no environment variable in it).
HELP_STATUS = """\
Background runs of this kernel and their state

Usage: %expman status

Options:
  -h, --help
          Print help
"""


class TestExpmanKernel(jkt.KernelTests):
    kernel_name = "expman"
    language_name = "expman"
    file_extension = ".yaml"

    @classmethod
    def setUpClass(cls):
        # As KernelTests.setUpClass, but not in the repository: `!` cells
        # run in the kernel's working directory.
        cls._cwd = tempfile.mkdtemp(prefix="expman-conformance-")
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name, cwd=cls._cwd)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls._cwd, ignore_errors=True)

    # Shell lines stream their output as it comes.
    code_hello_world = "!echo hello, world"
    code_stderr = "!echo hello, stderr >&2"

    completion_samples = [
        {"text": "%exp", "matches": {"%expman"}},
        {"text": "%expman ru", "matches": {"run", "runs"}},
        {"text": "%expman help sta", "matches": {"status"}},
        {"text": "%expman runs --li", "matches": {"--limit"}},
        {"text": "%expman runs --format ", "matches": {"table", "csv", "json", "parquet"}},
        {"text": "%expman plot loss --by ", "matches": {"trial", "run"}},
        # Config keys in a run cell's YAML body (the language server's completion).
        {"text": "%%expman run\n- name: a\n  sett", "matches": {"settings: "}},
    ]

    complete_code_samples = [
        "%expman runs",
        "%expman runs --limit 3\n%expman status",
        "!echo hello",
        "%%expman run --dir quickstart\n- name: a\n",
        "%expman runs?",
        "# a comment\n",
    ]
    incomplete_code_samples = [
        # An open `[` in a run cell's YAML body: Enter continues the cell.
        "%%expman run\n- {name: a, settings: {seed: [1,",
        "%%expman run --dir quickstart\n- name: 'small",
        # A quote not closed on a magic line.
        "%expman runs \"status = 'x",
        # A run cell needs a body (or --dir), an SQL cell its query.
        "%%expman run\n",
        "%%expman sql\n",
    ]
    invalid_code_samples = [
        "%expman frobnicate",
        "hello",
        "- name: a",
        "%matplotlib inline",
    ]

    # A usage error: one `error` output, an error reply.
    code_generate_error = "%expman frobnicate"

    code_execute_result = [
        {"code": "%expman help status", "result": HELP_STATUS},
    ]

    # `%expman hw --watch 0` shows the machine as a display (it would update
    # in place while watching); tables are HTML with a text fallback.
    code_display_data = [
        {"code": "%expman hw --watch 0", "mime": "text/html"},
        {"code": "%expman hw --watch 0", "mime": "text/plain"},
    ]

    # Matches the first code of code_execute_result.
    code_history_pattern = "%expman help*"
    supported_history_operations = ("tail", "range", "search")

    def history_helper(self, execute_first, timeout=5, **histargs):
        # The suite waits 15 s for a history reply; 5 s is plenty for one
        # the kernel answers at once, and keeps a missing reply cheap.
        return super().history_helper(execute_first, timeout=timeout, **histargs)

    code_inspect_sample = "%expman runs"

    # `?` help goes to the pager: a `page` payload in the execute_reply, as
    # IPython's `?` does (`%expman help runs` stays the cell's result).
    code_page_something = "%expman runs?"

    # code_clear_output is left unset: no magic clears its output; the live
    # table is updated in place with update_display_data instead.
    def test_clear_output(self):
        raise unittest.SkipTest("no expman magic sends clear_output (live tables use update_display_data)")

    # --- beyond the suite: what a front end reads in kernel_info and inspect ---

    def test_kernel_info_describes_expman(self):
        self.flush_channels()
        msg_id = self.kc.kernel_info()
        reply = self.kc.get_shell_msg(timeout=jkt.TIMEOUT)
        validate_message(reply, "kernel_info_reply", msg_id)
        content = reply["content"]
        self.assertEqual(content["status"], "ok")
        self.assertEqual(content["protocol_version"], "5.3")
        self.assertEqual(content["implementation"], "expman")
        info = content["language_info"]
        # Cells are YAML under magics: front ends highlight them as YAML.
        self.assertEqual(info["mimetype"], "text/x-yaml")
        self.assertEqual(info["pygments_lexer"], "yaml")
        self.assertEqual(info["codemirror_mode"], "yaml")
        self.assertIn("%expman help", content["banner"])
        self.assertTrue(all({"text", "url"} <= set(link) for link in content["help_links"]), content["help_links"])

    def test_kernel_info_on_the_control_channel(self):
        self.flush_channels()
        msg = self.kc.session.msg("kernel_info_request", {})
        self.kc.control_channel.send(msg)
        reply = self.kc.get_control_msg(timeout=jkt.TIMEOUT)
        validate_message(reply, "kernel_info_reply", msg["header"]["msg_id"])
        self.assertEqual(reply["content"]["language_info"]["name"], "expman")

    def test_inspect_a_flag(self):
        self.flush_channels()
        code = "%expman runs --limit 3"
        msg_id = self.kc.inspect(code, cursor_pos=len("%expman runs --li"))
        reply = self.kc.get_shell_msg(timeout=jkt.TIMEOUT)
        validate_message(reply, "inspect_reply", msg_id)
        self.assertTrue(reply["content"]["found"])
        self.assertEqual(reply["content"]["data"]["text/plain"], "--limit: Most rows")

    def test_inspect_outside_a_magic_finds_nothing(self):
        self.flush_channels()
        msg_id = self.kc.inspect("- name: a", cursor_pos=3)
        reply = self.kc.get_shell_msg(timeout=jkt.TIMEOUT)
        validate_message(reply, "inspect_reply", msg_id)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertFalse(reply["content"]["found"])


class TestExpmanIopubWelcome(jkt.IopubWelcomeTests):
    """JEP 65: IOPub is an XPUB socket and every new subscriber is greeted
    with `iopub_welcome` (content `{"subscription": ""}`) before anything
    else, so a client knows from when on it misses no output."""

    kernel_name = "expman"
    support_iopub_welcome = True

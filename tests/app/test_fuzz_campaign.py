"""The fuzzing campaign's own harness (``make fuzz``): what it can hand to a subprocess."""

from tests.fuzz_campaign import _fits_an_argv


def test_a_case_the_kernel_would_refuse_is_not_run_as_a_subprocess():
    # Linux: one argument of 32 pages or more is refused with E2BIG before python starts (MAX_ARG_STRLEN).
    assert _fits_an_argv(["compile", "m.nir", "--chip=cores=4"])
    assert not _fits_an_argv(["compile", "--chip=" + "9" * (32 * 4096)])
    assert _fits_an_argv(["compile", "--chip=" + "9" * 1000])
    assert not _fits_an_argv(["compile", "a\x00b"])

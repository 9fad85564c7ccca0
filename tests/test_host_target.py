"""The host target has only what this machine executes (a VM may mask features of its CPU model)."""

from __future__ import annotations

import pytest
from tvm.target import Target

from tvm_heron import cpuinfo
from tvm_heron.errors import UnsupportedTargetError
from tvm_heron.target import (AARCH64_FEATURES, HOST_CPU_VARIABLE, X86_FEATURES, has_feature,
                              host_target, instruction_set, missing_host_features,
                              require_runs_here)

#: The flags a Zen 4 guest shows when its hypervisor hides AVX-512 (seen on this
#: project's machines: LLVM calls it znver4, and AVX-512 code dies there).
ZEN4_WITHOUT_AVX512 = ("fpu sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx "
                       "f16c rdrand bmi1 avx2 bmi2 sha_ni vaes vpclmulqdq")


def _cpuinfo(tmp_path, key: str, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Made-up CPU\n{key}\t\t: {flags}\n\n"
                    f"processor\t: 1\n{key}\t\t: other\n")
    return path


@pytest.mark.skipif(not cpuinfo.cpu_flags(), reason="the OS lists no CPU flags here")
def test_the_host_target_has_no_feature_the_os_does_not_list():
    host = host_target(1)
    names = AARCH64_FEATURES if "asimd" in cpuinfo.cpu_flags() else X86_FEATURES
    claimed = [f for f in names if has_feature(host, f)]
    assert claimed, "the host target has none of the features that decide where code runs"
    assert cpuinfo.lacking(claimed) == []


def test_a_zen4_guest_without_avx512_is_an_avx2_target(tmp_path, monkeypatch):
    monkeypatch.setattr(cpuinfo, "CPUINFO", _cpuinfo(tmp_path, "flags", ZEN4_WITHOUT_AVX512))
    monkeypatch.setenv(HOST_CPU_VARIABLE, "znver4")
    host = host_target(2)
    assert str(host.attrs["mcpu"]) == "znver4"
    assert not has_feature(host, "avx512f") and not has_feature(host, "avx512vnni")
    assert has_feature(host, "avx2") and has_feature(host, "fma")
    assert instruction_set(host).name == "avx2"
    # Code for the CPU model itself is built, never run, here.
    assert "avx512f" in missing_host_features(Target({"kind": "llvm", "mcpu": "znver4"}))
    with pytest.raises(UnsupportedTargetError, match="avx512f"):
        require_runs_here(Target({"kind": "llvm", "mcpu": "znver4", "num-cores": 2}))


def test_a_cpu_with_every_feature_listed_keeps_its_llvm_name_alone(tmp_path, monkeypatch):
    flags = ZEN4_WITHOUT_AVX512 + " avx512f avx512bw avx512vl avx512dq avx512cd avx512_vnni avx512_bf16"
    monkeypatch.setattr(cpuinfo, "CPUINFO", _cpuinfo(tmp_path, "flags", flags))
    monkeypatch.setenv(HOST_CPU_VARIABLE, "znver4")
    host = host_target(2)
    assert "mattr" not in host.attrs
    assert instruction_set(host).name == "avx512_vnni"


def test_without_a_flag_list_llvm_s_view_stands(tmp_path, monkeypatch):
    monkeypatch.setattr(cpuinfo, "CPUINFO", tmp_path / "absent")
    monkeypatch.setenv(HOST_CPU_VARIABLE, "cascadelake")
    host = host_target(2)
    assert "mattr" not in host.attrs and has_feature(host, "avx512vnni")


def test_aarch64_features_are_read_from_their_own_line(tmp_path):
    path = _cpuinfo(tmp_path, "Features", "fp asimd evtstrm aes crc32 asimdhp")
    assert cpuinfo.lacking(["neon", "fullfp16", "dotprod", "i8mm"], path) == ["dotprod", "i8mm"]
    assert cpuinfo.cpu_model(path) == "Made-up CPU"


def test_info_names_what_it_turned_off(tmp_path, monkeypatch, capsys):
    from tvm_heron.cli import main

    monkeypatch.setattr(cpuinfo, "CPUINFO", _cpuinfo(tmp_path, "flags", ZEN4_WITHOUT_AVX512))
    monkeypatch.setenv(HOST_CPU_VARIABLE, "znver4")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "CPU: znver4 (Made-up CPU)" in out and "instruction set: avx2" in out
    assert "turned off (mattr): avx512f avx512bw" in out

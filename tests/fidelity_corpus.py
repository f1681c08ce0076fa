"""A generated corpus of Job2 documents: every field of GPULab's NewJobV4 in legal and illegal forms.

Each case is a full job with one change (a value, a key renamed, a key dropped) or a few cross-field
edits. Cases carry no expected verdict: tests and ``bench/fidelity.py`` label them with GPULab's own
model (``imecilabt-gpulab-common``, the test-only oracle) and compare validate and the emulator to it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+myproj"
UUID = "123e4567-e89b-12d3-a456-426614174000"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop"

BASE: dict[str, Any] = {
    "name": "train-resnet",
    "description": "seed 1",
    "owner": {"projectUrn": PROJECT_URN},
    "request": {
        "resources": {"cpus": 4, "gpus": 1, "cpuMemoryGb": 16, "gpuMemoryGb": 16, "gpuModel": ["V100"],
                      "minCudaVersion": 11, "clusterId": 7, "features": ["SHARED_PROJECT_STORAGE"]},
        "docker": {
            "image": "gitlab.ilabt.imec.be:4567/myproj/img:1.0",
            "command": ["/project/run.sh", "--seed", "1"],
            "environment": {"PYTHONUNBUFFERED": "1", "SEED": 1, "DEBUG": False},
            "storage": [{"hostPath": "/project_ghent", "containerPath": "/project"}, "/project_scratch",
                        {"hostPath": "tmpfs", "containerPath": "/ramdisk", "sizeGb": 4}],
            "portMappings": [8888, {"containerPort": 6006}],
            "projectGidVariableName": "NB_GID", "workingDir": "/project/", "user": "root", "groupAdd": ["users"],
        },
        "scheduling": {"restartable": True, "allowHaltWithoutSignal": False, "minDuration": "1 day",
                       "maxDuration": "3 days", "reservationIds": [UUID],
                       "maxSimultaneousJobs": {"bucketName": "sweep1", "bucketMax": 3}},
        "extra": {"sshPubKeys": [SSH_KEY], "emailOnEnd": ["me@example.com"], "emailOnHalt": ["me@example.com"]},
    },
}

Edit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Case:
    id: str
    job: dict[str, Any]


R, D, S, X = "request.resources", "request.docker", "request.scheduling", "request.extra"
_MISSING = object()


def _parent(job: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *parents, last = path.split(".")
    target = job
    for key in parents:
        target = target.setdefault(key, {})
    return target, last


def put(path: str, value: Any) -> Edit:
    def edit(job: dict[str, Any]) -> None:
        target, last = _parent(job, path)
        target[last] = copy.deepcopy(value)
    return edit


def drop(path: str) -> Edit:
    def edit(job: dict[str, Any]) -> None:
        target, last = _parent(job, path)
        target.pop(last, None)
    return edit


def rename(path: str, new_key: str) -> Edit:
    def edit(job: dict[str, Any]) -> None:
        target, last = _parent(job, path)
        target[new_key] = target.pop(last)
    return edit


def both(*edits: Edit) -> Edit:
    def edit(job: dict[str, Any]) -> None:
        for one in edits:
            one(job)
    return edit


# --- values by kind ---------------------------------------------------------------------------------
COMMON = [None, "", [], {}, True]
INTS = [0, 1, 2, -1, "4", " 4 ", "4.0", "4.5", "4.", 4.0, 4.5, True, False, "1_000", "0x10", "1e3", "four", [4],
        2 ** 40, "+4", "-0", math.inf, "4\n", "\t4", "0004.000", "4_0_0", "1__0", "\u0661", " ", "+", "4.0.0", "9" * 5000]
BOOLS = [True, False, "yes", "no", "on", "off", "true", "True", "TRUE", "1", "0", "y", "n", "t", "f", " true", "maybe",
         1, 0, 2, 1.0, 0.5, None, "", [True], "YES", "oN", "OFF", "T", "1.0", -0.0, 1.0000001]
DURATIONS = ["3 days", "3 days\n", "3 days\n\n", " 3 days", "3 days ", "3  days", "3DAYS", "1.5 hours", "1. h", ".5 h",
             ".", "1.2.3 h", "2d", "1w", "1 month", "3600", "0 s", "59 s", "60 s", "59.9 s", "1 min", "1 Min",
             "2 weeks", "1 sec", "1 secs", "1 mins", "1 hour", "90s", 3, None, "", "1_0 min", "-1 min", "1e3 s",
             "3\tdays", "1 minute", "1 m", "1 hr", "1 d", "1 year", "1 HOURS", "1.0 min", "1 h\r", "1 h\n ", "1 \n h",
             "h", "10 Secs", "61 s", "0.999 min", "1.0000001 min", "0.1 s", "0 weeks", "1."]
TIMES = ["2026-01-10T08:00:00Z", "2026-01-10t08:00:00z", "2026-01-10 08:00:00Z", "2026-01-10_08:00:00Z",
         "2026-01-10T08:00Z", "2026-01-10T08Z", "2026-01-10T08:00:00+0200", "2026-01-10T08:00:00+02",
         "2026-01-10T08:00:00+02:00", "2026-01-10T08:00:00.123456789Z", "2026-01-10T08:00:00,5Z",
         "2026-01-10T08:00:00.5Z", "2026-01-10T23:59:60Z", "2026-01-10T24:00:00Z", "2026-01-10",
         "2026-01-10T08:00:00", "1767000000", "1767000000.5", 1767000000, 1767000000.5, 1767000000000, True,
         "2026-1-10T08:00:00Z", "2026-01-10T08:00:00Z\n", "26-01-10T08:00:00Z", "2026-01-10T08:00:00 Z",
         "2026-01-10T08:00:00-00:00", "2026-02-30T08:00:00Z", "2026-13-12T08:00:00Z", "0", 0, "now",
         "2026-01-10T08:00:00.Z", "2026-01-10T08:00:00+24:00", "2026-01-10T08:00:00+23:59", "20260110T080000Z",
         None, "", "2028-02-29T00:00:00Z", "2027-02-29T00:00:00Z", "1767000000.", "+1767000000", "1.5e9", "1e9",
         "1.e3", ".5e1", "-1", "inf", "1_000", "1767000000000", 1e20, " 1767000000", "2026-01-10T08:00:00+00",
         "2026-01-10T08:00:00.1234567Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2026-01-10T08:00:00+2359",
         "2026-01-10T8:00:00Z", "2026-01-10T08:60:00Z", "2026-01-10 08:00Z", "2026-01-10T08:00:00ZZ", 20000000001]
EMAILS = ["me@example.com", "Me@Example.COM", "John Doe <me@example.com>", '"John" <me@example.com>',
          " me@example.com ", "me@example.com\n", "me.example.com", "me@example", "me@localhost", "me@b.test",
          "me@b.invalid", "me@b.example", "me@b.local", "me@[1.2.3.4]", "me@b_c.com", "a..b@c.com", ".a@b.com",
          "a.@b.com", "a@.b.com", "a@b..com", '"a b"@c.com', "é@ü.com", "me@xn--nxasmq6b.com", "me@-b.com",
          "me@b-.com", "a+tag@example.com", "a@b.c", "a@sub.example.co.uk", "@example.com", "me@", "me@@b.com",
          "a" * 65 + "@example.com", "me@" + "a" * 64 + ".com", "me@exa mple.com", "me@example.com.", 5, None,
          "<me@example.com>", "me@example.onion", "me@123.com", "me@b.c0m", "ü@ü.com", "a@b.123", "a b <a@b.com>",
          "a@b.com>", "a@b,c.com", "a@b.com,c@d.com", "a@b.arpa", "a@b.home.arpa", "a@b.internal", "a@b.localhost",
          "a@example.com\x00", "a\u200b@b.com", "x" * 64 + "@b.com", "a@" + ("b" * 60 + ".") * 5 + "com"]
IMAGES = ["debian", "debian:stable", "ubuntu:22.04", "PyTorch/PyTorch:latest", "debian@sha256:" + "ab" * 32,
          "debian:" + "x" * 127, "debian:" + "x" * 128, "registry.example.com:5000/team/img:v2",
          "me:s3cret@registry.example.com:5000/team/img:v2", "me:s3 cret@registry/img", "debian\n", " debian",
          "debian:", "reg:abc/img", "a/b/c/d:e", "gitlab.ilabt.imec.be:4567/x/y", "img:tag:tag", "", "a b",
          "debian:st@ble", "_/debian", "debian/", "localhost/img", "reg.io/UPPER/img", "img:ÜBER", 5, "a:b:c@reg/img",
          "a@reg/img", "user:p@ss@reg/img", "reg:٣/img", "img:-", "ü/img", "Reg.io:5000/img:TAG", "img//x", "/img",
          "-img", "img:tag@sha256:" + "a" * 64, "reg:0/img", "reg:/img", "127.0.0.1:5000/img", "[::1]:5000/img",
          "img:1.0\n", "img\t"]
URNS = [PROJECT_URN, "urn:publicid:IDN+ilabt.imec.be:sub+project+p", "myproj", "urn:publicid:IDN+a+user+b",
        "urn:publicid:IDN+a+project+b\n", "xx urn:publicid:IDN+a+project+b", "URN:PUBLICID:IDN+a+project+b",
        "urn:publicid:IDN+a+project+", "urn:publicid:IDN++project+b", "urn:publicid:IDN+a:b:c+project+d",
        "urn:publicid:IDN+a+project+b+c", "", None, 5]
SSH_KEYS = [[SSH_KEY], ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 jdoe@cert"], ["ecdsa-sha2-nistp256 AAAAE2VjZHNh x"],
            ["ssh-ed25519"], ["ssh-ed25519 "], ["  ssh-ed25519 AAAA  "], ["ssh-ed25519\tAAAA"], ["ssh-ed25519  AAAA"],
            ["ssh-rsa-cert-v01@openssh.com AAAA"], ["ssh-ed25519-cert-v01@openssh.com AAAA"],
            ["ssh-ed25519-cert-v01@openssh.com, AAAA"], ["SSH-RSA AAAA"], [""], SSH_KEY, None, [5],
            ["ssh-ed25519 AAAA\n"], ["ssh-dss AAAA"], ["\nssh-ed25519 A"], ["ssh-ed25519\u00a0A"], ["ssh-ed25519 \t"]]
STORAGE = [["/data"], [""], ["tmpfs"], [".ssh"], ["PROJECT_SHARE_AUTO"], ["relative/dir"], [5], [None],
           [{"hostPath": None}], [{"containerPath": None}], [{"hostPath": None, "containerPath": "/c"}],
           [{"hostPath": ""}], [{"containerPath": ""}], [{}], [{"hostPath": ".ssh"}], [{"containerPath": "/root/.ssh"}],
           [{"containerPath": "/root/.ssh/"}], [{"hostPath": "/a", "containerPath": "/b"}], [{"hostPath": "/a/"}],
           [{"hostPath": "/a", "sizeGb": 2}], [{"hostPath": "tmpfs", "containerPath": "/r", "sizeGb": 1}],
           [{"hostPath": "tmpfs", "containerPath": "/r"}], [{"hostPath": "tmpfs", "sizeGb": 1}],
           [{"hostPath": "tmpfs", "containerPath": "/r", "sizeGb": 0}],
           [{"hostPath": "tmpfs", "containerPath": "/r", "sizeGb": "2"}],
           [{"hostPath": "tmpfs", "containerPath": "", "sizeGb": 1}],
           [{"hostPath": "tmpfs", "containerPath": None, "sizeGb": 1}],
           [{"hostPath": "TMPFS", "containerPath": "/r"}], [{"hostPath": "tmpfs", "containerPath": "/r", "size_gb": 1}],
           [{"host_path": "/a"}], [{"host_path": "tmpfs", "container_path": "/r"}],
           [{"hostPath": "/a", "host_path": "/b"}], [{"hostpath": "/a"}], [{"HostPath": "/a"}],
           [{"hostPath": 5}], [{"hostPath": "/a", "readOnly": True}], "/data", None, [{"hostPath": "tmpfs"}],
           ["./a"], ["~/a"], ["/a b/"], ["/a\n"], ["/root/.ssh"], ["PROJECT_SHARE_AUTO/"], [{"containerPath": "a"}],
           [{"containerPath": "PROJECT_SHARE_AUTO"}], [{"hostPath": "PROJECT_SHARE_AUTO", "containerPath": "/p"}]]
PORTS = [[8888], [8888.0], [0], [-1], [65535], [65536], [70000], [True], ["8888"], [{"containerPort": 80}],
         [{"containerPort": "80"}], [{"containerPort": 80.0}], [{"containerPort": 80.5}], [{"hostPort": 1}],
         [{"containerPort": 80, "hostPort": None}], [{"containerPort": 80, "hostPort": 70000}],
         [{"containerPort": 80, "hostIp": "0.0.0.0"}], [{"containerPort": 80, "hostIp": 5}],
         [{"containerPort": 80, "host_port": 8080}], [{"container_port": 80}], [{"containerPort": 80, "extra": 1}],
         [{"containerPort": None}], None, [None], 8888, [[80]], [{"containerPort": True}]]
ENVIRONMENTS = [{"A": 1.0}, {"A": 1.5}, {"A": None}, {"A": True}, {"A": [1]}, {"A": {}}, {"1A": "x"}, {"A-B": "x"},
                {"A\n": "x"}, {"_": "x"}, {"é": "x"}, {"A": "1.0"}, {"A": 10 ** 20}, {"A": -1}, {"": "x"}, None, [],
                "A=1", {"a_b9": "x"}, {"A": "multi\nline"}, {"A": 0.0}]
WORD_LISTS = [["V100"], "V100", ["V"], [""], [5], None, [], "V", [None], ["V100", "A100"], ["V100\n"], 5]
GROUPS = [["users"], "users", None, [], ["my group"], ["users\n"], 5, [5], ["ü"], ["a-b"], [""], [None]]
RESERVATIONS = [[UUID], [UUID.upper()], ["{" + UUID + "}"], [UUID.replace("-", "")], [UUID + "\n"], UUID, None, [],
                ["x"], 5, [5], ["urn:uuid:" + UUID], [UUID, UUID], [None]]
BUCKETS = [{"bucketName": "b", "bucketMax": 1}, {"bucketName": "b", "bucketMax": 0}, {"bucketName": "b", "bucketMax": "2"},
           {"bucketName": "my bucket", "bucketMax": 1}, {"bucketName": "a@b.c-d_e", "bucketMax": 1},
           {"bucketName": "-a", "bucketMax": 1}, {"bucketName": "b\n", "bucketMax": 1}, {"bucketName": "", "bucketMax": 1},
           {"bucketName": "b"}, {"bucketMax": 1}, {"bucket_name": "b", "bucket_max": 1}, {"bucketName": 5, "bucketMax": 1},
           {"bucketName": "b", "bucketMax": 1.0}, {"bucketName": "b", "bucketMax": 1, "x": 1}, None, "b", {}]
COMMANDS = ["echo hi", ["echo", "hi"], [], "", ["sleep", 10], None, 5, [""], [None], {"cmd": "x"}]
WORKDIRS = ["/project/", "/project", "project/", "/", "//", "/a/b/", "/a//b/", "/a\n/", "/a/\n", None, "", 5]
USERS = ["root", "my-user", "user1", "ü", "root\n", "", None, 5, "a b"]
GID_NAMES = ["NB_GID", "NB-GID", "1X", "_x", "NB_GID\n", "", None, 5]
NAMES = ["x", "", "train-resnet", "a\nb", "a\tb", "bell\x07", "esc\x1b[31m", "nul\x00", "x\n", "é", " ", "a" * 300,
         5, None, True, ["x"]]
TEXTS = ["x", "", None, 5, "multi\nline"]


def cases() -> list[Case]:
    """Every case, with a unique id; the base job first."""
    return list(_unique(_generate()))


def _unique(generated: Iterator[tuple[str, Edit]]) -> Iterator[Case]:
    seen: set[str] = set()
    for case_id, edit in generated:
        if case_id in seen:
            continue
        seen.add(case_id)
        job = copy.deepcopy(BASE)
        edit(job)
        yield Case(case_id, job)


def _values(path: str, values: list[Any]) -> Iterator[tuple[str, Edit]]:
    for value in values:
        yield f"{path}={value!r}"[:160], put(path, value)


def _generate() -> Iterator[tuple[str, Edit]]:
    yield "base job", lambda job: None
    yield from _values("name", NAMES)
    yield from _values("description", TEXTS)
    yield from _values("deploymentEnvironment", ["production", None, 5, "staging"])
    yield from _values("owner.projectUrn", URNS)
    yield from _values("owner", [None, {}, "x"])
    yield from _values("owner.userUrn", ["urn:publicid:IDN+a+user+b", None, 5])
    yield from _values("owner.userEmail", ["a@b.be", None, "not an e-mail", 5])
    yield from _values("owner.userDetails", [{"firstName": "A"}, None, 5])
    yield from _values("state", [None, {}, {"status": "QUEUED"}])
    yield from _values("restartInfo", [None, {"initialJobUuid": UUID, "restartCount": 0}, {"restartCount": -1}])
    yield from _values("uuid", [UUID])
    yield from _values("labels", [{"team": "a"}])
    yield from _values("extra", [{"emailOnEnd": ["me@example.com"]}])
    yield "drop name", drop("name")
    yield "drop request", drop("request")
    yield "drop owner", drop("owner")
    yield "drop description", drop("description")
    yield from _values("request", [None, {}, "x"])
    yield from _values("request.scheduling", [None, {}])
    yield from _values("request.extra", [None, {}])
    yield "drop scheduling", drop(S)
    yield "drop extra", drop(X)
    yield "drop resources", drop(R)
    yield "drop docker", drop(D)
    for key in ("cpus", "gpus", "cpuMemoryGb", "gpuMemoryGb", "minCudaVersion", "clusterId"):
        yield from _values(f"{R}.{key}", INTS + COMMON[:2])
        yield f"drop {key}", drop(f"{R}.{key}")
    for key in ("features", "gpuModel"):
        yield from _values(f"{R}.{key}", WORD_LISTS)
    for key in ("slaveName", "slaveInstanceId"):
        yield from _values(f"{R}.{key}", [*TEXTS, "node\n"])
    yield from _values(f"{D}.image", IMAGES)
    yield "drop image", drop(f"{D}.image")
    yield from _values(f"{D}.command", COMMANDS)
    yield from _values(f"{D}.environment", ENVIRONMENTS)
    yield from _values(f"{D}.storage", STORAGE)
    yield from _values(f"{D}.portMappings", PORTS)
    yield from _values(f"{D}.workingDir", WORKDIRS)
    yield from _values(f"{D}.user", USERS)
    yield from _values(f"{D}.groupAdd", GROUPS)
    yield from _values(f"{D}.projectGidVariableName", GID_NAMES)
    for key in ("interactive", "restartable", "allowHaltWithoutSignal"):
        yield from _values(f"{S}.{key}", BOOLS)
    for key in ("minDuration", "maxDuration"):
        yield from _values(f"{S}.{key}", DURATIONS)
    for key in ("notBefore", "notAfter"):
        yield from _values(f"{S}.{key}", TIMES)
    yield from _values(f"{S}.reservationIds", RESERVATIONS)
    yield from _values(f"{S}.maxSimultaneousJobs", BUCKETS)
    yield from _values(f"{X}.emailOnEnd", [[email] for email in EMAILS] + ["me@example.com", None, []])
    for key in ("emailOnQueue", "emailOnRun", "emailOnHalt", "emailOnRestart"):
        yield from _values(f"{X}.{key}", [["me@example.com"], ["x"], "me@example.com"])
    yield from _values(f"{X}.sshPubKeys", SSH_KEYS)
    yield from _values(f"{X}.emailOnFailure", [["me@example.com"]])
    yield from _keys()
    yield from _cross_field()


def _keys() -> Iterator[tuple[str, Edit]]:
    """Snake_case names, old names, case variants and unknown keys."""
    renames = [(f"{R}.cpuMemoryGb", "cpu_memory_gb"), (f"{R}.cpuMemoryGb", "cpuMemoryGB"),
               (f"{R}.cpuMemoryGb", "cpumemorygb"), (f"{R}.cpuMemoryGb", "CpuMemoryGb"), (f"{R}.gpuModel", "gpu_model"),
               (f"{R}.minCudaVersion", "min_cuda_version"), (f"{R}.clusterId", "cluster_id"), (f"{R}.cpus", "CPUs"),
               (f"{R}.cpus", "cpu"), (f"{D}.portMappings", "port_mappings"), (f"{D}.workingDir", "working_dir"),
               (f"{D}.workingDir", "workdir"), (f"{D}.projectGidVariableName", "project_gid_variable_name"),
               (f"{D}.groupAdd", "group_add"), (f"{D}.environment", "Environment"), (f"{D}.environment", "env"),
               (f"{S}.minDuration", "killableAfter"), (f"{S}.minDuration", "min_duration"),
               (f"{S}.minDuration", "killable_after"), (f"{S}.maxDuration", "max_duration"),
               (f"{S}.maxDuration", "maxduration"), (f"{S}.reservationIds", "reservationId"),
               (f"{S}.reservationIds", "reservation_ids"), (f"{S}.reservationIds", "reservation_id"),
               (f"{S}.allowHaltWithoutSignal", "allow_halt_without_signal"),
               (f"{S}.maxSimultaneousJobs", "max_simultaneous_jobs"), (f"{X}.sshPubKeys", "ssh_pub_keys"),
               (f"{X}.emailOnEnd", "email_on_end"), (f"{X}.emailOnEnd", "emailonend"), ("owner.projectUrn", "project_urn"),
               ("owner.projectUrn", "projectURN"), ("description", "Description"), ("request", "Request"),
               (f"{R}.gpuMemoryGb", "gpu_memory_gb"), (f"{R}.gpuMemoryGb", "gpuMemoryGB")]
    for path, new in renames:
        yield f"rename {path} -> {new}", rename(path, new)
    yield "both cpuMemoryGb and cpu_memory_gb", put(f"{R}.cpu_memory_gb", 8)
    yield "both minDuration and killableAfter", put(f"{S}.killableAfter", "2 hours")
    yield "both reservationIds and reservationId", put(f"{S}.reservationId", UUID)
    yield "deploymentEnvironment as snake_case", put("deployment_environment", "production")
    yield "restartInfo as snake_case", put("restart_info", None)
    for section in (R, D, S, X, "request", "owner"):
        yield f"unknown key in {section}", put(f"{section}.unknownKey", 1)


def _cross_field() -> Iterator[tuple[str, Edit]]:
    window = {"notBefore": "2026-01-10T08:00:00Z", "notAfter": "2026-01-12T08:00:00Z"}
    yield "time window", both(*(put(f"{S}.{k}", v) for k, v in window.items()))
    yield "notAfter before notBefore", both(put(f"{S}.notBefore", "2026-01-12T08:00:00Z"),
                                            put(f"{S}.notAfter", "2026-01-10T08:00:00Z"))
    yield "notAfter equal to notBefore", both(*(put(f"{S}.{k}", "2026-01-10T08:00:00Z") for k in window))
    yield "notAfter before notBefore by offset", both(put(f"{S}.notBefore", "2026-01-10T08:00:00Z"),
                                                      put(f"{S}.notAfter", "2026-01-10T09:00:00+02:00"))
    yield "notAfter before notBefore as Unix", both(put(f"{S}.notBefore", 1767000000), put(f"{S}.notAfter", 1766000000))
    for interactive in (True, "yes", "true", 1, False, "no"):
        for key, moment in window.items():
            yield f"interactive={interactive!r} with {key}", both(put(f"{S}.interactive", interactive),
                                                                  put(f"{S}.{key}", moment))
    yield "interactive with notBefore null", both(put(f"{S}.interactive", True), put(f"{S}.notBefore", None))
    yield "interactive=maybe with notBefore", both(put(f"{S}.interactive", "maybe"), put(f"{S}.notBefore", window["notBefore"]))
    yield "minDuration longer than maxDuration", both(put(f"{S}.minDuration", "1 week"), put(f"{S}.maxDuration", "1 day"))
    yield "minDuration 0 s, maxDuration null", both(put(f"{S}.minDuration", "0 s"), put(f"{S}.maxDuration", None))
    yield "gpus 0 and no gpuMemoryGb", both(put(f"{R}.gpus", 0), drop(f"{R}.gpuMemoryGb"))
    yield "minimal job", lambda job: job.update(name="hello", request={
        "resources": {"cpus": 1, "gpus": 0, "cpuMemoryGb": 2}, "docker": {"image": "debian:stable"}})
    yield "storage all shorthands", put(f"{D}.storage", [".ssh", "PROJECT_SHARE_AUTO", "/data", {"containerPath": "/c"}])
    yield "official CLI body", lambda job: job["request"].update(
        scheduling={"interactive": False, "restartable": False, "allowHaltWithoutSignal": False, "reservationIds": []},
        extra={"sshPubKeys": [], "emailOnQueue": [], "emailOnRun": [], "emailOnEnd": [], "emailOnHalt": [],
               "emailOnRestart": []})


# --- verdicts ----------------------------------------------------------------------------------------


def oracle_verdict(job: Any, *, owner_required: bool = False) -> bool:
    """GPULab's verdict: its official model (``NewJobV4CLI``, or ``NewJobV4`` as the v4.0 server) accepts ``job``.

    Any exception counts as a refusal: GPULab's own validators can fail with a KeyError (``interactive``
    that is not a boolean, beside ``notBefore``), which its server answers with an error too.
    """
    from imecilabt.gpulab.schemas.job2 import NewJobV4, NewJobV4CLI

    try:
        (NewJobV4 if owner_required else NewJobV4CLI).model_validate(job)
    except Exception:  # noqa: BLE001 - see above
        return False
    return True


def postable(case: Case) -> bool:
    """Whether the case can be sent as JSON at all (YAML has .inf; JSON does not)."""
    import json

    try:
        json.dumps(case.job, allow_nan=False)
    except ValueError:
        return False
    return True


def validate_verdict(job: Any) -> bool:
    """gpulab-apply validate's verdict on one job document: no error (warnings are fine)."""
    from gpulab_apply.jobmodel.rules import judge

    return not judge(job).errors


@dataclass(frozen=True)
class Agreement:
    cases: int
    false_accepts: list[str]
    false_rejects: list[str]

    @property
    def percent(self) -> float:
        return 100 * (self.cases - len(self.false_accepts) - len(self.false_rejects)) / self.cases


def agreement(verdict: Callable[[Case], bool], *, owner_required: bool = False,
              corpus: list[Case] | None = None) -> Agreement:
    corpus = corpus if corpus is not None else cases()
    accepts, rejects = [], []
    for case in corpus:
        expected, got = oracle_verdict(case.job, owner_required=owner_required), verdict(case)
        if got and not expected:
            accepts.append(case.id)
        elif expected and not got:
            rejects.append(case.id)
    return Agreement(len(corpus), accepts, rejects)

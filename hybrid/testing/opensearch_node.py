"""A real single-node OpenSearch 2.19.1 with the k-NN and neural-search plugins, assembled
from Maven Central artifacts (no Docker), for tests and benchmarks.

    python -m hybrid.testing.opensearch_node assemble [--cache DIR]   # once; cached
    python -m hybrid.testing.opensearch_node start [--port N]        # prints URL and folder
    python -m hybrid.testing.opensearch_node stop FOLDER

`assemble` unpacks the minimal distribution (`integ-test-zip`), adds the modules
lang-painless and analysis-common from their jars (with a plugin descriptor and security
policy written here, as their zips are not published), and installs the opensearch-knn and
neural-search plugin zips with `opensearch-plugin install --batch`. The k-NN zip on Maven
has no native libraries: only the Lucene engine works on this node.

A node runs on 127.0.0.1 on free HTTP and transport ports, with its config, data and logs
in a new temporary folder, and a 512 MiB heap. OpenSearch refuses to run as root: as root
it runs as the system user `opensearch` (created with useradd if missing) via runuser.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from hybrid.errors import HybridError
from hybrid.testing.servers import REPO, free_port

VERSION = "2.19.1"
PLUGIN_VERSION = "2.19.1.0"
DEFAULT_CACHE = REPO / ".cache"
NODE_USER = "opensearch"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
DISTRIBUTION = f"org.opensearch.distribution.integ-test-zip:opensearch:{VERSION}:zip"
PLUGINS = (f"org.opensearch.plugin:opensearch-knn:{PLUGIN_VERSION}:zip",
           f"org.opensearch.plugin:neural-search:{PLUGIN_VERSION}:zip")
# module (artifact org.opensearch.plugin:<artifact>) -> (artifact, main class, extended
# plugins, security policy): the policies are the modules' own (plugin-metadata/)
MODULES = {
    "lang-painless": ("lang-painless", "org.opensearch.painless.PainlessPlugin", "", """
grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
"""),
    "analysis-common": ("analysis-common", "org.opensearch.analysis.common.CommonAnalysisPlugin",
                        "lang-painless", ""),
    # _reindex, _update_by_query, _delete_by_query
    "reindex": ("reindex-client", "org.opensearch.index.reindex.ReindexPlugin", "", """
grant {
  permission java.net.SocketPermission "*", "connect";
};
grant codeBase "${codebase.opensearch-rest-client}" {
  permission java.net.NetPermission "getProxySelector";
};
grant codeBase "${codebase.httpasyncclient}" {
  permission java.net.NetPermission "getProxySelector";
};
"""),
}
JVM_OPTIONS = """-Xms{heap}
-Xmx{heap}
-XX:+UseG1GC
-Djava.io.tmpdir={dir}/tmp
-XX:ErrorFile={dir}/logs/hs_err_pid%p.log
-Xlog:gc*:file={dir}/logs/gc.log:utctime,pid,tags:filecount=2,filesize=16m
-Djava.security.manager=allow
-Djava.util.concurrent.ForkJoinPool.common.threadFactory=\
org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory
"""


class NodeError(HybridError):
    """The node could not be assembled or did not start; the message says which step."""


def home_dir(cache: Path = DEFAULT_CACHE) -> Path:
    """The assembled node's home: `<cache>/opensearch-2.19.1`."""
    return cache / f"opensearch-{VERSION}"


def java_home() -> Path:
    """JAVA_HOME, or the JDK of the `java` on PATH. Raises NodeError if there is none."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if java is None:
        raise NodeError("no Java found: install a JDK 17 (make test does: apt-get install "
                        "openjdk-17-jdk-headless maven) or set JAVA_HOME")
    return Path(java).resolve().parents[1]


def _run(cmd: list[str], step: str, **kwargs: object) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise NodeError(f"{step} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                        + "\n".join(tail))


def _mvn(args: list[str], m2: Path, step: str, cwd: Path | None = None) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise NodeError("Maven (mvn) is not installed (make test installs it: "
                        "apt-get install maven)")
    _run([mvn, "-q", "-B", f"-Dmaven.repo.local={m2}", *args], step, cwd=cwd)


def _fetch(artifact: str, out: Path, m2: Path) -> Path:
    """Download one artifact (groupId:artifactId:version:type) into `out`."""
    _mvn([f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={out}"],
         m2, f"download of {artifact}")
    _, name, version, kind = artifact.split(":")
    return out / f"{name}-{version}.{kind}"


def _module(home: Path, name: str, m2: Path, work: Path) -> None:
    """Put a module's jar and its runtime dependencies (from its POM) under
    modules/<name>/ with a descriptor and its security policy. Jars that lib/ already has
    (OpenSearch core and its libraries) are left out: a second copy fails the jar-hell
    check at start."""
    artifact, classname, extends, policy = MODULES[name]
    target = home / "modules" / name
    pom = work / f"{name}.pom.xml"
    pom.write_text(f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.hybrid</groupId><artifactId>module-{name}</artifactId><version>0</version>
  <dependencies><dependency>
    <groupId>org.opensearch.plugin</groupId><artifactId>{artifact}</artifactId>
    <version>{VERSION}</version>
  </dependency></dependencies>
</project>
""")
    _mvn(["-f", str(pom), f"{DEPENDENCY_PLUGIN}:copy-dependencies", "-DincludeScope=runtime",
          f"-DoutputDirectory={target}"], m2, f"module {name} (jar and dependencies)")
    in_lib = {jar.name for jar in (home / "lib").glob("*.jar")}
    for jar in target.glob("*.jar"):
        if jar.name in in_lib:
            jar.unlink()
    (target / "plugin-descriptor.properties").write_text(
        f"description=OpenSearch module {name}\nversion={VERSION}\nname={name}\n"
        f"classname={classname}\njava.version=11\nopensearch.version={VERSION}\n"
        f"custom.foldername=\nextended.plugins={extends}\nhas.native.controller=false\n")
    if policy:
        (target / "plugin-security.policy").write_text(policy.lstrip())


def _recipe() -> str:
    """What an assembled home is made of; a home made otherwise is assembled again."""
    return json.dumps({"distribution": DISTRIBUTION, "plugins": list(PLUGINS),
                       "modules": MODULES}, indent=1) + "\n"


def assemble(cache: Path = DEFAULT_CACHE) -> Path:
    """Download (once, Maven's repository under `<cache>/m2`) and assemble the node into
    `<cache>/opensearch-2.19.1`; returns that home. Idempotent: a home assembled by the
    same recipe is kept.
    Raises NodeError naming the artifact or step that failed."""
    home, recipe = home_dir(cache), _recipe()
    stamp = home / ".assembled"
    if stamp.exists() and stamp.read_text() == recipe:
        return home
    cache.mkdir(parents=True, exist_ok=True)
    m2 = cache / "m2"  # Maven's repository: the downloads, kept for a re-assembly
    work = Path(tempfile.mkdtemp(prefix=".assemble-", dir=cache))
    downloads = work / "downloads"
    try:
        with zipfile.ZipFile(_fetch(DISTRIBUTION, downloads, m2)) as zf:
            zf.extractall(work)
        staged = work / f"opensearch-{VERSION}"
        for script in (staged / "bin").iterdir():
            script.chmod(0o755)
        for name in MODULES:
            _module(staged, name, m2, work)
        env = {**os.environ, "JAVA_HOME": str(java_home())}
        for artifact in PLUGINS:
            plugin_zip = _fetch(artifact, downloads, m2)
            _run([str(staged / "bin" / "opensearch-plugin"), "install", "--batch",
                  plugin_zip.resolve().as_uri()], f"opensearch-plugin install {artifact}",
                 env=env)
        (staged / ".assembled").write_text(recipe)
        shutil.rmtree(home, ignore_errors=True)
        staged.rename(home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return home


def _node_user() -> str | None:
    """None when not root; else the system user the node runs as, created if missing."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(NODE_USER)
    except KeyError:
        _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
              NODE_USER], f"useradd {NODE_USER}")
    return NODE_USER


def _readable_by(user: str, path: Path) -> bool:
    return subprocess.run(["runuser", "-u", user, "--", "test", "-r", str(path)],
                          capture_output=True).returncode == 0


class OpenSearchNode:
    """One node on 127.0.0.1, its config/data/logs in a new temporary folder.

    `start()` waits (up to `timeout` seconds) for cluster health yellow; `url` is then
    http://127.0.0.1:<port>. `stop()` ends it (SIGTERM, then SIGKILL) and removes the folder
    unless `keep`. Raises NodeError if the node is not assembled or does not come up."""

    def __init__(self, home: Path | None = None, port: int | None = None,
                 heap: str = "512m", keep: bool = False) -> None:
        self.home = home or home_dir()
        if not (self.home / ".assembled").exists():
            raise NodeError(f"no assembled node at {self.home}: run "
                            "`python -m hybrid.testing.opensearch_node assemble` (make test does)")
        self.port, self.heap, self.keep = port or free_port(), heap, keep
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def _configure(self, user: str | None) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="hybrid-opensearch-"))
        for sub in ("config", "data", "logs", "tmp"):
            (folder / sub).mkdir()
        shutil.copy(self.home / "config" / "log4j2.properties", folder / "config")
        (folder / "config" / "jvm.options").write_text(
            JVM_OPTIONS.format(heap=self.heap, dir=folder))
        (folder / "config" / "opensearch.yml").write_text(
            f"cluster.name: hybrid-test\nnode.name: hybrid-test-node\n"
            f"discovery.type: single-node\nnetwork.host: 127.0.0.1\n"
            f"http.port: {self.port}\ntransport.port: {free_port()}\n"
            f"path.data: {folder / 'data'}\npath.logs: {folder / 'logs'}\n"
            # a nearly full shared disk must not turn test indices read-only
            "cluster.routing.allocation.disk.threshold_enabled: false\n")
        if user:
            shutil.chown(folder, user)
            for path in folder.rglob("*"):
                shutil.chown(path, user)
        return folder

    def start(self, timeout: float = 180) -> str:
        """Start the node and wait for it; returns its URL."""
        user = _node_user()
        home = self.home
        self.dir = self._configure(user)
        if user and not _readable_by(user, home / "lib"):
            # e.g. a checkout under /root (mode 700): run from a copy the user can read
            home = self.dir / "home"
            shutil.copytree(self.home, home, symlinks=True)
            subprocess.run(["chown", "-R", user, str(home)], check=True)
        env = {**os.environ, "JAVA_HOME": str(java_home()),
               "OPENSEARCH_PATH_CONF": str(self.dir / "config"),
               "OPENSEARCH_TMPDIR": str(self.dir / "tmp")}
        cmd = [str(home / "bin" / "opensearch"), "-p", str(self.dir / "pid")]
        if user:
            cmd = ["runuser", "-u", user, "--", "env",
                   *(f"{k}={env[k]}" for k in ("JAVA_HOME", "OPENSEARCH_PATH_CONF",
                                                "OPENSEARCH_TMPDIR")), *cmd]
        with open(self.dir / "stdout.log", "wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        (self.dir / "group").write_text(f"{self.proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NodeError(f"OpenSearch exited with {self.proc.returncode}:\n"
                                + self.log_tail())
            if self.healthy():
                return self.url
            time.sleep(0.5)
        self.stop()
        raise NodeError(f"OpenSearch did not reach yellow within {timeout:.0f} s")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                    f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s",
                    timeout=3) as resp:
                return json.load(resp).get("status") in ("yellow", "green")
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        log = self.dir / "stdout.log" if self.dir else None
        if log is None or not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def stop_folder(folder: Path, timeout: float = 30) -> None:
    """Stop a node started by `start` (detached) from its folder, and remove the folder."""
    pid = int((folder / "group").read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.killpg(pid, 0)
            time.sleep(0.2)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hybrid.testing.opensearch_node",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("assemble", "start"):
        p = sub.add_parser(name)
        p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    sub.choices["start"].add_argument("--port", type=int)
    sub.choices["start"].add_argument("--heap", default="512m")
    sub.add_parser("stop").add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "assemble":
            started = time.monotonic()
            home = assemble(args.cache)
            print(f"{home} ({time.monotonic() - started:.0f} s)")
        elif args.command == "start":
            node = OpenSearchNode(home_dir(args.cache), args.port, args.heap, keep=True)
            started = time.monotonic()
            node.start()
            print(f"{node.url}\n{node.dir}\n(yellow after {time.monotonic() - started:.0f} s)")
        else:
            stop_folder(args.folder)
    except NodeError as exc:
        print(f"hybrid: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
